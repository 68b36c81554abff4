/// mimalloc rather than the system allocator: every 20 ms frame and message of every call is a
/// few small allocations freed on whichever worker thread finishes with them, and glibc's malloc
/// cost the server a sixth more CPU on a 1000-call bench.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    sicha::cli::main()
}
