//! The call's decisions, as a synchronous state machine: inputs and the time in, effects out. No
//! tokio, no I/O, no clock: [`CallCore::handle`] is given what happened and when, and answers with
//! what the session must do ([`Effect`]s, in order). Unit tests drive it with made-up instants.
//!
//! Layout (each part owns its state; only this file coordinates them):
//! - [`turns`]      turn-taking: utterances sent to STT in speech order, eager guesses confirmed or
//!   dropped, the reply in flight, supersession, the filler deadline.
//! - [`ledger`]     the playback ledger: agent audio sent, marks echoed, what the caller has heard,
//!   the sentence cut by a barge-in.
//! - [`dialogue`]   what was said: the model's history, turn numbers, the agent turn being spoken,
//!   its timings, and the turn records.
//! - [`escalation`] loops, unintelligible turns, silence prompts, and what a key press does.
//! - [`tools`]      what the model's tool calls do to the call.
//! - [`callback_tool`] `request_callback`: its arguments, and what the model is told of the promise.
//! - [`tool_round`] a reply's business tool calls, their results, and the model asked again.
//! - [`preemptive`] a reply started on an eager transcript, held until the turn is confirmed.
//! - [`end_of_turn`] how much silence ends this turn, from its words and voice.
//! - [`flow`]       the coordinator's handlers, split by job (this file holds the types).

mod callback_tool;
mod dialogue;
mod end_of_turn;
mod escalation;
mod flow;
mod ledger;
mod preemptive;
mod tool_round;
mod tools;
mod turns;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sicha_audio::endpoint::EndpointEvent;

use crate::providers::llm::{ChatRequest, ToolCall};
use crate::store::{Business, CallStatus, Record};
use crate::twilio::socket::StreamEnd;

pub use dialogue::StageTime;
pub use escalation::SilencePolicy;

/// Identifies one utterance's work (its STT, and the reply formed from it). Results carry it, so a
/// cancelled or superseded turn's late result is recognised and ignored.
pub type TurnId = u64;

/// Identifies one request for a fixed phrase's audio.
pub type PhraseId = u64;

/// The time an input happened: a monotonic instant for deadlines and durations, and the wall clock in
/// epoch milliseconds for the records.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub at: Instant,
    pub wall_ms: i64,
}

/// Who answers the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentMode {
    /// The AI agent: Whisper → LLM → Hebrew TTS.
    Ai,
    /// Plays each caller utterance back: checks a line end to end without AI providers.
    Echo,
    /// Listens and records, never speaks.
    Silent,
}

/// What the core is started with: the call's fixed facts and policies.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub call_sid: String,
    pub mode: AgentMode,
    /// The business answering; the AI agent needs one.
    pub business: Option<Business>,
    /// The caller's number as Twilio gave it (E.164, or "anonymous" and the like).
    pub caller_number: String,
    pub silence: SilencePolicy,
    /// The call is ended this long after it starts.
    pub max_call: Duration,
    /// How long a call sent to `<Say>` may take to come back on a new stream.
    pub reconnect_wait: Duration,
    /// Start answering on an eager transcript, holding the audio until the turn is confirmed.
    pub preemptive_replies: bool,
    /// Decide the end of turns from their words and voice with this policy; `None`: the
    /// endpointer's hangover alone.
    pub end_of_turn: Option<crate::call::hebrew::end_of_turn::HangoverPolicy>,
    /// Said first instead of the business's greeting (a call-back says why it calls).
    pub opening: Option<String>,
    /// What the model is told of an earlier call this one follows up (a call-back's reason).
    pub earlier_call_summary: Option<String>,
    /// This server can place a promised call-back (Twilio's REST API is configured): the model may
    /// be offered `request_callback`.
    pub can_place_callbacks: bool,
}

/// Everything the core hears.
#[derive(Debug)]
pub enum Input {
    /// A media stream joined the call (a new one replaces the old).
    StreamAttached { stream_sid: String },
    /// A stream ended; `stream_sid` tells an old stream's end from the current one's.
    StreamEnded { stream_sid: String, end: StreamEnd },
    /// The caller's speech, from the endpointer.
    Speech(EndpointEvent),
    /// Twilio echoed a mark: the audio before it has played (or was cleared).
    MarkPlayed(String),
    /// The caller pressed a key.
    Dtmf(String),
    /// Speech-to-text finished for a turn's utterance.
    Transcript { turn: TurnId, outcome: SttOutcome },
    /// Something the reply of `turn` produced, in the order it produced it.
    Reply { turn: TurnId, output: ReplyOutput },
    /// A fixed phrase's audio, from the cache or synthesised; `Err` when no provider could say it.
    Phrase {
        id: PhraseId,
        audio: Result<Arc<Vec<u8>>, String>,
    },
    /// A call update through Twilio's REST API finished.
    ActionDone(ActionResult),
    /// A business tool answered (`Ok`: its JSON) or did not (`Err`: what the model is told).
    ToolResult {
        turn: TurnId,
        call_id: String,
        result: Result<serde_json::Value, serde_json::Value>,
        ms: u64,
    },
    /// Time passed: a deadline from [`CallCore::next_deadline`] may be due.
    Tick,
    /// The server is shutting down: end the call now.
    Shutdown,
}

