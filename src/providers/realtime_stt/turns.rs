//! Which turn each server event belongs to: [`TurnBook`], synchronous and without a socket. The
//! server names a committed turn by an item id of its choosing; the owner knows it by the ticket its
//! commit returned. Commits are acknowledged in the order they were sent, so the oldest
//! unacknowledged ticket takes the next `committed` item id, and a refused commit is found by the
//! event id it was sent with. Transcripts then find their turn by item id, in whatever order they come.

use std::collections::{HashMap, VecDeque};

use super::events::{TranscriptionEvent, TurnTicket};
use super::wire::ServerEvent;

/// The least audio the API commits: 100 ms of 8 kHz μ-law, one byte a sample. Less is refused
/// locally, so the server's refusal never has to be matched to a commit.
pub const MIN_COMMIT_BYTES: usize = 800;

/// What to do with a commit.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum CommitDecision {
    /// Send `input_audio_buffer.commit` with this event id.
    Send { event_id: String },
    /// Too little audio: send `input_audio_buffer.clear` instead (when `clear` says there is audio
    /// to drop), and tell the owner the turn failed.
    Refuse {
        clear: bool,
        failed: TranscriptionEvent,
    },
}

/// Turns in flight on one stream.
#[derive(Debug, Default)]
pub(super) struct TurnBook {
    /// Audio appended since the last commit or clear.
    buffered_bytes: usize,
    /// Commits sent and not yet acknowledged, oldest first.
    unacknowledged: VecDeque<TurnTicket>,
    /// Committed turns without a final transcript yet, by item id.
    open: HashMap<String, OpenTurn>,
}

#[derive(Debug)]
struct OpenTurn {
    ticket: TurnTicket,
    text_so_far: String,
}

/// The event id a commit is sent with, so an error naming it names the turn.
fn commit_event_id(ticket: TurnTicket) -> String {
    format!("commit_{}", ticket.0)
}

impl TurnBook {
    pub(super) fn appended(&mut self, bytes: usize) {
        self.buffered_bytes = self.buffered_bytes.saturating_add(bytes);
    }

    pub(super) fn cleared(&mut self) {
        self.buffered_bytes = 0;
    }

    /// The owner ended turn `ticket`: the audio buffered so far is its audio.
    pub(super) fn commit(&mut self, ticket: TurnTicket) -> CommitDecision {
        let buffered = std::mem::take(&mut self.buffered_bytes);
        if buffered < MIN_COMMIT_BYTES {
            return CommitDecision::Refuse {
                clear: buffered > 0,
                failed: TranscriptionEvent::Failed {
                    ticket,
                    item_id: None,
                    reason: format!(
                        "{} ms of audio is too little to commit",
                        buffered / (MIN_COMMIT_BYTES / 100)
                    ),
                },
            };
        }
        self.unacknowledged.push_back(ticket);
        CommitDecision::Send {
            event_id: commit_event_id(ticket),
        }
    }

    /// What a server event means to the owner, if anything. Transcript events for an item this
    /// stream did not commit have no turn and are dropped.
    pub(super) fn on_server_event(&mut self, event: ServerEvent) -> Option<TranscriptionEvent> {
        match event {
            ServerEvent::Committed { item_id } => {
                let ticket = self.unacknowledged.pop_front()?;
                self.open.insert(
                    item_id.clone(),
                    OpenTurn {
                        ticket,
                        text_so_far: String::new(),
                    },
                );
                Some(TranscriptionEvent::Committed { ticket, item_id })
            }
            ServerEvent::Delta { item_id, delta } => {
                let turn = self.open.get_mut(&item_id)?;
                turn.text_so_far.push_str(&delta);
                Some(TranscriptionEvent::Partial {
                    ticket: turn.ticket,
                    text_so_far: turn.text_so_far.clone(),
                    item_id,
                })
            }
            ServerEvent::Completed {
                item_id,
                transcript,
            } => {
                let turn = self.open.remove(&item_id)?;
                Some(TranscriptionEvent::Final {
                    ticket: turn.ticket,
                    item_id,
                    text: transcript,
                })
            }
            ServerEvent::TranscriptionFailed { item_id, error } => {
                let turn = self.open.remove(&item_id)?;
                Some(TranscriptionEvent::Failed {
                    ticket: turn.ticket,
                    item_id: Some(item_id),
                    reason: error.to_string(),
                })
            }
            ServerEvent::Error(error) => {
                let refused_commit = self.unacknowledged.iter().position(|ticket| {
                    error.event_id.as_deref() == Some(commit_event_id(*ticket).as_str())
                });
                match refused_commit.and_then(|index| self.unacknowledged.remove(index)) {
                    Some(ticket) => Some(TranscriptionEvent::Failed {
                        ticket,
                        item_id: None,
                        reason: error.to_string(),
                    }),
                    None => Some(TranscriptionEvent::ServerError(error)),
                }
            }
            ServerEvent::SessionCreated
            | ServerEvent::SessionUpdated
            | ServerEvent::Cleared
            | ServerEvent::Other(_)
            | ServerEvent::Malformed(_) => None,
        }
    }

