//! A call under test: the core, a clock in milliseconds from the call's start, and helpers that say
//! what the effects were.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sicha_audio::endpoint::{EndpointEvent, SpeechEvidence, Utterance};

use crate::call::core::*;
use crate::call::transcript::SpeechSignals;
use crate::store::businesses::DtmfMap;
use crate::store::{Business, Record};

pub const GREETING: &str = "שלום, הגעתם למספרה. במה אפשר לעזור?";

/// The endpointer's hangover in these tests: an utterance is confirmed this long after its speech.
pub const HANGOVER_MS: u64 = 600;

pub fn business(transfer_to: Option<&str>, dtmf: &str) -> Business {
    Business {
        greeting: GREETING.into(),
        system_prompt: "את עוזרת של מספרה.".into(),
        transfer_to: transfer_to.map(str::to_string),
        dtmf_map: dtmf.parse::<DtmfMap>().expect("a valid key map"),
        ..Business::example()
    }
}

pub struct Call {
    pub core: CallCore,
    t0: Instant,
    /// Every effect so far, for tests that look back.
    pub log: Vec<Effect>,
    next_mark_echo: u64,
}

impl Call {
    pub fn with(mode: AgentMode, business: Option<Business>) -> Self {
        Self::configured(mode, business, |_| {})
    }

    /// [`Call::with`], its config changed by `change` first.
    pub fn configured(
        mode: AgentMode,
        business: Option<Business>,
        change: impl FnOnce(&mut CoreConfig),
    ) -> Self {
        let mut config = CoreConfig {
            call_sid: "CA1".into(),
            mode,
            business: business.clone(),
            caller_number: "+972501234567".into(),
            silence: SilencePolicy::default(),
            max_call: Duration::from_secs(1800),
            reconnect_wait: Duration::from_secs(60),
            preemptive_replies: business.as_ref().is_none_or(|b| b.preemptive_replies),
            end_of_turn: None,
            opening: None,
            earlier_call_summary: None,
            can_place_callbacks: false,
        };
        change(&mut config);
        Self {
            core: CallCore::new(config),
            t0: Instant::now(),
            log: Vec::new(),
            next_mark_echo: 0,
        }
    }

    /// An AI call to a business with no transfer number and an empty key map.
    pub fn ai() -> Self {
        Self::with(AgentMode::Ai, Some(business(None, "")))
    }

    pub fn at(&self, ms: u64) -> Now {
        Now {
            at: self.t0 + Duration::from_millis(ms),
            wall_ms: 1_700_000_000_000 + ms as i64,
        }
    }

    pub fn ms_of(&self, at: Instant) -> u64 {
        at.duration_since(self.t0).as_millis() as u64
    }

    /// Feeds one input at `ms`; returns its effects (also kept in `log`).
    pub fn feed(&mut self, ms: u64, input: Input) -> Vec<Effect> {
        let now = self.at(ms);
        let effects = self.core.handle(input, now);
        for effect in &effects {
            self.log.push(clone_effect(effect));
        }
        effects
    }

    /// The first stream attaches at 0 and the greeting's audio arrives: returns the greeting's mark.
    pub fn started(mut self) -> (Self, String) {
        let effects = self.feed(
            0,
            Input::StreamAttached {
                stream_sid: "MZ1".into(),
            },
        );
        let id = phrase_ids(&effects)[0];
        let effects = self.feed(1, phrase_audio(id, 8000));
        let mark = marks(&effects).remove(0);
        (self, mark)
    }

    /// Starts, and the greeting plays to its end at 1001 ms.
    pub fn greeted() -> Self {
        let (mut call, mark) = Self::ai().started();
        call.feed(1001, Input::MarkPlayed(mark));
        call
    }

    /// The caller speaks from `from_ms` to `to_ms`; the hangover confirms it `HANGOVER_MS` later.
    /// Returns the effects of the confirmation.
    pub fn says(&mut self, from_ms: u64, to_ms: u64) -> Vec<Effect> {
        self.feed(from_ms + 120, speech_started(from_ms));
        self.feed(
            to_ms + HANGOVER_MS,
            Input::Speech(EndpointEvent::Utterance(utterance(
                from_ms,
                to_ms,
                to_ms + HANGOVER_MS,
            ))),
        )
    }

