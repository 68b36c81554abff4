//! What a call leaves behind: a row per turn as each ends, and when the call ends its CRM interaction
//! (transcript, outcome, optional LLM summary) plus the after-call deliveries (CRM webhook, SMS)
//! queued in the outbox, built by [`crate::deliveries::after_call`] (shared with the restart that
//! ends a call a crash cut off). Store failures are logged and never stop the call.

use std::time::Duration;

use serde_json::json;

use super::session::CallContext;
use crate::clock::now_ms;
use crate::deliveries::after_call::{
    EndedCall, after_call_records, record_after_call, transcript_text,
};
use crate::deliveries::sms::{enqueue_sms, sms_idempotency_key};
use crate::providers::llm::{ChatMessage, ChatRequest, ToolSpec};
use crate::store::turns::{AnswerSpan, ROLE_AGENT, ROLE_CALLER};
use crate::store::{Call, CallStatus, NewTurn, Record};

/// Stage timings of an agent turn, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub endpoint_ms: Option<i64>,
    pub stt_ms: Option<i64>,
    pub llm_ttft_ms: Option<i64>,
    pub llm_first_sentence_ms: Option<i64>,
    pub tts_ttfb_ms: Option<i64>,
    pub v2v_ms: Option<i64>,
    /// The server's own span of the answer (see [`AnswerSpan`]).
    pub span: AnswerSpan,
}

/// A provider stage of the answer reaching its first result, reported as it happens so an answer
/// cut off by barge-in keeps its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageTime {
    /// The LLM request → its first complete sentence, in ms.
    LlmFirstSentence(u64),
    /// The TTS request for a sentence → its first audible audio, in ms.
    TtsFirstAudio(u64),
}

impl Timings {
    /// The transcript reached the session `since_heard` after the end of speech was confirmed: the
    /// caller waited on STT for that long, at most `stt_ms` (nothing if eager transcription had
    /// already finished it). The answer starts here, so a superseded turn's later stages go.
    pub fn transcribed(&mut self, stt_ms: u64, endpoint_ms: u64, since_heard: Duration) {
        self.llm_ttft_ms = None;
        self.llm_first_sentence_ms = None;
        self.tts_ttfb_ms = None;
        self.span.turnaround_ms = None;
        self.stt_ms = Some(stt_ms as i64);
        self.endpoint_ms = Some(endpoint_ms as i64);
        self.span.stt_wait_ms = Some(stt_ms.min(since_heard.as_millis() as u64) as i64);
    }

    /// The answer's first audio was handed to the socket `since_heard` after the end of speech was
    /// confirmed.
    pub fn first_audio_sent(&mut self, since_heard: Duration) {
        self.span
            .turnaround_ms
            .get_or_insert(since_heard.as_millis() as i64);
    }

    /// The first time of each stage counts: the first sentence is the one the caller waits for.
    pub fn stage(&mut self, stage: StageTime) {
        let (slot, ms) = match stage {
            StageTime::LlmFirstSentence(ms) => (&mut self.llm_first_sentence_ms, ms),
            StageTime::TtsFirstAudio(ms) => (&mut self.tts_ttfb_ms, ms),
        };
        slot.get_or_insert(ms as i64);
    }
}

/// A caller utterance as the agent understood it.
pub struct CallerTurn {
    pub seq: i64,
    pub text: String,
    pub stt_ms: u64,
    pub endpoint_ms: u64,
}

impl CallerTurn {
    pub async fn commit(self, ctx: &CallContext) {
        let now = now_ms();
        let turn = NewTurn {
            call_sid: ctx.call_sid.clone(),
            seq: self.seq,
            role: ROLE_CALLER.into(),
            text: self.text,
            heard_text: None,
            started_at_ms: now - self.stt_ms as i64 - self.endpoint_ms as i64,
            ended_at_ms: now,
            interrupted: false,
            stt_ms: Some(self.stt_ms as i64),
            llm_ttft_ms: None,
            llm_first_sentence_ms: None,
            tts_ttfb_ms: None,
            endpoint_ms: Some(self.endpoint_ms as i64),
            v2v_ms: None,
        };
        let span = AnswerSpan::default();
        ctx.records
            .write(Record::Turn {
                turn: Box::new(turn),
                span,
            })
            .await;
    }
}

/// What the agent said in one turn, gathered while it plays.
#[derive(Debug)]
pub struct SpokenTurn {
    pub seq: i64,
    pub text: String,
    /// Texts of the pieces the caller heard (the last one may be a partial piece).
    pub heard: Vec<String>,
    pub started_at_ms: i64,
    /// The reply is complete: nothing more will be added.
    pub finished: bool,
    pub timings: Timings,
}

impl SpokenTurn {
    pub fn new(seq: i64) -> Self {
        Self {
            seq,
            text: String::new(),
            heard: Vec::new(),
            started_at_ms: now_ms(),
            finished: false,
            timings: Timings::default(),
        }
    }

