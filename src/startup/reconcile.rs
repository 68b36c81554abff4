//! At start: the calls this instance left open when it last died are ended in its place, as their
//! sessions would have ended them: status `interrupted` (reason `server_restarted`), a `call_ended`
//! event, and for a call whose stream had started (a conversation took place) the CRM interaction
//! with the transcript as far as its turns were committed (outcome `interrupted`) and the
//! after-call deliveries the settings ask for (and a call-back it promised). The agent turn that was being spoken when the process
//! died is recorded too, as an interrupted turn of the sentences that had gone to the line (their
//! `agent_speaking` events). A call that never streamed gets no interaction, as
//! it gets none when Twilio's status callback ends it. Each call's records are written with its
//! end in one transaction that only one of several racing starts can win (see
//! [`crate::store::reconcile`]), so they exist exactly once.

use crate::clock::now_ms;
use crate::config::Settings;
use crate::deliveries::after_call::{EndedCall, after_call_records};
use crate::store::events::AGENT_SPEAKING;
use crate::store::turns::ROLE_AGENT;
use crate::store::{Call, CallStatus, Event, NewTurn, Store, StoreError, Turn};

/// Ends this instance's calls left open; returns how many this start ended.
pub async fn end_calls_left_open(store: &Store, settings: &Settings) -> Result<usize, StoreError> {
    let mut ended = 0;
    for call in store.open_calls_of_instance(&settings.instance_id).await? {
        let at = now_ms();
        let mut turns = store.turns_for_call(&call.call_sid).await?;
        let events = store.events_for_call(&call.call_sid).await?;
        let cut_off = cut_off_agent_turns(&events, &turns);
        turns.extend(cut_off.iter().cloned());
        turns.sort_by_key(|turn| turn.seq);
        let records = match (&call.business_id, call.stream_started_at_ms) {
            (Some(business_id), Some(_)) => {
                records_of(store, settings, &call, business_id, &turns, &events, at).await?
            }
            _ => None,
        };
        if store
            .end_interrupted_call(&call.call_sid, at, &cut_off, records.as_ref())
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
    turns: &[Turn],
    events: &[Event],
    at: i64,
) -> Result<Option<crate::store::AfterCallRecords>, StoreError> {
    let Some(business) = store.business_by_id(business_id).await? else {
        return Ok(None);
    };
    let ended = EndedCall {
        business: &business,
        call,
        turns,
        events,
        // The stream's URL died with the process; SICHA_PUBLIC_URL, when set, is used instead.
        public_base: None,
        ended_at_ms: at,
        outcome: CallStatus::Interrupted.as_str().to_string(),
        summary: None,
    };
    Ok(after_call_records(&ended, &settings.after_call, at))
}

/// The agent turns that were going to the line when the process died: sentences recorded as
/// `agent_speaking` under a turn number that has no turn of its own. Each becomes an interrupted
/// agent turn of those sentences, in order, from the first sentence's time to the last one's.
fn cut_off_agent_turns(events: &[Event], turns: &[Turn]) -> Vec<NewTurn> {
    let mut cut_off: Vec<NewTurn> = Vec::new();
    for event in events.iter().filter(|e| e.kind == AGENT_SPEAKING) {
        let Some(detail) = &event.detail else {
            continue;
        };
        let (Some(seq), Some(text)) = (detail["turn"].as_i64(), detail["text"].as_str()) else {
            continue;
        };
        if turns.iter().any(|turn| turn.seq == seq) {
            continue;
        }
        match cut_off.iter_mut().find(|turn| turn.seq == seq) {
            Some(turn) => {
                turn.text = format!("{} {text}", turn.text);
                turn.heard_text = Some(turn.text.clone());
                turn.ended_at_ms = turn.ended_at_ms.max(event.at_ms);
            }
            None => cut_off.push(NewTurn {
                // What went to the line is all we know of what was heard.
                heard_text: Some(text.to_string()),
                interrupted: true,
                ..NewTurn::said(
                    &event.call_sid,
                    seq,
                    ROLE_AGENT,
                    text,
                    event.at_ms,
                    event.at_ms,
                )
            }),
        }
    }
    cut_off
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speaking(seq: i64, turn: i64, text: &str, at_ms: i64) -> Event {
        Event {
            call_sid: "CA1".into(),
            seq,
            kind: AGENT_SPEAKING.into(),
            detail: Some(serde_json::json!({ "turn": turn, "text": text })),
            at_ms,
        }
    }

    fn recorded(seq: i64, role: &str, text: &str) -> Turn {
        Turn::said("CA1", seq, role, text, 0, 0)
    }

    #[test]
    fn the_sentences_of_an_unrecorded_agent_turn_become_an_interrupted_turn() {
        let events = [
            speaking(1, 1, "שלום, הגעתם למספרה.", 1000),
            speaking(2, 3, "משמונה בבוקר", 5000),
            Event {
                kind: "barge_in".into(),
                ..speaking(3, 3, "", 5100)
            },
            speaking(4, 3, "ועד שש בערב.", 5600),
        ];
        let turns = [
            recorded(1, ROLE_AGENT, "שלום, הגעתם למספרה."),
            recorded(2, "caller", "מתי אתם פתוחים?"),
        ];
        let cut_off = cut_off_agent_turns(&events, &turns);
        assert_eq!(cut_off.len(), 1, "the greeting was recorded: {cut_off:?}");
        let turn = &cut_off[0];
        assert_eq!(
            (turn.seq, turn.role.as_str(), turn.text.as_str()),
            (3, ROLE_AGENT, "משמונה בבוקר ועד שש בערב.")
        );
        assert!(turn.interrupted);
        assert_eq!(turn.heard_text.as_deref(), Some(turn.text.as_str()));
        assert_eq!((turn.started_at_ms, turn.ended_at_ms), (5000, 5600));
    }

    #[test]
    fn nothing_is_made_up_when_every_turn_was_recorded() {
        let events = [speaking(1, 1, "שלום", 1000)];
        let turns = [recorded(1, ROLE_AGENT, "שלום")];
        assert!(cut_off_agent_turns(&events, &turns).is_empty());
        assert!(cut_off_agent_turns(&[], &[]).is_empty());
    }
}
