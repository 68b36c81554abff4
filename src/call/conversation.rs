//! The AI conversation of one call: its state ([`Conversation`], owned by the session): history,
//! repetition detectors, the turn in flight and the agent speech not yet committed. What the session
//! does with utterances and turn events is in [`super::replies`].
//!
//! One agent turn: utterance → STT (+ filter) → loop check → LLM stream → sentences → TTS → audio,
//! a mark per sentence. Fallbacks keep the caller from silence: a failed STT or LLM gets a fixed
//! phrase, a slow turn gets a filler, a sentence every TTS provider failed is said by Twilio itself
//! (`<Say>`, then the call reconnects to a new stream).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::agent::Agent;
use super::loops::RepetitionDetector;
use super::playback::{Piece, Playback};
use super::records::{SpokenTurn, StageTime};
use super::session::{AgentMode, CallContext};
use super::transcript::{TranscriptFilter, UnintelligibleCounter};
use super::turn::FILLER_AFTER;
use crate::providers::llm::{ChatMessage, ChatRequest};

/// Messages of history sent with each request (the system prompt comes on top).
const HISTORY_LIMIT: usize = 24;

/// The turn in flight.
pub(super) struct ActiveTurn {
    pub(super) id: u64,
    pub(super) cancel: CancellationToken,
    /// When the utterance reached the session, and how long the endpointer waited before that.
    pub(super) heard_at: Instant,
    pub(super) endpoint_ms: u64,
    /// Where the utterance's speech began: ties an eager turn to the utterance that confirms it.
    pub(super) start_sample: u64,
    /// False while an eager turn waits for the hangover; its result is held in `early`.
    pub(super) confirmed: bool,
    pub(super) early: Option<super::turn::TurnEvent>,
    /// Audio of the sentence being sent, and when its first chunk went out.
    pub(super) sentence_samples: usize,
    pub(super) sentence_started: Option<Instant>,
    /// The words of the latest sentence whose audio started (streaming while `sentence_started`).
    pub(super) sentence_text: Option<String>,
    pub(super) any_audio: bool,
    pub(super) filler_played: bool,
}

impl ActiveTurn {
    /// A turn for the utterance that began at `start_sample`, heard now, `endpoint_ms` after its
    /// speech ended.
    pub(super) fn new(
        id: u64,
        cancel: CancellationToken,
        endpoint_ms: u64,
        start_sample: u64,
        confirmed: bool,
    ) -> Self {
        Self {
            id,
            cancel,
            heard_at: Instant::now(),
            endpoint_ms,
            start_sample,
            confirmed,
            early: None,
            sentence_samples: 0,
            sentence_started: None,
            sentence_text: None,
            any_audio: false,
            filler_played: false,
        }
    }
}

pub struct Conversation {
    pub(super) agent: Arc<Agent>,
    pub(super) business: crate::store::Business,
    pub(super) call_cancel: CancellationToken,
    pub(super) history: Vec<ChatMessage>,
    pub(super) filter: TranscriptFilter,
    pub(super) caller_loops: RepetitionDetector,
    pub(super) agent_loops: RepetitionDetector,
    pub(super) unintelligible: UnintelligibleCounter,
    pub(super) next_turn: u64,
    pub(super) active: Option<ActiveTurn>,
    pub(super) next_seq: i64,
    /// The agent speech of the current turn, until it is committed.
    pub(super) spoken: Option<SpokenTurn>,
    /// What the CRM interaction records as the call's outcome, when something notable happened.
    pub outcome: Option<String>,
}

impl Conversation {
    pub(super) fn for_call(ctx: &CallContext, call_cancel: CancellationToken) -> Option<Self> {
        if ctx.mode != AgentMode::Ai {
            return None;
        }
        Some(Self {
            agent: ctx.agent.clone()?,
            business: ctx.business.clone()?,
            call_cancel,
            history: Vec::new(),
            filter: TranscriptFilter::default(),
            caller_loops: RepetitionDetector::default(),
            agent_loops: RepetitionDetector::default(),
            unintelligible: UnintelligibleCounter::new(2),
            next_turn: 0,
            active: None,
            next_seq: 0,
            spoken: None,
            outcome: None,
        })
    }

    /// When a filler is due: [`FILLER_AFTER`] past the end of the caller's speech (the endpointer's
    /// wait counts too) and the turn has produced no audio yet.
    pub(super) fn filler_due_at(&self) -> Option<Instant> {
        let active = self.active.as_ref()?;
        (active.confirmed && !active.any_audio && !active.filler_played).then(|| {
            let waited = std::time::Duration::from_millis(active.endpoint_ms);
            let speech_ended = active
                .heard_at
                .checked_sub(waited)
                .unwrap_or(active.heard_at);
            speech_ended + FILLER_AFTER
        })
    }