/// What speech-to-text answered for one utterance.
#[derive(Debug, Clone, PartialEq)]
pub enum SttOutcome {
    Text {
        text: String,
        signals: crate::call::transcript::SpeechSignals,
        stt_ms: u64,
    },
    Failed {
        error: String,
        stt_ms: u64,
    },
}

/// What a reply (LLM → sentences → TTS) produces, in order, on its turn's own path.
#[derive(Debug)]
pub enum ReplyOutput {
    /// The first token of the answer arrived.
    LlmFirstToken { ms: u64 },
    /// A stage on the way to the first audio finished.
    Timing(StageTime),
    /// A sentence went to text-to-speech (a request that costs, heard or not).
    SpeechRequested,
    /// A sentence's audio starts: its chunks follow.
    SentenceStarted { text: String, first_audio_ms: u64 },
    /// A chunk of the current sentence's audio, μ-law 8 kHz.
    Audio(Vec<u8>),
    /// The current sentence is fully sent: it gets its mark.
    SentenceDone {
        text: String,
        provider: &'static str,
        first_audio_ms: u64,
        failures: Vec<(String, String)>,
    },
    /// Every TTS provider failed for this sentence.
    SentenceFailed {
        text: String,
        failures: Vec<(String, String)>,
    },
    /// The model called a tool (after its text, if any).
    ToolCall(ToolCall),
    /// The reply is complete (or broke off).
    Finished {
        text: String,
        first_sentence_ms: Option<u64>,
        error: Option<String>,
        truncated: bool,
    },
}

/// How a REST update of the call went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionResult {
    /// The call was handed to `to`.
    Transferred { why: String, to: String },
    /// The transfer could not be made; `error` says why.
    TransferFailed { why: String, error: String },
    /// Twilio says the text and then reconnects the call to a new stream.
    SaidThroughTwilio { text: String },
    /// The `<Say>` fallback could not be sent (`None`: there was no way to send it at all).
    SayFailed { error: Option<String> },
}

/// What the session must do, in order.
#[derive(Debug, PartialEq)]
pub enum Effect {
    /// Transcribe this utterance; report [`Input::Transcript`] for `turn`.
    Transcribe {
        turn: TurnId,
        pcm: Vec<i16>,
        prompt: String,
    },
    /// Start the reply for `turn`; its outputs come back as [`Input::Reply`].
    Reply { turn: TurnId, request: ChatRequest },
    /// Stop the work of `turn` (its STT or its reply); nothing more of it is wanted.
    CancelTurn(TurnId),
    /// Fetch a fixed phrase's audio (`voice` is the business's); report [`Input::Phrase`].
    Phrase {
        id: PhraseId,
        text: String,
        voice: Option<String>,
    },
    /// Call a business's tool; report [`Input::ToolResult`] for `turn`.
    InvokeTool {
        turn: TurnId,
        call: ToolCall,
        tool: Box<crate::business_tools::ToolDeclaration>,
        key: String,
    },
    /// Send agent audio (μ-law 8 kHz) to the caller.
    Audio(Vec<u8>),
    /// Send a mark after the audio sent so far.
    Mark(String),
    /// Drop everything Twilio has buffered.
    Clear,
    /// Write a record of the call.
    Record(Record),
    /// Start the call's recording (the first stream joined).
    StartRecording,
    /// The current stream is gone: forget its outbound side.
    DetachStream,
    /// Hand the call to `to`; report [`ActionResult::Transferred`] or `TransferFailed`.
    Transfer { why: String, to: String },
    /// Have Twilio say `text`, then reconnect; report `SaidThroughTwilio` or `SayFailed`.
    SayThroughTwilio { text: String },
    /// Text the caller (the `send_sms` tool), through the outbox; `key` is the idempotency key.
    Sms {
        to: String,
        text: String,
        key: String,
    },
    /// The answer's first audio reached the caller this long after their speech ended.
    VoiceToVoice(Duration),
    /// The call is over; its last records were emitted just before.
    End { ending: Ending, outcome: String },
}

/// Why the call ended, as recorded on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub status: CallStatus,
    pub reason: String,
}

impl Ending {
    pub fn completed(reason: &str) -> Self {
        Self {
            status: CallStatus::Completed,
            reason: reason.to_string(),
        }
    }

    fn with(status: CallStatus, reason: &str) -> Self {
        Self {
            status,
            reason: reason.to_string(),
        }
    }
}