    /// Turns committed and not yet ended, for a log line when the stream breaks.
    pub(super) fn turns_in_flight(&self) -> usize {
        self.unacknowledged.len() + self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::realtime_stt::wire::{ApiError, parse_server_event};

    const ONE_SECOND: usize = 8000;

    fn committed(book: &mut TurnBook, ticket: u64) -> String {
        book.appended(ONE_SECOND);
        let CommitDecision::Send { event_id } = book.commit(TurnTicket(ticket)) else {
            panic!("a second of audio is committed");
        };
        event_id
    }

    fn server(book: &mut TurnBook, json: &str) -> Option<TranscriptionEvent> {
        book.on_server_event(parse_server_event(json))
    }

    fn acknowledge(book: &mut TurnBook, item: &str) -> Option<TranscriptionEvent> {
        server(
            book,
            &format!(r#"{{"type":"input_audio_buffer.committed","item_id":"{item}"}}"#),
        )
    }

    fn delta(book: &mut TurnBook, item: &str, text: &str) -> Option<TranscriptionEvent> {
        server(
            book,
            &format!(
                r#"{{"type":"conversation.item.input_audio_transcription.delta","item_id":"{item}","content_index":0,"delta":"{text}"}}"#
            ),
        )
    }

    fn completed(book: &mut TurnBook, item: &str, text: &str) -> Option<TranscriptionEvent> {
        server(
            book,
            &format!(
                r#"{{"type":"conversation.item.input_audio_transcription.completed","item_id":"{item}","content_index":0,"transcript":"{text}"}}"#
            ),
        )
    }

    #[test]
    fn deltas_accumulate_and_the_final_names_the_turn() {
        let mut book = TurnBook::default();
        assert_eq!(committed(&mut book, 1), "commit_1");
        assert_eq!(
            acknowledge(&mut book, "item_a"),
            Some(TranscriptionEvent::Committed {
                ticket: TurnTicket(1),
                item_id: "item_a".to_string()
            })
        );
        delta(&mut book, "item_a", "מה ");
        assert_eq!(
            delta(&mut book, "item_a", "השעה?"),
            Some(TranscriptionEvent::Partial {
                ticket: TurnTicket(1),
                item_id: "item_a".to_string(),
                text_so_far: "מה השעה?".to_string()
            })
        );
        assert_eq!(
            completed(&mut book, "item_a", "מה השעה?"),
            Some(TranscriptionEvent::Final {
                ticket: TurnTicket(1),
                item_id: "item_a".to_string(),
                text: "מה השעה?".to_string()
            })
        );
        assert_eq!(book.turns_in_flight(), 0);
        assert_eq!(
            completed(&mut book, "item_a", "again"),
            None,
            "an ended turn ends once"
        );
    }

    #[test]
    fn transcripts_that_come_out_of_order_find_their_turns_by_item() {
        let mut book = TurnBook::default();
        committed(&mut book, 1);
        committed(&mut book, 2);
        acknowledge(&mut book, "item_a");
        acknowledge(&mut book, "item_b");
        delta(&mut book, "item_b", "שתיים");
        delta(&mut book, "item_a", "אחת");
        let second = completed(&mut book, "item_b", "שתיים");
        let first = completed(&mut book, "item_a", "אחת");
        assert!(
            matches!(second, Some(TranscriptionEvent::Final { ticket: TurnTicket(2), ref text, .. }) if text == "שתיים"),
            "{second:?}"
        );
        assert!(
            matches!(first, Some(TranscriptionEvent::Final { ticket: TurnTicket(1), ref text, .. }) if text == "אחת"),
            "{first:?}"
        );
    }

    #[test]
    fn a_refused_commit_fails_its_own_turn_and_the_next_acknowledgement_goes_to_the_next() {
        let mut book = TurnBook::default();
        committed(&mut book, 1);
        committed(&mut book, 2);
        let refused = server(
            &mut book,
            r#"{"type":"error","error":{"type":"invalid_request_error","code":"input_audio_buffer_commit_empty","message":"buffer too small","event_id":"commit_1"}}"#,
        );
        assert!(
            matches!(&refused, Some(TranscriptionEvent::Failed { ticket: TurnTicket(1), item_id: None, reason }) if reason.contains("commit_empty")),
            "{refused:?}"
        );
        assert!(matches!(
            acknowledge(&mut book, "item_b"),
            Some(TranscriptionEvent::Committed {
                ticket: TurnTicket(2),
                ..
            })
        ));
    }

    #[test]
    fn a_failed_transcription_ends_its_turn_and_other_errors_belong_to_no_turn() {
        let mut book = TurnBook::default();
        committed(&mut book, 1);
        acknowledge(&mut book, "item_a");
        let failed = server(
            &mut book,
            r#"{"type":"conversation.item.input_audio_transcription.failed","item_id":"item_a","content_index":0,"error":{"type":"transcription_error","code":"audio_unintelligible","message":"Audio unclear."}}"#,
        );
        assert_eq!(
            failed,
            Some(TranscriptionEvent::Failed {
                ticket: TurnTicket(1),
                item_id: Some("item_a".to_string()),
                reason: "Audio unclear. (audio_unintelligible)".to_string()
            })
        );
        let unrelated = server(
            &mut book,
            r#"{"type":"error","error":{"type":"invalid_request_error","code":"invalid_value","message":"bad audio"}}"#,
        );
        assert!(matches!(
            unrelated,
            Some(TranscriptionEvent::ServerError(ApiError { ref message, .. })) if message == "bad audio"
        ));
    }

    #[test]
    fn too_little_audio_is_refused_here_and_dropped() {
        let mut book = TurnBook::default();
        book.appended(160);
        assert_eq!(
            book.commit(TurnTicket(1)),
            CommitDecision::Refuse {
                clear: true,
                failed: TranscriptionEvent::Failed {
                    ticket: TurnTicket(1),
                    item_id: None,
                    reason: "20 ms of audio is too little to commit".to_string()
                }
            }
        );
        assert!(matches!(
            book.commit(TurnTicket(2)),
            CommitDecision::Refuse { clear: false, .. }
        ));
        book.appended(ONE_SECOND);
        book.cleared();
        assert!(matches!(
            book.commit(TurnTicket(3)),
            CommitDecision::Refuse { clear: false, .. }
        ));
        assert_eq!(book.turns_in_flight(), 0);
    }

    #[test]
    fn events_for_items_this_stream_did_not_commit_are_dropped() {
        let mut book = TurnBook::default();
        assert_eq!(acknowledge(&mut book, "item_x"), None, "no commit was sent");
        assert_eq!(delta(&mut book, "item_x", "x"), None);
        assert_eq!(completed(&mut book, "item_x", "x"), None);
        assert_eq!(
            server(&mut book, r#"{"type":"response.created"}"#),
            None,
            "unknown types mean nothing"
        );
        assert_eq!(server(&mut book, "{oops"), None);
    }
}
