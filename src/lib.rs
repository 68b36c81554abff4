//! sicha: a real-time Hebrew phone voice agent for Twilio Media Streams.
//!
//! Layout (the path of one call, top to bottom):
//! - [`cli`]       the server's commands (serve, migrate, business, customer, calls, callbacks,
//!   admin); the `sicha` binary that runs them is built by the simulator's crate.
//! - [`config`]    typed settings from the environment and an optional TOML file; secrets redacted.
//! - [`startup`]   builds the app (store, calls a crash left open ended, phrase warm-up, registry, router,
//!   listeners on any port) and runs it until shutdown.
//! - [`telemetry`] tracing subscriber and the Prometheus recorder.
//! - [`http`]      axum routes: Twilio voice/status webhooks, the Media Streams upgrade, health, metrics.
//! - [`web`]       the business's pages (Hebrew, right-to-left) behind a sign-in: customers, calls with
//!   transcript, events, recording and latency, businesses.
//! - [`twilio`]    the Twilio edge only: signatures, TwiML, stream tokens, Media Streams messages, the
//!   socket loop with its own event and command types, the REST client. It never imports the call.
//! - [`call`]      live calls: a synchronous core that decides (turn-taking, playback ledger, dialogue,
//!   escalation, tools), the per-call session task that carries its decisions out (control before
//!   audio), the line between the wire and the call (μ-law → endpointer), the registry by CallSid.
//! - [`business_tools`] tools a business declares in a file (name, JSON Schema, URL, timeout), which the
//!   model may call: the file's checks, argument validation, limits, and the signed POST to the business.
//! - [`providers`] speech-to-text, the streamed chat model and text-to-speech clients (OpenAI-compatible, ...).
//! - [`deliveries`] what an ended call leaves for the CRM (interaction, webhook, SMS) and the call-back
//!   it promised, the durable outbox and the worker delivering it (placing call-backs in opening hours).
//! - [`store`]     every SQL statement (sqlx, SQLite or PostgreSQL), returning domain types.
//! - [`clock`]     wall-clock milliseconds for records (the audio path counts samples instead).
//!
//! Not here: the local stand-ins for paid services, the simulated caller, `demo`, `call`, `bench` and the
//! `sicha` binary are the workspace member `sicha-sim` (sim/), which uses only this library's public API;
//! the integration tests (tests/integration) are its test target.

pub mod business_tools;
pub mod call;
pub mod cli;
pub mod clock;
pub mod config;
pub mod deliveries;
pub mod http;
pub mod providers;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod twilio;
pub mod web;
