//! Speech and language providers, knowing nothing of Twilio or SQL.
//! - [`http`] what every OpenAI-compatible client shares: base URL, optional key, timeout, error bodies.
//! - [`stt`]  speech to text (`/audio/transcriptions`, Whisper and the gpt-4o transcribe models).
//! - [`realtime_stt`] streaming speech to text over a WebSocket (the Realtime API's transcription
//!   mode): audio appended while the caller speaks, the transcript moments after the turn ends.
//! - [`llm`]  the streamed chat model (`/chat/completions`) with tool calls.
//! - [`tts`]  Hebrew text to speech (OpenAI, Google, ElevenLabs, espeak-ng) and the fallback chain.

pub mod http;
pub mod llm;
pub mod realtime_stt;
pub mod stt;
pub mod tts;

pub use http::OpenAiConfig;