    /// Feeds an echo of the oldest mark not yet echoed from the log.
    pub fn echo_marks_until(&mut self, ms: u64) -> Vec<Effect> {
        let all = marks(&self.log);
        let mut effects = Vec::new();
        while (self.next_mark_echo as usize) < all.len() {
            let mark = all[self.next_mark_echo as usize].clone();
            self.next_mark_echo += 1;
            effects.extend(self.feed(ms, Input::MarkPlayed(mark)));
        }
        effects
    }
}

pub fn speech_started(from_ms: u64) -> Input {
    Input::Speech(EndpointEvent::SpeechStarted {
        start_sample: from_ms * 8,
    })
}

/// An utterance of clear speech from `from_ms` to `to_ms`, emitted at `emitted_ms` (with 200 ms
/// pre-roll).
pub fn utterance(from_ms: u64, to_ms: u64, emitted_ms: u64) -> Utterance {
    let pcm_start = from_ms.saturating_sub(200) * 8;
    Utterance {
        pcm: vec![0; (emitted_ms * 8 - pcm_start) as usize],
        pcm_start_sample: pcm_start,
        start_sample: from_ms * 8,
        end_sample: to_ms * 8,
        forced: false,
        evidence: SpeechEvidence {
            confident_samples: (to_ms - from_ms) * 8,
            level_over_floor_db: 30.0,
        },
    }
}

/// The same as [`utterance`], but faint: a breath or line noise as far as the endpointer can tell.
pub fn faint_utterance(from_ms: u64, to_ms: u64, emitted_ms: u64) -> Utterance {
    let mut utterance = utterance(from_ms, to_ms, emitted_ms);
    utterance.evidence = SpeechEvidence {
        confident_samples: 40 * 8,
        level_over_floor_db: 8.0,
    };
    utterance
}

pub fn heard(turn: TurnId, text: &str) -> Input {
    Input::Transcript {
        turn,
        outcome: SttOutcome::Text {
            text: text.into(),
            signals: SpeechSignals::default(),
            stt_ms: 300,
        },
    }
}

pub fn phrase_audio(id: PhraseId, samples: usize) -> Input {
    Input::Phrase {
        id,
        audio: Ok(Arc::new(vec![0xFF; samples])),
    }
}

pub fn reply(turn: TurnId, output: ReplyOutput) -> Input {
    Input::Reply { turn, output }
}

/// The outputs of a reply that says `sentence` with `samples` of audio, without finishing.
pub fn sentence(turn: TurnId, text: &str, samples: usize) -> Vec<Input> {
    vec![
        reply(turn, ReplyOutput::SpeechRequested),
        reply(
            turn,
            ReplyOutput::SentenceStarted {
                text: text.into(),
                first_audio_ms: 150,
            },
        ),
        reply(turn, ReplyOutput::Audio(vec![0xFF; samples])),
        reply(
            turn,
            ReplyOutput::SentenceDone {
                text: text.into(),
                provider: "google",
                first_audio_ms: 150,
                failures: Vec::new(),
            },
        ),
    ]
}

pub fn finished(turn: TurnId, text: &str) -> Input {
    reply(
        turn,
        ReplyOutput::Finished {
            text: text.into(),
            first_sentence_ms: Some(400),
            error: None,
            truncated: false,
        },
    )
}

pub fn transcribed(effects: &[Effect]) -> Vec<TurnId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Transcribe { turn, .. } => Some(*turn),
            _ => None,
        })
        .collect()
}

pub fn replies(effects: &[Effect]) -> Vec<TurnId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply { turn, .. } => Some(*turn),
            _ => None,
        })
        .collect()
}

