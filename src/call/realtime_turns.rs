//! A call's realtime transcription (`SICHA_STT=realtime`): a stream opened for each media stream,
//! whose audio side goes to that stream's line ([`super::line`], which appends and commits as the
//! caller speaks) and whose transcripts come back to the session; and [`StreamedTranscripts`], the
//! session's book of turns waiting on them.
//!
//! Concurrency, and who owns what:
//! - [`open`] runs as one task per realtime stream, spawned by the session when a media stream
//!   attaches, and again (a few times a call, after a pause) when that stream breaks. It connects,
//!   hands the stream's [`TranscriptionSender`] to the line (on a channel the line polls between
//!   frames) and then forwards every transcription event to the session's control path. It ends
//!   when the stream's events end (the line dropped its sender: the media stream ended or a newer
//!   stream replaced it; or the stream broke, after `Broken`), when the call's token is cancelled,
//!   or when the line is gone or busy before the stream opened (the stream is then dropped, which
//!   closes it).
//! - While a media stream has no realtime stream (not yet open, failed to open, broken) its
//!   utterances are uploaded in batch, as without realtime transcription.
//! - Each turn committed on a stream waits for its transcript in its own task
//!   ([`super::turn::transcribe_streamed`]) on a oneshot this book resolves; a failed turn, a broken
//!   stream or a transcript that does not come in time sends that turn to batch upload instead.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::session::Control;
use crate::providers::realtime_stt::{
    RealtimeStt, TranscriptionEvent, TranscriptionEvents, TranscriptionSender, TurnTicket,
};

/// One realtime stream's audio side, for the line of media stream `generation`.
pub struct StreamedAudio {
    pub generation: u64,
    pub sender: TranscriptionSender,
}

impl std::fmt::Debug for StreamedAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedAudio")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// A turn's audio committed on stream `generation` with `ticket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamedTurn {
    pub generation: u64,
    pub ticket: TurnTicket,
}

/// A streamed turn's transcript, or why there is none.
pub type StreamedText = Result<String, String>;

/// Where and how the session opens a realtime stream for a line.
pub struct OpenStream {
    pub stt: RealtimeStt,
    pub prompt: String,
    /// Names this stream in the events it forwards.
    pub generation: u64,
    /// Waited before connecting (a stream opened again after a break).
    pub after: Duration,
    pub to_line: mpsc::Sender<StreamedAudio>,
}

/// Opens one realtime stream for a line and forwards its events (see the module docs).
pub async fn open(stream: OpenStream, control: mpsc::Sender<Control>, cancel: CancellationToken) {
    let OpenStream {
        stt,
        prompt,
        generation,
        after,
        to_line,
    } = stream;
    let stream = tokio::select! {
        _ = cancel.cancelled() => return,
        stream = async {
            tokio::time::sleep(after).await;
            stt.connect(Some(&prompt)).await
        } => stream,
    };
    let stream = match stream {
        Ok(stream) => stream,
        Err(error) => {
            metrics::counter!("sicha_errors_total", "kind" => "realtime_stt").increment(1);
            tracing::warn!(%error, "realtime transcription unavailable; this stream's turns are uploaded");
            return;
        }
    };
    let audio = StreamedAudio {
        generation,
        sender: stream.sender,
    };
    if to_line.try_send(audio).is_err() {
        // The media stream ended while the stream opened (or its line has one waiting).
        return;
    }
    tracing::debug!(generation, "realtime transcription stream open");
    forward(stream.events, generation, control, cancel).await;
}

async fn forward(
    mut events: TranscriptionEvents,
    generation: u64,
    control: mpsc::Sender<Control>,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return,
            event = events.next() => event,
        };
        let Some(event) = event else { return };
        let message = Control::Transcription { generation, event };
        if control.send(message).await.is_err() {
            return;
        }
    }
}

/// Turns waiting on streamed transcripts, owned by the session. Tickets are learnt from the line's
/// speech events and transcripts from the stream's task, on the same control path but from two
/// senders, so a transcript may arrive before its ticket: it is kept until the turn asks for it.
#[derive(Debug, Default)]
pub struct StreamedTranscripts {
    waiting: HashMap<StreamedTurn, oneshot::Sender<StreamedText>>,
    /// Transcripts of commits the session has not heard of yet.
    early: HashMap<StreamedTurn, StreamedText>,
    /// The latest ticket heard of per stream: a transcript for a later one is early, one for an
    /// earlier one nobody waits for was not wanted (the core did not transcribe that commit).
    heard: HashMap<u64, TurnTicket>,
}

impl StreamedTranscripts {
    /// The line committed `turn`'s audio.
    pub fn committed(&mut self, turn: StreamedTurn) {
        let latest = self.heard.entry(turn.generation).or_insert(turn.ticket);
        *latest = (*latest).max(turn.ticket);
    }