    /// A turn is being transcribed or answered.
    pub(super) fn turn_in_flight(&self) -> bool {
        self.active.is_some()
    }

    /// The reply has started sounding: even unmarked, its audio is on the line.
    pub(super) fn is_sounding(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.any_audio)
    }

    /// The answer's first audio has been handed to the socket: the end of the server's own span.
    pub(super) fn first_audio_sent(&mut self) {
        let Some(heard_at) = self.active.as_ref().map(|a| a.heard_at) else {
            return;
        };
        self.spoken().timings.first_audio_sent(heard_at.elapsed());
    }

    /// A sentence's audio starts: its words are kept until its mark, in case a barge-in cuts it.
    pub(super) fn sentence_started(&mut self, text: String, first_audio_ms: u64) {
        let stage = StageTime::TtsFirstAudio(first_audio_ms);
        self.spoken().timings.stage(stage);
        if let Some(active) = &mut self.active {
            active.sentence_text = Some(text);
        }
    }

    /// A barge-in is about to clear the playback: the sentence still streaming has no mark yet, so
    /// it joins the playback as a piece (its words now part of what the agent said), to be cut
    /// like the marked ones.
    pub(super) fn cut_sentence_in_flight(&mut self, playback: &mut Playback) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let samples = std::mem::take(&mut active.sentence_samples);
        let (Some(sent_at), text) = (active.sentence_started.take(), active.sentence_text.take())
        else {
            return;
        };
        if let Some(text) = &text {
            self.spoken().append(text);
        }
        if samples > 0 {
            playback.enqueue(samples, text, sent_at);
        }
    }

    pub(super) fn cancel_turn(&mut self) {
        if let Some(active) = self.active.take() {
            active.cancel.cancel();
        }
    }

    pub(super) fn seq(&mut self) -> i64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub(super) fn spoken(&mut self) -> &mut SpokenTurn {
        if self.spoken.is_none() {
            let seq = self.seq();
            self.spoken = Some(SpokenTurn::new(seq));
        }
        self.spoken.as_mut().expect("just set")
    }

    pub(super) fn on_played(&mut self, pieces: &[Piece]) {
        if let Some(spoken) = &mut self.spoken {
            spoken
                .heard
                .extend(pieces.iter().filter_map(|p| p.text.clone()));
        }
    }

    pub(super) fn on_cleared(&mut self, pieces: &[Piece], playing_for: Duration) {
        if let (Some(spoken), Some(head)) = (&mut self.spoken, pieces.first()) {
            let partial = head.heard_words(playing_for);
            if !partial.is_empty() {
                spoken.heard.push(partial);
            }
        }
    }

    /// Commits the agent's speech once the reply is complete and has all played.
    pub(super) async fn commit_spoken_if_done(&mut self, ctx: &CallContext) {
        if self.spoken.as_ref().is_some_and(|s| s.finished) && self.active.is_none() {
            self.commit_spoken(ctx, false).await;
        }
    }

    /// Commits the agent's speech now; `interrupted` records that the caller cut it off. The history
    /// keeps what the caller heard.
    pub(super) async fn commit_spoken(&mut self, ctx: &CallContext, interrupted: bool) {
        let Some(spoken) = self.spoken.take() else {
            return;
        };
        if spoken.text.is_empty() {
            return;
        }
        let heard = spoken.heard_text();
        let remembered = if interrupted {
            heard.clone()
        } else {
            spoken.text.clone()
        };
        if !remembered.is_empty() {
            self.history.push(ChatMessage::assistant(remembered));
        }
        spoken.commit(ctx, interrupted, heard).await;
    }

    pub(super) fn request(&self) -> ChatRequest {
        let mut messages = vec![ChatMessage::system(system_prompt(&self.business))];
        let skip = self.history.len().saturating_sub(HISTORY_LIMIT);
        messages.extend(self.history[skip..].iter().cloned());
        let mut request = ChatRequest::new(messages);
        request.tools = super::records::tools(self.business.transfer_to.is_some());
        request.temperature = Some(0.4);
        request.max_tokens = Some(300);
        request
    }
}

fn system_prompt(business: &crate::store::Business) -> String {
    format!(
        "{}\n\nאת הסוכנת הטלפונית של \"{}\". את מדברת עם לקוח בטלפון: עני בעברית, בקצרה, במשפטים \
         קצרים וברורים שנשמעים טבעי בקול, בלי רשימות, בלי סימונים ובלי אימוג'י. אם אינך יודעת — אמרי זאת \
         והציעי שנציג יחזור ללקוח.",
        business.system_prompt, business.name
    )
}
