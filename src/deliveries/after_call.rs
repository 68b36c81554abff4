//! What a call leaves for the CRM once it has ended, built from its stored records: the interaction
//! (the transcript as the caller heard it, the outcome, the tools the agent used) and the deliveries the settings ask for (the
//! CRM webhook, the post-call SMS) or the call asked for (a promised call-back). The end of a live call writes them one by one with
//! [`record_after_call`]; the start after a crash writes them together with the call's end
//! ([`crate::store::Store::end_interrupted_call`]), so both leave the same records.

use super::{CrmInteraction, callback_delivery, crm_webhook_delivery, post_call_sms_delivery};
use crate::config::AfterCallSettings;
use crate::store::turns::ROLE_CALLER;
use crate::store::{AfterCallRecords, Business, Call, Event, NewInteraction, Store, Turn};

/// An ended call as stored, and what became of it.
pub struct EndedCall<'a> {
    pub business: &'a Business,
    /// The call's row; a row not yet showing its end is taken to have ended at `ended_at_ms`.
    pub call: &'a Call,
    pub turns: &'a [Turn],
    /// Its events: a `callback_requested` among them queues the call-back.
    pub events: &'a [Event],
    /// Where Twilio reached this server for the call, when known: the call-back's links are made
    /// on it unless `SICHA_PUBLIC_URL` is set.
    pub public_base: Option<&'a url::Url>,
    pub ended_at_ms: i64,
    pub outcome: String,
    pub summary: Option<String>,
}

/// The call's interaction and deliveries; `None` for a call without a customer, which has no one
/// to attach an interaction to. A delivery that cannot be built is logged and left out.
pub fn after_call_records(
    ended: &EndedCall<'_>,
    settings: &AfterCallSettings,
    now_ms: i64,
) -> Option<AfterCallRecords> {
    let customer_id = ended.call.customer_id.clone()?;
    let mut call = ended.call.clone();
    call.ended_at_ms.get_or_insert(ended.ended_at_ms);
    let interaction = NewInteraction {
        business_id: ended.business.id.clone(),
        customer_id,
        call_sid: call.call_sid.clone(),
        kind: "call".into(),
        direction: call.direction.as_str().into(),
        outcome: Some(ended.outcome.clone()),
        transcript: transcript_text(ended.turns),
        summary: ended.summary.clone(),
        recording_path: call.recording_path.clone(),
        started_at_ms: call.started_at_ms,
        duration_ms: Some(ended.ended_at_ms - call.started_at_ms),
        now_ms,
    };
    let payload = CrmInteraction::from_records(
        ended.business,
        &call,
        ended.turns,
        ended.events,
        Some(ended.outcome.clone()),
        ended.summary.clone(),
    );
    let mut deliveries = Vec::new();
    if settings.crm_webhook_url.is_some() {
        match crm_webhook_delivery(&payload) {
            Ok(delivery) => deliveries.push(delivery),
            Err(error) => tracing::error!(%error, "could not queue the CRM webhook"),
        }
    }
    let contact = ended.business.transfer_to.as_deref();
    match post_call_sms_delivery(settings.post_call_sms, &payload, contact) {
        Ok(Some(delivery)) => deliveries.push(delivery),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "could not queue the post-call SMS"),
    }
    let callback = callback_delivery(
        ended.business,
        &call.call_sid,
        call.customer_number(),
        ended.events,
        ended.public_base,
        ended.ended_at_ms,
    );
    match callback {
        Ok(Some(delivery)) => deliveries.push(delivery),
        Ok(None) => {}
        Err(error) => tracing::error!(%error, "could not queue the promised call-back"),
    }
    Some(AfterCallRecords {
        interaction,
        deliveries,
    })
}

/// Writes the records as a live call's end does: each on its own, a failure logged and the rest
/// still written. `true` when a delivery was queued, so the outbox worker should look now.
pub async fn record_after_call(store: &Store, records: &AfterCallRecords, now_ms: i64) -> bool {
    if let Err(error) = store.insert_interaction(&records.interaction).await {
        tracing::error!(%error, "could not record the CRM interaction");
    }
    let mut queued = false;
    for delivery in &records.deliveries {
        match store.enqueue_delivery(delivery, now_ms).await {
            Ok(_) => queued = true,
            Err(error) => {
                tracing::error!(%error, kind = %delivery.kind, "could not queue an after-call delivery");
            }
        }
    }
    queued
}

/// The conversation as the interaction keeps it: one line per turn, and of an answer the caller
/// cut off, only what they heard.
pub fn transcript_text(turns: &[Turn]) -> String {
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