    /// The core wants `turn`'s transcript: it resolves the receiver (at once, if it came early).
    pub fn wait_for(&mut self, turn: StreamedTurn) -> oneshot::Receiver<StreamedText> {
        let (tx, rx) = oneshot::channel();
        match self.early.remove(&turn) {
            Some(text) => {
                let _ = tx.send(text);
            }
            None => {
                self.waiting.insert(turn, tx);
            }
        }
        rx
    }

    /// An event of stream `generation`.
    pub fn on_event(&mut self, generation: u64, event: TranscriptionEvent) {
        match event {
            TranscriptionEvent::Final { ticket, text, .. } => {
                self.resolve(StreamedTurn { generation, ticket }, Ok(text));
            }
            TranscriptionEvent::Failed { ticket, reason, .. } => {
                self.resolve(StreamedTurn { generation, ticket }, Err(reason));
            }
            TranscriptionEvent::Broken(reason) => {
                // Every turn of that stream still waiting goes to batch upload.
                let reason = reason.to_string();
                let broken: Vec<StreamedTurn> = self
                    .waiting
                    .keys()
                    .filter(|turn| turn.generation == generation)
                    .copied()
                    .collect();
                for turn in broken {
                    self.resolve(turn, Err(reason.clone()));
                }
                self.early.retain(|turn, _| turn.generation != generation);
                self.heard.remove(&generation);
            }
            TranscriptionEvent::ServerError(error) => {
                tracing::warn!(?error, "realtime transcription server refused a request");
            }
            TranscriptionEvent::Committed { .. } | TranscriptionEvent::Partial { .. } => {}
        }
    }

    fn resolve(&mut self, turn: StreamedTurn, text: StreamedText) {
        if let Some(waiting) = self.waiting.remove(&turn) {
            // A turn cancelled meanwhile has dropped its receiver.
            let _ = waiting.send(text);
        } else if self
            .heard
            .get(&turn.generation)
            .is_none_or(|t| turn.ticket > *t)
        {
            self.early.insert(turn, text);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::providers::realtime_stt::BrokenReason;

    use super::*;

    fn turn(generation: u64, ticket: u64) -> StreamedTurn {
        StreamedTurn {
            generation,
            ticket: TurnTicket(ticket),
        }
    }

    fn final_text(ticket: u64, text: &str) -> TranscriptionEvent {
        TranscriptionEvent::Final {
            ticket: TurnTicket(ticket),
            item_id: format!("item_{ticket}"),
            text: text.to_string(),
        }
    }

    #[test]
    fn a_transcript_reaches_the_turn_waiting_for_it() {
        let mut book = StreamedTranscripts::default();
        book.committed(turn(1, 1));
        let mut rx = book.wait_for(turn(1, 1));
        assert!(rx.try_recv().is_err(), "not yet");
        book.on_event(1, final_text(1, "שלום"));
        assert_eq!(rx.try_recv().unwrap(), Ok("שלום".to_string()));
    }

    #[test]
    fn a_transcript_that_overtakes_its_ticket_waits_for_it() {
        let mut book = StreamedTranscripts::default();
        book.on_event(1, final_text(1, "מוקדם"));
        book.committed(turn(1, 1));
        let mut rx = book.wait_for(turn(1, 1));
        assert_eq!(rx.try_recv().unwrap(), Ok("מוקדם".to_string()));
        assert!(book.early.is_empty());
    }

    #[test]
    fn a_transcript_nobody_asked_for_is_not_kept() {
        let mut book = StreamedTranscripts::default();
        book.committed(turn(1, 2));
        book.on_event(1, final_text(1, "ישן"));
        book.on_event(1, final_text(2, "לא נדרש"));
        assert!(book.early.is_empty());
    }

    #[test]
    fn a_failed_turn_and_a_broken_stream_send_their_turns_to_batch() {
        let mut book = StreamedTranscripts::default();
        book.committed(turn(1, 2));
        let mut failed = book.wait_for(turn(1, 1));
        let mut broken = book.wait_for(turn(1, 2));
        let mut other_stream = book.wait_for(turn(2, 1));
        book.on_event(
            1,
            TranscriptionEvent::Failed {
                ticket: TurnTicket(1),
                item_id: None,
                reason: "too little audio".to_string(),
            },
        );
        assert_eq!(
            failed.try_recv().unwrap(),
            Err("too little audio".to_string())
        );
        book.on_event(1, TranscriptionEvent::Broken(BrokenReason::Overloaded));
        assert!(broken.try_recv().unwrap().is_err());
        assert!(
            other_stream.try_recv().is_err(),
            "another stream's turn still waits"
        );
    }
}
