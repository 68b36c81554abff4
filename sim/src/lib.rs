//! sicha-sim: the world a sicha server can be run in without paid services or a phone line, and the
//! commands that run it (`sicha demo`, `sicha call`, `sicha bench`). It drives the server only through
//! the `sicha` library's public API and its wire protocols; the server does not depend on it.
//!
//! Layout:
//! - Stand-ins for the paid services, speaking their real wire formats on ports of 127.0.0.1 (all
//!   started the same way, by `local_server`, which also keeps each one's request log):
//!   - [`openai`] an OpenAI-compatible server: transcriptions, streamed chat, speech; scripted, with
//!     latency profiles.
//!   - [`google_tts`] Google Cloud Text-to-Speech (`text:synthesize`, μ-law WAV in base64).
//!   - [`elevenlabs`] ElevenLabs streaming text-to-speech (raw μ-law 8 kHz).
//!   - [`twilio_api`] Twilio's REST API (call updates, SMS, call details, calls placed and their
//!     scripted callees).
//!   - [`booking_api`] a barber shop's booking system, reached as the business's own tools.
//! - The caller's side of a call:
//!   - [`twilio_caller`] the Twilio side of a call: signed webhook and Media Streams socket.
//!   - [`caller`] a whole simulated call on top of it: a [`scenario`] played in real time (or a
//!     time-lapse), Twilio's [`playback`] buffer emulated (marks, `clear`), every event timed in a
//!     `CallTrace`.
//!   - [`replay`] a recorded Media Streams socket played back against a server.
//! - [`world`] the stand-ins together, the settings that point a server at them, and the demo business
//!   (added through `sicha business add`'s own function).
//! - [`bench`](mod@bench) whole-call latency, per-stage breakdown and capacity, with report, plots and progress.
//! - [`cli`] the `demo`, `call` and `bench` commands; the `sicha` binary (`main.rs`) joins them to the
//!   server's own commands from `sicha::cli`.

pub mod bench;
pub mod booking_api;
pub mod caller;
pub mod cli;
pub mod elevenlabs;
pub mod google_tts;
mod local_server;
pub mod openai;
pub mod playback;
pub mod replay;
pub mod scenario;
pub mod twilio_api;
pub mod twilio_caller;
pub mod world;
