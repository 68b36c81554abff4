//! At start: the calls this instance left open when it last died are ended in its place, as their
//! sessions would have ended them: status `interrupted` (reason `server_restarted`), a `call_ended`
//! event, and for a call whose stream had started (a conversation took place) the CRM interaction
//! with the transcript as far as its turns were committed (outcome `interrupted`) and the
//! after-call deliveries the settings ask for. A call that never streamed gets no interaction, as
//! it gets none when Twilio's status callback ends it. Each call's records are written with its
//! end in one transaction that only one of several racing starts can win (see
//! [`crate::store::reconcile`]), so they exist exactly once.

use crate::clock::now_ms;
use crate::config::Settings;
use crate::deliveries::after_call::{EndedCall, after_call_records};
use crate::store::{Call, CallStatus, Store, StoreError};

/// Ends this instance's calls left open; returns how many this start ended.
pub async fn end_calls_left_open(store: &Store, settings: &Settings) -> Result<usize, StoreError> {
    let mut ended = 0;
    for call in store.open_calls_of_instance(&settings.instance_id).await? {
        let at = now_ms();
        let records = match (&call.business_id, call.stream_started_at_ms) {
            (Some(business_id), Some(_)) => {
                records_of(store, settings, &call, business_id, at).await?
            }
            _ => None,
        };
        if store
            .end_interrupted_call(&call.call_sid, at, records.as_ref())
            .await?
        {
            ended += 1;
        }
    }
    Ok(ended)
}

async fn records_of(
    store: &Store,
    settings: &Settings,
    call: &Call,
    business_id: &str,
    at: i64,
) -> Result<Option<crate::store::AfterCallRecords>, StoreError> {
    let Some(business) = store.business_by_id(business_id).await? else {
        return Ok(None);
    };
    let turns = store.turns_for_call(&call.call_sid).await?;
    let ended = EndedCall {
        business: &business,
        call,
        turns: &turns,
        ended_at_ms: at,
        outcome: CallStatus::Interrupted.as_str().to_string(),
        summary: None,
    };
    Ok(after_call_records(&ended, &settings.after_call, at))
}