/// The model's request of the (first) reply asked for.
pub fn request_of(effects: &[Effect]) -> &crate::providers::llm::ChatRequest {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Reply { request, .. } => Some(request),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no reply asked for in {effects:?}"))
}

/// The last user message of each reply requested.
pub fn asked(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply { request, .. } => request.messages.iter().rev().find_map(|m| match m {
                crate::providers::llm::ChatMessage::User(text) => Some(text.clone()),
                _ => None,
            }),
            _ => None,
        })
        .collect()
}

pub fn cancelled(effects: &[Effect]) -> Vec<TurnId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::CancelTurn(turn) => Some(*turn),
            _ => None,
        })
        .collect()
}

pub fn phrase_ids(effects: &[Effect]) -> Vec<PhraseId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Phrase { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

pub fn phrases(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Phrase { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

pub fn marks(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Mark(mark) => Some(mark.clone()),
            _ => None,
        })
        .collect()
}

/// The kinds of the events recorded, in order.
pub fn events(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(Record::Event { kind, .. }) => Some(kind.clone()),
            _ => None,
        })
        .collect()
}

pub fn event_detail(effects: &[Effect], kind: &str) -> serde_json::Value {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Record(Record::Event {
                kind: k, detail, ..
            }) if k == kind => detail.clone(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {kind} event in {effects:?}"))
}

/// The turns recorded: (seq, role, text, heard_text, interrupted).
pub fn turns(effects: &[Effect]) -> Vec<(i64, String, String, Option<String>, bool)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(Record::Turn { turn, .. }) => Some((
                turn.seq,
                turn.role.clone(),
                turn.text.clone(),
                turn.heard_text.clone(),
                turn.interrupted,
            )),
            _ => None,
        })
        .collect()
}

pub fn ended(effects: &[Effect]) -> Option<(Ending, String)> {
    effects.iter().find_map(|e| match e {
        Effect::End { ending, outcome } => Some((ending.clone(), outcome.clone())),
        _ => None,
    })
}

pub fn position(effects: &[Effect], wanted: impl Fn(&Effect) -> bool) -> usize {
    effects
        .iter()
        .position(wanted)
        .unwrap_or_else(|| panic!("effect not found in {effects:?}"))
}

/// Effects are not `Clone` (they carry requests); the log keeps what tests look at.
fn clone_effect(effect: &Effect) -> Effect {
    match effect {
        Effect::Transcribe { turn, prompt, .. } => Effect::Transcribe {
            turn: *turn,
            pcm: Vec::new(),
            prompt: prompt.clone(),
        },
        Effect::Reply { turn, request } => Effect::Reply {
            turn: *turn,
            request: request.clone(),
        },
        Effect::CancelTurn(turn) => Effect::CancelTurn(*turn),
        Effect::Phrase { id, text, voice } => Effect::Phrase {
            id: *id,
            text: text.clone(),
            voice: voice.clone(),
        },
        Effect::Audio(audio) => Effect::Audio(audio.clone()),
        Effect::Mark(mark) => Effect::Mark(mark.clone()),
        Effect::Clear => Effect::Clear,
        Effect::Record(record) => Effect::Record(record.clone()),
        Effect::StartRecording => Effect::StartRecording,
        Effect::DetachStream => Effect::DetachStream,
        Effect::Transfer { why, to } => Effect::Transfer {
            why: why.clone(),
            to: to.clone(),
        },
        Effect::SayThroughTwilio { text } => Effect::SayThroughTwilio { text: text.clone() },
        Effect::InvokeTool {
            turn,
            call,
            tool,
            key,
        } => Effect::InvokeTool {
            turn: *turn,
            call: call.clone(),
            tool: tool.clone(),
            key: key.clone(),
        },
        Effect::Sms { to, text, key } => Effect::Sms {
            to: to.clone(),
            text: text.clone(),
            key: key.clone(),
        },
        Effect::VoiceToVoice(v2v) => Effect::VoiceToVoice(*v2v),
        Effect::End { ending, outcome } => Effect::End {
            ending: ending.clone(),
            outcome: outcome.clone(),
        },
    }
}
