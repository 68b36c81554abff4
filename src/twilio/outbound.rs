//! What the call side sends to Twilio over one stream: audio and marks in order, and `clear`, which
//! overtakes them.
//!
//! Two paths, because a `clear` must never wait behind audio: audio and marks go through a bounded
//! queue (`playout`), and a clear bumps a generation on a `watch` channel that the socket loop serves
//! first. Every queued item carries the generation it was sent in, so audio queued before a clear
//! (already cleared, from the caller's point of view) is dropped by the loop instead of being played
//! after it. The call side owns [`OutboundSender`]; dropping it tells the loop to close the stream.

use tokio::sync::{mpsc, watch};

/// One item of the ordered path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamCommand {
    /// Raw μ-law 8 kHz audio; the loop cuts it into media messages.
    Media(Vec<u8>),
    /// A named mark after the audio sent so far.
    Mark(String),
}

/// A queued command and the clear generation it belongs to.
#[derive(Debug)]
pub struct Playout {
    pub generation: u64,
    pub command: StreamCommand,
}

/// The call side's end. Cheap to keep; one per stream.
#[derive(Debug)]
pub struct OutboundSender {
    playout: mpsc::Sender<Playout>,
    clears: watch::Sender<u64>,
    generation: u64,
}

/// The socket loop's end.
#[derive(Debug)]
pub struct Outbound {
    pub playout: mpsc::Receiver<Playout>,
    pub clears: watch::Receiver<u64>,
}

/// A new pair; `capacity` bounds the ordered path (whole pieces of audio, so few are needed).
pub fn outbound_channel(capacity: usize) -> (OutboundSender, Outbound) {
    let (playout_tx, playout) = mpsc::channel(capacity);
    let (clears_tx, clears) = watch::channel(0);
    let sender = OutboundSender {
        playout: playout_tx,
        clears: clears_tx,
        generation: 0,
    };
    (sender, Outbound { playout, clears })
}

impl OutboundSender {
    /// Queues a command; false when the stream is gone.
    pub async fn send(&self, command: StreamCommand) -> bool {
        let playout = Playout {
            generation: self.generation,
            command,
        };
        self.playout.send(playout).await.is_ok()
    }

    /// Clears Twilio's buffer at once, and everything queued here that the loop has not written yet.
    pub fn clear(&mut self) {
        self.generation += 1;
        // A closed receiver means the stream is ending; its end is reported on the control path.
        let _ = self.clears.send(self.generation);
    }
}

/// The next generation to clear to, once the call side asks. When the call side is gone this never
/// completes: the playout path reports the end.
pub async fn next_clear(clears: &mut watch::Receiver<u64>) -> u64 {
    if clears.changed().await.is_err() {
        return std::future::pending().await;
    }
    *clears.borrow_and_update()
}
