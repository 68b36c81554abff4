//! The Twilio edge, and nothing else: no SQL, no conversation logic.
//! - [`signature`] X-Twilio-Signature for webhooks and the WebSocket upgrade.
//! - [`twiml`]     escaped TwiML documents (connect a stream, say, dial, hang up).
//! - [`token`]     stream tokens bound to a CallSid, carried as a TwiML `<Parameter>`.
//! - [`stream`]    the Media Streams JSON messages, typed, both directions.
//! - [`stream_log`] recorded sessions: inbound frames with arrival times, for replay.
//! - [`socket`]    the Media Streams socket loop, generic over `Sink`/`Stream`, with its own event
//!   and end types (it never sees the call).
//! - [`outbound`]  the call side's voice on a stream: audio and marks in order, clears first.
//! - [`rest`]      the REST client (update a call, end it, place one, SMS, fetch).

mod inbound;
pub mod outbound;
pub mod rest;
pub mod signature;
pub mod socket;
pub mod stream;
pub mod stream_log;
pub mod token;
pub mod twiml;
