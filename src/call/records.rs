//! What a call leaves behind in the CRM once it has ended: its interaction (transcript, outcome,
//! optional LLM summary) and the after-call deliveries (CRM webhook, SMS) queued in the outbox; and
//! the texts the agent sends during the call. (Turns and events are written as they happen, by the
//! session, from the core's records.) Store failures are logged and never stop the call.

use super::context::CallContext;
use crate::clock::now_ms;
use crate::deliveries::crm_webhook::{CrmInteraction, enqueue_crm_webhook};
use crate::deliveries::sms::{enqueue_post_call_sms, enqueue_sms};
use crate::providers::llm::{ChatMessage, ChatRequest};
use crate::store::turns::ROLE_CALLER;
use crate::store::{NewInteraction, Turn};

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

fn transcript_text(turns: &[Turn]) -> String {
    turns
        .iter()
        .map(|turn| {
            let who = if turn.role == ROLE_CALLER {
                "לקוח"
            } else {
                "סוכנת"
            };
            let text = turn
                .heard_text
                .as_deref()
                .filter(|_| turn.interrupted)
                .unwrap_or(&turn.text);
            format!("{who}: {text}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The call's CRM record, committed once the call has ended, and its after-call deliveries.
pub async fn record_interaction(
    ctx: &CallContext,
    end_reason: &str,
    outcome: String,
    ended_at_ms: i64,
) {
    let (Some(business), Some(customer_id)) = (&ctx.business, &ctx.customer_id) else {
        return;
    };
    let store = ctx.store();
    let turns = match store.turns_for_call(&ctx.call_sid).await {
        Ok(turns) => turns,
        Err(error) => {
            tracing::error!(%error, "could not read the call's turns for its interaction");
            Vec::new()
        }
    };
    let transcript = transcript_text(&turns);
    let summary = match (ctx.agent(), ctx.after_call().summary && !turns.is_empty()) {
        (Some(agent), true) => summarise(agent, &transcript).await,
        _ => None,
    };
    let call = store.call_by_sid(&ctx.call_sid).await.ok().flatten();
    let recording_path = call.as_ref().and_then(|c| c.recording_path.clone());
    let interaction = NewInteraction {
        business_id: business.id.clone(),
        customer_id: customer_id.clone(),
        call_sid: ctx.call_sid.clone(),
        kind: "call".into(),
        direction: "inbound".into(),
        outcome: Some(outcome.clone()),
        transcript,
        summary: summary.clone(),
        recording_path,
        started_at_ms: ctx.started_at_ms,
        duration_ms: Some(ended_at_ms - ctx.started_at_ms),
        now_ms: now_ms(),
    };
    if let Err(error) = store.insert_interaction(&interaction).await {
        tracing::error!(%error, end_reason, "could not record the CRM interaction");
    }
    let Some(call) = call else { return };
    let payload = CrmInteraction::from_records(business, &call, &turns, Some(outcome), summary);
    if ctx.after_call().crm_webhook_url.is_some()
        && let Err(error) = enqueue_crm_webhook(store, &payload, now_ms()).await
    {
        tracing::error!(%error, "could not queue the CRM webhook");
    }
    let contact = business.transfer_to.as_deref();
    if let Err(error) = enqueue_post_call_sms(
        store,
        ctx.after_call().post_call_sms,
        &payload,
        contact,
        now_ms(),
    )
    .await
    {
        tracing::warn!(%error, "could not queue the post-call SMS");
    }
    if let Some(outbox) = &ctx.services.outbox {
        outbox.notify();
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
