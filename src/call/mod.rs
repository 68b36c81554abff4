//! Live calls. Each call is one session task around a synchronous core that makes every decision;
//! the Media Streams socket loop reaches the call through the call's [`line`], webhooks and shutdown
//! through its [`registry`] entry.
//!
//! Layout:
//! - [`core`]       the call's decisions as a state machine: inputs and the time in, effects out
//!   (turn-taking, the playback ledger, the dialogue, escalation, tools). No tokio, no I/O.
//! - [`session`]    the per-call task: feeds the core, carries out its effects; control before audio.
//! - [`line`]       the stage between the wire and the call: μ-law → PCM → endpointer, per stream.
//! - [`speech_upload`] which of the caller's audio streams to a realtime recogniser, and where each
//!   turn is committed (synchronous).
//! - [`realtime_turns`] a call's realtime transcription streams, and the turns waiting on them.
//! - [`attach`]     joining a stream to its call's session (found or started).
//! - [`registry`]   live sessions by CallSid: a reconnecting stream finds the same session; the limit.
//! - [`context`]    what calls are started with: shared services and policies, each call's facts.
//! - [`callback`]   a call-back's opening words and what it knows of the call that asked for it.
//! - [`turn`]       one turn's tasks: STT, then LLM → sentences → TTS on the turn's own path.
//! - [`actions`]    REST updates of the call: transfer, the `<Say>` fallback.
//! - [`records`]    the CRM interaction and after-call deliveries; the agent's texts.
//! - [`recording`]  the call's two-track Ogg Opus recording.
//! - [`agent`]      the AI agent's shared parts: providers, the phrase cache.
//! - [`phrases`]    the agent's fixed Hebrew phrases.
//! - [`echo`]       the line-check agent: plays the caller's own words back.
//! - [`hebrew`]     Hebrew as data and text: the drop-list of Whisper's hallucinations, fillers, the
//!   agent's prompts, a comparable normal form, the sentence splitter for streaming TTS.
//! - [`transcript`] what STT returned, judged with the utterance's audio evidence: answer it, wait
//!   for more, or drop it (with an apology when the caller surely spoke).
//! - [`loops`]      repetition, the caller's and the agent's (caught at an answer's opening):
//!   escalate once, then end the call politely.

pub mod actions;
pub mod agent;
pub mod attach;
pub mod callback;
pub mod context;
pub mod core;
pub mod echo;
pub mod hebrew;
pub mod line;
pub mod loops;
pub mod phrases;
pub mod realtime_turns;
pub mod recording;
pub mod records;
pub mod registry;
pub mod session;
pub mod speech_upload;
pub mod transcript;
pub mod turn;

pub use registry::Registry;
