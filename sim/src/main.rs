//! The `sicha` executable: the server's commands (`sicha::cli`) and the simulator's (`demo`, `call`,
//! `bench`) under one name, so that the binary that serves production calls is the one `sicha bench`
//! measures.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sicha::config::Settings;

/// mimalloc rather than the system allocator: every 20 ms frame and message of every call is a
/// few small allocations freed on whichever worker thread finishes with them, and glibc's malloc
/// cost the server a sixth more CPU on a 1000-call bench. Built without transparent huge pages
/// (`no_thp`): where the kernel grants them on request, mimalloc's arenas grew the resident set in
/// 2 MiB steps, about 4 MB for the first call and 290 kB a call at 1000 against 210 without, for
/// no CPU it could measure.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "sicha",
    version,
    about = "A real-time Hebrew phone voice agent for Twilio"
)]
struct Cli {
    /// Optional flat TOML file of settings (environment variables override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Server(sicha::cli::Command),
    #[command(flatten)]
    Sim(sicha_sim::cli::Command),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Server(command) => sicha::cli::run(command, settings).await,
            Command::Sim(command) => sicha_sim::cli::run(command).await,
        }
    })
}
