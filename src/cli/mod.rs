//! The `sicha` command line: `serve`, `migrate`, `business …`, `customer …`, `calls …`, `demo`, `call`,
//! `bench`.
//! Everything here is thin: parse, load settings, call into the library, print.

pub mod admin;
pub mod bench;
pub mod business;
pub mod call;
pub mod calls;
pub mod customers;
pub mod demo;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "sicha",
    version,
    about = "A real-time Hebrew phone voice agent for Twilio"
)]
pub struct Cli {
    /// Optional flat TOML file of settings (environment variables override it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: Twilio webhooks, Media Streams, health and metrics.
    Serve(ServeArgs),
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Manage businesses (one per Twilio number).
    #[command(subcommand)]
    Business(business::BusinessCommand),
    /// Name callers (shown on the web pages) and list them.
    #[command(subcommand)]
    Customer(customers::CustomerCommand),
    /// Inspect calls: list them, or show one with its events and transcript.
    #[command(subcommand)]
    Calls(calls::CallsCommand),
    /// One whole simulated call, end to end, on this machine: no credentials, no network.
    Demo(demo::DemoArgs),
    /// Play a fixture as a Twilio caller against a running sicha and show the call from the caller's side.
    Call(call::CallArgs),
    /// Whole-call latency, per-stage times and capacity: N simulated calls, C at a time, with report and plots.
    Bench(bench::BenchArgs),
    /// Web page administration: make the password hash for SICHA_ADMIN_PASSWORD_HASH.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Development only: accept Twilio requests without a valid signature when no TWILIO_AUTH_TOKEN is set.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Who answers callers: `ai` (Whisper → LLM → Hebrew TTS), `echo` (plays each utterance back: a line
    /// check that needs no AI provider) or `silent`.
    #[arg(long, value_enum, default_value = "ai")]
    pub agent: crate::call::session::AgentMode,
    /// Write every inbound Media Streams socket to DIR as JSON lines with arrival times, for
    /// `sicha call --replay` (same as SICHA_RECORD_STREAMS_DIR).
    #[arg(long, value_name = "DIR")]
    pub record_streams: Option<PathBuf>,
}

pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli.command, settings))
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let mut settings = settings;
            if let Some(dir) = &args.record_streams {
                settings.record_streams_dir = Some(dir.clone());
            }
            crate::telemetry::init(&settings)?;
            crate::startup::serve(settings, args).await
        }
        Command::Migrate => {
            let store = open_store(&settings).await?;
            println!("database at {} is migrated", store.display_url());
            Ok(())
        }
        Command::Business(cmd) => {
            business::run(cmd, &open_store(&settings).await?, &mut std::io::stdout()).await
        }
        Command::Customer(cmd) => {
            customers::run(cmd, &open_store(&settings).await?, &mut std::io::stdout()).await
        }
        Command::Calls(cmd) => {
            calls::run(cmd, &open_store(&settings).await?, &mut std::io::stdout()).await
        }
        Command::Demo(args) => demo::run(args, &mut std::io::stdout()).await,
        Command::Call(args) => call::run(args, &mut std::io::stdout()).await,
        Command::Bench(args) => bench::run(args, &mut std::io::stdout()).await,
        Command::Admin(cmd) => admin::run(cmd, &mut std::io::stdout()),
    }
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Store::connect(&settings.database_url)
        .await
        .with_context(|| "opening the database (SICHA_DATABASE_URL)".to_string())
}