    pub fn append(&mut self, sentence: &str) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(sentence.trim());
    }

    pub fn heard_text(&self) -> String {
        self.heard
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub async fn commit(self, ctx: &CallContext, interrupted: bool, heard: String) {
        let t = self.timings;
        let span = t.span;
        let turn = NewTurn {
            call_sid: ctx.call_sid.clone(),
            seq: self.seq,
            role: ROLE_AGENT.into(),
            text: self.text,
            heard_text: interrupted.then_some(heard),
            started_at_ms: self.started_at_ms,
            ended_at_ms: now_ms(),
            interrupted,
            stt_ms: t.stt_ms,
            llm_ttft_ms: t.llm_ttft_ms,
            llm_first_sentence_ms: t.llm_first_sentence_ms,
            tts_ttfb_ms: t.tts_ttfb_ms,
            endpoint_ms: t.endpoint_ms,
            v2v_ms: t.v2v_ms,
        };
        ctx.records
            .write(Record::Turn {
                turn: Box::new(turn),
                span,
            })
            .await;
    }
}

/// The tools the model may call. No transfer number, no transfer tool.
pub fn tools(can_transfer: bool) -> Vec<ToolSpec> {
    let mut tools = vec![
        ToolSpec {
            name: "end_call".into(),
            description: "End the call after saying goodbye, when the caller has what they need."
                .into(),
            parameters: json!({ "type": "object", "properties": {}, "additionalProperties": false }),
        },
        ToolSpec {
            name: "send_sms".into(),
            description: "Text the caller a short message (an address, a confirmation, a link)."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": { "text": { "type": "string", "description": "The message, in Hebrew." } },
                "required": ["text"],
                "additionalProperties": false
            }),
        },
    ];
    if can_transfer {
        tools.push(ToolSpec {
            name: "transfer_to_human".into(),
            description: "Transfer the caller to a human at the business, when they ask for a person or the \
                          request is beyond what you can do."
                .into(),
            parameters: json!({ "type": "object", "properties": {}, "additionalProperties": false }),
        });
    }
    tools
}

/// The `send_sms` tool: a text to the caller, from the business's number, through the outbox.
pub async fn enqueue_caller_sms(ctx: &CallContext, text: &str) {
    let Some(business) = &ctx.business else {
        return;
    };
    let key = format!(
        "{}:{}",
        sms_idempotency_key(&ctx.call_sid, &ctx.caller_number),
        now_ms()
    );
    let body: String = text.chars().take(1600).collect();
    match enqueue_sms(
        &ctx.store,
        &ctx.caller_number,
        &business.number,
        &body,
        &key,
        now_ms(),
    )
    .await
    {
        Ok(_) => {
            tracing::info!("SMS to the caller queued");
            if let Some(outbox) = &ctx.outbox {
                outbox.notify();
            }
        }
        Err(error) => tracing::warn!(%error, "the SMS to the caller could not be queued"),
    }
}

/// The call's CRM record, committed once the call has ended, and its after-call deliveries.
pub async fn record_interaction(
    ctx: &CallContext,
    end_reason: &str,
    outcome: String,
    ended_at_ms: i64,
) {
    let (Some(business), Some(_)) = (&ctx.business, &ctx.customer_id) else {
        return;
    };
    let turns = match ctx.store.turns_for_call(&ctx.call_sid).await {
        Ok(turns) => turns,
        Err(error) => {
            tracing::error!(%error, end_reason, "could not read the call's turns for its interaction");
            Vec::new()
        }
    };
    let summary = match (&ctx.agent, ctx.after_call.summary && !turns.is_empty()) {
        (Some(agent), true) => summarise(agent, &transcript_text(&turns)).await,
        _ => None,
    };
    let call = match ctx.store.call_by_sid(&ctx.call_sid).await {
        Ok(Some(call)) => call,
        // Not readable now: what the session knows of it makes the same records.
        other => {
            if let Err(error) = other {
                tracing::error!(%error, end_reason, "could not read the call for its interaction");
            }
            call_from_context(ctx, ended_at_ms)
        }
    };
    let ended = EndedCall {
        business,
        call: &call,
        turns: &turns,
        ended_at_ms,
        outcome,
        summary,
    };
    let Some(records) = after_call_records(&ended, &ctx.after_call, now_ms()) else {
        return;
    };
    record_after_call(&ctx.store, &records, now_ms()).await;
    if let Some(outbox) = &ctx.outbox {
        outbox.notify();
    }
}

/// The call's row as the session knows it, for when the stored one cannot be read.
fn call_from_context(ctx: &CallContext, ended_at_ms: i64) -> Call {
    Call {
        call_sid: ctx.call_sid.clone(),
        business_id: ctx.business.as_ref().map(|b| b.id.clone()),
        customer_id: ctx.customer_id.clone(),
        from_number: ctx.caller_number.clone(),
        to_number: ctx
            .business
            .as_ref()
            .map(|b| b.number.clone())
            .unwrap_or_default(),
        instance_id: String::new(),
        status: CallStatus::Completed,
        started_at_ms: ctx.started_at_ms,
        stream_started_at_ms: None,
        ended_at_ms: Some(ended_at_ms),
        end_reason: None,
        twilio_status: None,
        twilio_duration_secs: None,
        recording_path: None,
    }
}

async fn summarise(agent: &super::agent::Agent, transcript: &str) -> Option<String> {
    let request = ChatRequest::new(vec![
        ChatMessage::system(
            "סכמי בעברית, במשפט או שניים, את שיחת הטלפון הבאה בין לקוח לסוכנת: מה הלקוח רצה ומה סוכם.",
        ),
        ChatMessage::user(transcript),
    ]);
    match agent.llm.complete(&request).await {
        Ok(summary) if !summary.trim().is_empty() => Some(summary.trim().to_string()),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "the call summary failed; the interaction is recorded without one");
            None
        }
    }
}
