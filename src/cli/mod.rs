//! The server's commands: `serve`, `migrate`, `business …`, `customer …`, `calls …`, `callbacks …`,
//! `admin …`.
//! Everything here is thin: parse, load settings, call into the library, print.
//! Layout: this file ([`Command`], `serve` and `migrate`), then one file per command group:
//! [`business`] (including [`business::add_business`], which the demo's business is made with too),
//! [`customers`], [`calls`], [`callbacks`], [`admin`].
//!
//! There is no binary in this package: the `sicha` executable is built by the simulator's crate
//! (`sim/`), which flattens [`Command`] next to its own `demo`, `call` and `bench`, loads the
//! [`Settings`] (`--config FILE`, then the environment) and hands each server command to [`run`].

pub mod admin;
pub mod business;
pub mod callbacks;
pub mod calls;
pub mod customers;

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Settings;
use crate::store::Store;

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
    /// Promised call-backs: which are still to be made, when, and how their attempts went.
    #[command(subcommand)]
    Callbacks(callbacks::CallbacksCommand),
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

/// Runs one server command to its end, printing to standard output.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
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
        Command::Callbacks(cmd) => {
            callbacks::run(cmd, &open_store(&settings).await?, &mut std::io::stdout()).await
        }
        Command::Admin(cmd) => admin::run(cmd, &mut std::io::stdout()),
    }
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Store::connect(&settings.database_url)
        .await
        .with_context(|| "opening the database (SICHA_DATABASE_URL)".to_string())
}
