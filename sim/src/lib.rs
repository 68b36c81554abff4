//! Local stand-ins for the paid services sicha talks to, speaking their real wire formats. Tests, `demo` and
//! `bench` use them; nothing in the serving path does.
//! - [`openai`] an OpenAI-compatible server: transcriptions, streamed chat, speech; scripted, with latency profiles.
//! - [`twilio_api`] Twilio's REST API (call updates, SMS, call details).
//! - [`twilio_caller`] the Twilio side of a call: signed webhook and Media Streams socket.
//! - [`caller`] a whole simulated call on top of it: a [`scenario`] played in real time (or a time-lapse),
//!   Twilio's [`playback`] buffer emulated (marks, `clear`), every event timed in a `CallTrace`.
//! - [`google_tts`] Google Cloud Text-to-Speech (`text:synthesize`, μ-law WAV in base64).
//! - [`elevenlabs`] ElevenLabs streaming text-to-speech (raw μ-law 8 kHz).
//! - [`world`] all the stand-ins together, and the settings that point a server at them.
//! - [`bench`] `sicha bench`: whole-call latency, per-stage breakdown and capacity, with report and plots.
//! - [`cli`] the `demo`, `call` and `bench` commands.

pub mod bench;
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
