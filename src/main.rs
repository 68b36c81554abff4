fn main() -> anyhow::Result<()> {
    sicha::cli::main()
}
