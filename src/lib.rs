//! sicha: a real-time Hebrew phone voice agent for Twilio Media Streams.
//!
//! Layout (the path of one call, top to bottom):
//! - [`cli`]       the `sicha` commands (serve, migrate, business, calls).
//! - [`config`]    typed settings from the environment and an optional TOML file; secrets redacted.
//! - [`startup`]   builds the app (store, calls a crash left open ended, phrase warm-up, registry, router,
//!   listeners on any port) and runs it until shutdown.
//! - [`telemetry`] tracing subscriber and the Prometheus recorder.
//! - [`http`]      axum routes: Twilio voice/status webhooks, the Media Streams upgrade, health, metrics.
//! - [`web`]       the business's pages (Hebrew, right-to-left) behind a sign-in: customers, calls with
//!   transcript, events, recording and latency, businesses.
//! - [`twilio`]    the Twilio edge only: signatures, TwiML, stream tokens, Media Streams messages and the
//!   socket loop, the REST client.
//! - [`call`]      live calls: the registry by CallSid and the per-call session task.
//! - [`providers`] speech-to-text, the streamed chat model and text-to-speech clients (OpenAI-compatible, ...).
//! - [`deliveries`] what an ended call leaves for the CRM (interaction, webhook, SMS), the durable outbox
//!   and the worker delivering it.
//! - [`store`]     every SQL statement (sqlx, SQLite or PostgreSQL), returning domain types.
//! - [`sim`]       local stand-ins for paid services (Twilio REST, ...), used by tests, demo and bench.
//! - [`bench`]     `sicha bench`: whole-call latency, per-stage breakdown and capacity, with report and plots.
//! - [`clock`]     wall-clock milliseconds for records (the audio path counts samples instead).

pub mod bench;
pub mod call;
pub mod cli;
pub mod clock;
pub mod config;
pub mod deliveries;
pub mod http;
pub mod providers;
pub mod sim;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod twilio;
pub mod web;
