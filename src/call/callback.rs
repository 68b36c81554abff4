//! A call-back's session: the agent opens by saying who is calling and why, instead of the
//! business's greeting, and knows what the earlier call was about (its summary, or the end of its
//! transcript) from the start.

use crate::deliveries::after_call::transcript_text;
use crate::store::{Business, Call, CallDirection, Store};

/// How much of the earlier call's transcript stands in for a missing summary: its last lines.
const EARLIER_LINES: usize = 12;

/// What the agent of a call-back knows before it speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackContext {
    /// Said first, in place of the greeting.
    pub opening: String,
    /// The earlier call, for the model: its summary, or its last lines.
    pub earlier_call: Option<String>,
}

/// What the agent says first when it calls a customer back for `business`.
pub fn callback_opening(business: &Business) -> String {
    format!(
        "שלום, כאן {}. אנחנו חוזרים אליכם בעקבות השיחה הקודמת שלכם איתנו. במה אפשר לעזור?",
        business.name
    )
}

/// The context of `call` when it is a call-back (outbound, with the call that asked for it);
/// `None` otherwise. What cannot be read of the earlier call is left out, never a reason to fail.
pub async fn callback_context(
    store: &Store,
    call: &Call,
    business: Option<&Business>,
) -> Option<CallbackContext> {
    let (CallDirection::Outbound, Some(parent), Some(business)) =
        (call.direction, &call.parent_call_sid, business)
    else {
        return None;
    };
    Some(CallbackContext {
        opening: callback_opening(business),
        earlier_call: earlier_call(store, parent).await,
    })
}

async fn earlier_call(store: &Store, call_sid: &str) -> Option<String> {
    match store.interaction_for_call(call_sid).await {
        Ok(Some(interaction)) => {
            if let Some(summary) = interaction.summary.filter(|s| !s.trim().is_empty()) {
                return Some(summary);
            }
            return last_lines(&interaction.transcript);
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "could not read the earlier call's interaction"),
    }
    match store.turns_for_call(call_sid).await {
        Ok(turns) => last_lines(&transcript_text(&turns)),
        Err(error) => {
            tracing::warn!(%error, "could not read the earlier call's turns");
            None
        }
    }
}

fn last_lines(transcript: &str) -> Option<String> {
    let lines: Vec<&str> = transcript
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let skip = lines.len().saturating_sub(EARLIER_LINES);
    let text = lines[skip..].join("\n");
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_transcript_is_cut_to_its_last_lines() {
        let transcript: String = (1..=20).map(|n| format!("לקוח: שורה {n}\n")).collect();
        let kept = last_lines(&transcript).unwrap();
        assert_eq!(kept.lines().count(), EARLIER_LINES);
        assert!(kept.starts_with("לקוח: שורה 9"), "{kept}");
        assert!(kept.ends_with("שורה 20"));
        assert_eq!(last_lines(" \n"), None);
    }
}
