//! The simulator's commands: `demo`, `call` and `bench`. The `sicha` binary offers them next to the
//! server's own commands (`sicha::cli`), with the same `--config` and settings.

pub mod bench;
pub mod call;
pub mod demo;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One whole simulated call, end to end, on this machine: no credentials, no network.
    Demo(demo::DemoArgs),
    /// Play a fixture as a Twilio caller against a running sicha and show the call from the caller's side.
    Call(call::CallArgs),
    /// Whole-call latency, per-stage times and capacity: N simulated calls, C at a time, with report and plots.
    Bench(bench::BenchArgs),
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    let out = &mut std::io::stdout();
    match command {
        Command::Demo(args) => demo::run(args, out).await,
        Command::Call(args) => call::run(args, out).await,
        Command::Bench(args) => bench::run(args, out).await,
    }
}
