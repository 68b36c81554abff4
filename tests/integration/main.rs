//! Integration tests: the real app on port 0 with a fresh database (SQLite always, PostgreSQL too
//! when SICHA_TEST_POSTGRES_URL is set), the paid providers and Twilio replaced by local servers
//! that speak their wire formats.
//!
//! One test binary holds every module, so the suite compiles and links the crate once rather than
//! once per file. Run one area with its module path, e.g. `cargo test --test integration webhooks::`.
//!
//! Layout:
//! - `common`, `web_support`: spawning the app, callers, browser helpers (shared set-up);
//! - `webhooks`, `media_streams`, `twilio_rest`: the Twilio edge;
//! - `conversation*`, `providers_*`, `deliveries`: the call pipeline, its providers and the outbox;
//! - `business_tools`: calling a business's declared tool over HTTP, signed, and every way it can end;
//! - `callbacks`: promised call-backs placed through the Twilio stand-in, retried, recorded;
//! - `reconciliation`: a call cut off by a crash, ended properly at the next start;
//! - `store`: every store operation on both engines;
//! - `metrics`, `readiness`: where `/metrics` is served and what it holds, when `/readyz` says ready;
//! - `sim_caller`, `replay`, `bench`, `cli`, `customers`: the simulation kit and the command line;
//! - `web`, `browser`: the business's pages, over HTTP and in headless Chromium.

mod common;
mod web_support;

mod bench;
mod browser;
mod business_tools;
mod callbacks;
mod cli;
mod conversation;
mod conversation_business_tools;
mod conversation_dtmf;
mod conversation_end_of_turn;
mod conversation_flood;
mod conversation_preemptive;
mod conversation_realtime_stt;
mod conversation_timers;
mod conversation_tools;
mod customers;
mod deliveries;
mod faults;
mod media_streams;
mod metrics;
mod providers_openai;
mod providers_realtime;
mod providers_tts;
mod readiness;
mod reconciliation;
mod replay;
mod sim_caller;
mod store;
mod twilio_rest;
mod web;
mod webhooks;
