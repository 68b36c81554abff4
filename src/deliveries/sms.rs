//! The post-call SMS: a short Hebrew text to the business or the caller, queued here and sent
//! through Twilio.
//!
//! Layout: this file (the queued payload and enqueueing), [`body`] (the Hebrew text), [`sender`]
//! (the Twilio deliverer, which keeps a retry from texting twice; its notes say how).

mod body;
mod sender;

use serde::{Deserialize, Serialize};

pub use body::post_call_sms_body;
pub use sender::SmsSender;

use super::{CrmInteraction, DeliveryError, KIND_SMS};
use crate::config::PostCallSms;
use crate::store::{NewDelivery, Store, validate_e164};
use crate::twilio::rest::MAX_SMS_CHARS;

/// One text message, as queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsMessage {
    pub to: String,
    pub from: String,
    pub body: String,
}

/// Who the post-call text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsAudience {
    /// The business owner: who called, when, and what about.
    Business,
    /// The caller: thanks, with the business's name.
    Caller,
}

/// The idempotency key of a call's text to one number.
pub fn sms_idempotency_key(call_sid: &str, to: &str) -> String {
    format!("sms:{call_sid}:{to}")
}

/// Queues one text, due at once. `false` when `idempotency_key` was already queued. Refuses
/// what Twilio would refuse anyway (empty fields, a body over 1600 characters), so it fails
/// here, where the producer can see it, instead of as a dead row.
pub async fn enqueue_sms(
    store: &Store,
    to: &str,
    from: &str,
    body: &str,
    idempotency_key: &str,
    now_ms: i64,
) -> Result<bool, DeliveryError> {
    let delivery = sms_delivery(to, from, body, idempotency_key)?;
    Ok(store.enqueue_delivery(&delivery, now_ms).await?)
}

/// One text as an outbox row (see [`enqueue_sms`] for what is refused).
pub fn sms_delivery(
    to: &str,
    from: &str,
    body: &str,
    idempotency_key: &str,
) -> Result<NewDelivery, DeliveryError> {
    if to.trim().is_empty() || from.trim().is_empty() || body.trim().is_empty() {
        return Err(DeliveryError::Invalid(
            "an SMS needs a To, a From and a body".into(),
        ));
    }
    let chars = body.chars().count();
    if chars > MAX_SMS_CHARS {
        return Err(DeliveryError::Invalid(format!(
            "the SMS body has {chars} characters; at most {MAX_SMS_CHARS} are sent"
        )));
    }
    let message = SmsMessage {
        to: to.to_string(),
        from: from.to_string(),
        body: body.to_string(),
    };
    let payload = serde_json::to_value(&message).map_err(|source| DeliveryError::Encode {
        kind: KIND_SMS,
        source,
    })?;
    Ok(NewDelivery {
        kind: KIND_SMS.to_string(),
        idempotency_key: idempotency_key.to_string(),
        payload,
        due_at_ms: None,
    })
}

/// Queues the post-call text the settings ask for, from the business's Twilio number.
/// `business_contact` is where the owner reads texts (needed for [`PostCallSms::Business`]).
/// `Ok(false)` when there is nothing to send: the setting is off, the caller's number is hidden
/// or not a phone number, or it was already queued.
pub async fn enqueue_post_call_sms(
    store: &Store,
    setting: PostCallSms,
    interaction: &CrmInteraction,
    business_contact: Option<&str>,
    now_ms: i64,
) -> Result<bool, DeliveryError> {
    match post_call_sms_delivery(setting, interaction, business_contact)? {
        Some(delivery) => Ok(store.enqueue_delivery(&delivery, now_ms).await?),
        None => Ok(false),
    }
}

/// The post-call text the settings ask for, as an outbox row; `None` when there is nothing to
/// send (see [`enqueue_post_call_sms`]).
pub fn post_call_sms_delivery(
    setting: PostCallSms,
    interaction: &CrmInteraction,
    business_contact: Option<&str>,
) -> Result<Option<NewDelivery>, DeliveryError> {
    let (audience, to) = match setting {
        PostCallSms::Off => return Ok(None),
        PostCallSms::Caller => {
            if validate_e164(&interaction.customer_phone).is_err() {
                return Ok(None);
            }
            (SmsAudience::Caller, interaction.customer_phone.as_str())
        }
        PostCallSms::Business => match business_contact {
            Some(contact) if validate_e164(contact).is_ok() => (SmsAudience::Business, contact),
            _ => {
                return Err(DeliveryError::Invalid(
                    "a post-call SMS to the business needs its contact number in E.164".into(),
                ));
            }
        },
    };
    let body = post_call_sms_body(audience, interaction);
    let key = sms_idempotency_key(&interaction.call_sid, to);
    sms_delivery(to, &interaction.business_number, &body, &key).map(Some)
}