/// The state of one call. See the module docs.
pub struct CallCore {
    config: CoreConfig,
    /// The effects of the input being handled; drained by [`CallCore::handle`].
    effects: Vec<Effect>,
    turns: turns::TurnTaking,
    ledger: ledger::PlaybackLedger,
    dialogue: dialogue::Dialogue,
    escalation: escalation::Escalation,
    tools: tools::Tools,
    /// A reply started before the caller's turn was confirmed, held until it is.
    preemptive: Option<preemptive::Preemptive>,
    /// The request of the latest reply started, by turn: a tool round continues from it.
    last_request: Option<(TurnId, ChatRequest)>,
    /// The business tool calls of the reply in flight.
    tool_round: Option<tool_round::ToolRound>,
    /// The end of turns decided from words and voice (when configured).
    end_of_turn: Option<end_of_turn::EndOfTurn>,
    filter: crate::call::transcript::TranscriptFilter,
    /// The current stream, once one has attached.
    stream_sid: Option<String>,
    /// The current stream is attached: audio can be sent.
    stream_live: bool,
    /// Between the caller's SpeechStarted and the end of that utterance.
    caller_speaking: bool,
    /// A filler broke the caller's wait before their turn was formed: what they had waited.
    filler_wait: Option<Duration>,
    /// Lone fillers the caller said ("אממ"), put before their next words rather than answered.
    carried: Vec<String>,
    /// The call's length limit, from the first stream.
    hard_deadline: Option<Instant>,
    /// A REST update sent the call to a new stream: the end of this one is not the end of the call.
    awaiting_reconnect: Option<Instant>,
    /// The call ends once the audio in flight has played (goodbye, end_call).
    end_after_playback: Option<Ending>,
    /// Overrides how a `stop` is recorded (a transfer ends our stream on purpose).
    stop_reason: Option<String>,
    /// Phrases asked for whose audio has not come back yet, with what they are for.
    phrases: Vec<(PhraseId, PhrasePurpose)>,
    next_phrase: PhraseId,
    ended: bool,
}

/// Why a fixed phrase is said: it decides when its words join the agent's turn.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PhrasePurpose {
    /// Part of what the agent says now (greeting, prompts, apologies): its words joined the turn
    /// when it was asked for.
    Spoken(String),
    /// A filler while an answer is prepared: its words open that answer (see `flow::speaking`).
    Filler,
}

impl CallCore {
    pub fn new(config: CoreConfig) -> Self {
        Self {
            turns: turns::TurnTaking::default(),
            ledger: ledger::PlaybackLedger::default(),
            dialogue: dialogue::Dialogue::new(&config.call_sid)
                .following_up(config.earlier_call_summary.clone()),
            escalation: escalation::Escalation::new(config.silence),
            tools: tools::Tools::for_call(
                config.business.as_ref(),
                &config.caller_number,
                config.can_place_callbacks,
            ),
            preemptive: None,
            last_request: None,
            tool_round: None,
            end_of_turn: config.end_of_turn.map(end_of_turn::EndOfTurn::new),
            config,
            effects: Vec::new(),
            filter: crate::call::transcript::TranscriptFilter::default(),
            stream_sid: None,
            stream_live: false,
            caller_speaking: false,
            filler_wait: None,
            carried: Vec::new(),
            hard_deadline: None,
            awaiting_reconnect: None,
            end_after_playback: None,
            stop_reason: None,
            phrases: Vec::new(),
            next_phrase: 0,
            ended: false,
        }
    }

    /// Handles one input at `now`; returns what to do, in order. After [`Effect::End`] the core
    /// ignores everything.
    pub fn handle(&mut self, input: Input, now: Now) -> Vec<Effect> {
        if !self.ended {
            self.dispatch(input, now);
        }
        std::mem::take(&mut self.effects)
    }

    /// The earliest moment something is due without any input: the session sleeps until then and
    /// sends [`Input::Tick`].
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        let filler = self.turns.filler_due_at();
        let silence = self.escalation.silence_due_at();
        let end_of_turn = self.end_of_turn.as_ref().and_then(|e| e.deadline());
        let tool_wait = self
            .tool_round
            .as_ref()
            .and_then(|r| r.waiting.as_ref().map(|(at, _)| *at));
        [
            self.hard_deadline,
            self.awaiting_reconnect,
            filler,
            silence,
            end_of_turn,
            tool_wait,
            self.preempt_due_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The call is over (its [`Effect::End`] was emitted).
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// True while the agent's audio is on the line or on its way (a mark not yet echoed, a sentence
    /// streaming, a phrase being fetched).
    pub fn agent_audible(&self) -> bool {
        self.ledger.is_audible() || !self.phrases.is_empty()
    }

    fn emit(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    fn event(&mut self, now: Now, kind: &str, detail: Option<serde_json::Value>) {
        let record = Record::event(&self.config.call_sid, kind, detail, now.wall_ms);
        self.emit(Effect::Record(record));
    }

    fn is_ai(&self) -> bool {
        self.config.mode == AgentMode::Ai && self.config.business.is_some()
    }
}
