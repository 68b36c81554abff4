//! What a transcription stream tells its owner: [`TranscriptionEvent`], each turn named by the
//! [`TurnTicket`] its commit returned, and why a stream broke ([`BrokenReason`]).

use std::fmt;

use super::wire::ApiError;

/// Names one committed turn: the n-th commit of the stream returns ticket n (from 1), and every
/// event about that turn carries it, so the owner never has to learn the server's item ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TurnTicket(pub u64);

impl fmt::Display for TurnTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "turn {}", self.0)
    }
}

/// One thing the stream learned. For each committed turn: `Committed`, then zero or more `Partial`,
/// then exactly one of `Final` or `Failed` (unless the stream breaks first). Turns may end out of
/// order. The stream's last event is `Broken` when it failed; after a deliberate close the events
/// simply end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscriptionEvent {
    /// The server took the turn's audio as the item `item_id`.
    Committed { ticket: TurnTicket, item_id: String },
    /// More of the turn was recognised: the text so far (every delta joined).
    Partial {
        ticket: TurnTicket,
        item_id: String,
        text_so_far: String,
    },
    /// The turn's whole transcript.
    Final {
        ticket: TurnTicket,
        item_id: String,
        text: String,
    },
    /// The turn will have no transcript: the server refused the commit (no `item_id` then), there
    /// was too little audio to commit, or transcription failed. Batch STT of the same audio may work.
    Failed {
        ticket: TurnTicket,
        item_id: Option<String>,
        reason: String,
    },
    /// The server refused something that belongs to no turn (an append, a prompt update). The
    /// stream goes on; if the server gives up on the session, `Broken` follows.
    ServerError(ApiError),
    /// The socket failed or closed unexpectedly: no further events, turns not yet ended never will.
    Broken(BrokenReason),
}

/// Why a stream broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokenReason {
    /// The server closed the socket, with its close frame's code and reason when it sent one.
    Closed { code: Option<u16>, reason: String },
    /// Reading or writing the socket failed.
    Transport(String),
    /// Audio came faster than the socket took it and its queue filled: the transcript would miss
    /// audio, so the stream gives up rather than drop any.
    Overloaded,
}

impl fmt::Display for BrokenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed { code: None, .. } => f.write_str("the server closed the socket"),
            Self::Closed {
                code: Some(code),
                reason,
            } => write!(f, "the server closed the socket ({code} {reason})"),
            Self::Transport(error) => write!(f, "the socket failed: {error}"),
            Self::Overloaded => f.write_str("audio came faster than the socket took it"),
        }
    }
}
