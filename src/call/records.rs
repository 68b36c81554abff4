//! What a call leaves behind in the CRM once it has ended: its interaction (transcript, outcome,
//! optional LLM summary) and the after-call deliveries (CRM webhook, SMS) queued in the outbox,
//! built by [`crate::deliveries::after_call`] (shared with the restart that ends a call a crash cut
//! off); and the texts the agent sends during the call. (Turns and events are written as they
//! happen, by the session, from the core's records.) Store failures are logged and never stop the
//! call.

use super::context::CallContext;
use crate::clock::now_ms;
use crate::deliveries::after_call::{
    EndedCall, after_call_records, record_after_call, transcript_text,
};
use crate::deliveries::sms::enqueue_sms;
use crate::providers::llm::{ChatMessage, ChatRequest};
use crate::store::{Call, CallDirection, CallStatus};

/// The `send_sms` tool: a text to `to`, from the business's number, through the outbox. `key` makes
/// a replayed request the same delivery.
pub async fn enqueue_caller_sms(ctx: &CallContext, to: &str, text: &str, key: &str) {
    let Some(business) = &ctx.business else {
        return;
    };
    match enqueue_sms(ctx.store(), to, &business.number, text, key, now_ms()).await {
        Ok(_) => {
            tracing::info!("SMS to the caller queued");
            if let Some(outbox) = &ctx.services.outbox {
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
    let store = ctx.store();
    let turns = match store.turns_for_call(&ctx.call_sid).await {
        Ok(turns) => turns,
        Err(error) => {
            tracing::error!(%error, end_reason, "could not read the call's turns for its interaction");
            Vec::new()
        }
    };
    let events = match store.events_for_call(&ctx.call_sid).await {
        Ok(events) => events,
        Err(error) => {
            tracing::error!(%error, end_reason, "could not read the call's events for its after-call records");
            Vec::new()
        }
    };
    let summary = match (ctx.agent(), ctx.after_call().summary && !turns.is_empty()) {
        (Some(agent), true) => summarise(agent, &transcript_text(&turns)).await,
        _ => None,
    };
    let call = match store.call_by_sid(&ctx.call_sid).await {
        Ok(Some(call)) => call,
        // Not readable now: what the session knows of it makes the same records.
        other => {
            if let Err(error) = other {
                tracing::error!(%error, end_reason, "could not read the call for its interaction");
            }
            call_from_context(ctx, ended_at_ms)
        }
    };
    let public_base = ctx.public_base();
    let ended = EndedCall {
        business,
        call: &call,
        turns: &turns,
        events: &events,
        public_base: public_base.as_ref(),
        ended_at_ms,
        outcome,
        summary,
    };
    let Some(records) = after_call_records(&ended, ctx.after_call(), now_ms()) else {
        return;
    };
    record_after_call(store, &records, now_ms()).await;
    if let Some(outbox) = &ctx.services.outbox {
        outbox.notify();
    }
}

fn call_from_context(ctx: &CallContext, ended_at_ms: i64) -> Call {
    let business_number = ctx
        .business
        .as_ref()
        .map(|b| b.number.clone())
        .unwrap_or_default();
    let (from_number, to_number) = match ctx.direction {
        CallDirection::Inbound => (ctx.caller_number.clone(), business_number),
        CallDirection::Outbound => (business_number, ctx.caller_number.clone()),
    };
    Call {
        call_sid: ctx.call_sid.clone(),
        business_id: ctx.business.as_ref().map(|b| b.id.clone()),
        customer_id: ctx.customer_id.clone(),
        from_number,
        to_number,
        instance_id: String::new(),
        status: CallStatus::Completed,
        started_at_ms: ctx.started_at_ms,
        stream_started_at_ms: None,
        ended_at_ms: Some(ended_at_ms),
        end_reason: None,
        twilio_status: None,
        twilio_duration_secs: None,
        recording_path: None,
        direction: ctx.direction,
        parent_call_sid: None,
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
