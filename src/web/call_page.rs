//! One call: who and when, the recording, and the conversation as a chat with its events at their
//! moment (each tool call with its outcome as one) and each answer's latency drawn as a waterfall.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;

use super::auth::SignedIn;
use super::{WebError, WebState, event_text, format, render};
use crate::deliveries::tool_calls::{
    TOOL_CALL, TOOL_REFUSED, TOOL_RESULT, ToolCallRecord, tool_calls,
};
use crate::store::events::AGENT_SPEAKING;
use crate::store::turns::ROLE_AGENT;
use crate::store::{CallDirection, Event, Turn};

pub struct TurnView {
    role: &'static str,
    speaker: &'static str,
    at: String,
    text: String,
    interrupted: bool,
    heard: String,
    unheard: String,
    stages: Vec<Stage>,
}

pub struct EventView {
    label: String,
    at: String,
    detail: String,
    notable: bool,
}

/// A tool the agent called, with what came of it.
pub struct ToolView {
    label: String,
    at: String,
    /// The arguments as JSON; empty when there were none.
    arguments: String,
    ok: bool,
    outcome: &'static str,
    /// The result or the error, as JSON (a refusal's reason as text); empty when there was none.
    answer: String,
    ms: Option<u64>,
}

/// One moment of the conversation: a turn, an event or a tool call.
pub struct Moment {
    turn: Option<TurnView>,
    event: Option<EventView>,
    tool: Option<ToolView>,
}

/// One bar of a latency waterfall, placed on the call's common scale.
pub struct Stage {
    key: &'static str,
    label: &'static str,
    ms: i64,
    start_pct: String,
    width_pct: String,
}

#[derive(Template)]
#[template(path = "call.html")]
struct CallPage {
    user: String,
    nav: &'static str,
    call_sid: String,
    caller_display: String,
    customer_id: Option<String>,
    customer_name: Option<String>,
    /// Who called in, or who was called back.
    customer_number: String,
    business_id: Option<String>,
    business_name: String,
    business_number: String,
    /// A call-back sicha placed.
    outbound: bool,
    /// For a call-back: the call that asked for it.
    parent_sid: Option<String>,
    started: String,
    ended: Option<String>,
    length: String,
    status: &'static str,
    status_label: &'static str,
    end_reason: Option<String>,
    typical_v2v: Option<i64>,
    has_recording: bool,
    timeline: Vec<Moment>,
}

pub async fn show(
    signed_in: SignedIn,
    State(state): State<WebState>,
    Path(call_sid): Path<String>,
) -> Result<Html<String>, WebError> {
    let store = &state.app.store;
    let call = store
        .call_by_sid(&call_sid)
        .await?
        .ok_or(WebError::NotFound)?;
    let business = match &call.business_id {
        Some(id) => store.business_by_id(id).await?,
        None => None,
    };
    let customer = match &call.customer_id {
        Some(id) => store.customer_by_id(id).await?,
        None => None,
    };
    let turns = store.turns_for_call(&call_sid).await?;
    let mut events = store.events_for_call(&call_sid).await?;
    // The sentences sent to the line are in the turns already; their events are for crash recovery.
    events.retain(|event| event.kind != AGENT_SPEAKING);
    let customer_name = customer.and_then(|c| c.name);
    render(CallPage {
        user: signed_in.user,
        nav: "calls",
        caller_display: customer_name
            .clone()
            .unwrap_or_else(|| call.customer_number().to_string()),
        customer_id: call.customer_id.clone(),
        customer_name,
        customer_number: call.customer_number().to_string(),
        business_id: call.business_id.clone(),
        business_name: business.map(|b| b.name).unwrap_or_default(),
        business_number: match call.direction {
            CallDirection::Inbound => call.to_number.clone(),
            CallDirection::Outbound => call.from_number.clone(),
        },
        outbound: call.direction == CallDirection::Outbound,
        parent_sid: call.parent_call_sid.clone(),
        started: format::time(call.started_at_ms)
            + &format!(":{}", &format::clock(call.started_at_ms)[6..]),
        ended: call.ended_at_ms.map(format::clock),
        length: format::call_length(
            call.started_at_ms,
            call.ended_at_ms,
            call.twilio_duration_secs,
        ),
        status: call.status.as_str(),
        status_label: format::status_label(call.status),
        end_reason: call.end_reason.as_deref().map(format::end_reason_label),
        typical_v2v: median(turns.iter().filter_map(|t| t.v2v_ms).collect()),
        has_recording: call.recording_path.is_some(),
        timeline: timeline(&turns, &events, call.started_at_ms),
        call_sid: call.call_sid,
    })
}

/// Turns, events and tool calls merged by time; an event at the same moment as a turn's start
/// follows it. A tool call shows at the moment the model made it, with its outcome.
fn timeline(turns: &[Turn], events: &[Event], call_start_ms: i64) -> Vec<Moment> {
    let scale = waterfall_scale(turns);
    let offset = |at_ms: i64| format!("+{}", format::duration(at_ms - call_start_ms));
    let mut moments: Vec<(i64, usize, Moment)> = Vec::with_capacity(turns.len() + events.len());
    for turn in turns {
        moments.push((
            turn.started_at_ms,
            0,
            Moment {
                turn: Some(turn_view(turn, scale, offset(turn.started_at_ms))),
                event: None,
                tool: None,
            },
        ));
    }
    for call in tool_calls(events) {
        moments.push((
            call.at_ms,
            1,
            Moment {
                turn: None,
                event: None,
                tool: Some(tool_view(&call, offset(call.at_ms))),
            },
        ));
    }
    let is_tool_event = |kind: &str| [TOOL_CALL, TOOL_RESULT, TOOL_REFUSED].contains(&kind);
    for event in events.iter().filter(|e| !is_tool_event(&e.kind)) {
        let text = event_text::describe(&event.kind, event.detail.as_ref());
        moments.push((
            event.at_ms,
            1,
            Moment {
                turn: None,
                event: Some(EventView {
                    label: text.label,
                    at: offset(event.at_ms),
                    detail: text.detail,
                    notable: text.notable,
                }),
                tool: None,
            },
        ));
    }
    // A stable sort keeps turns in seq order and events in seq order among equal times.
    moments.sort_by_key(|(at, kind, _)| (*at, *kind));
    moments.into_iter().map(|(_, _, moment)| moment).collect()
}

/// How much of a tool's arguments or answer the page shows.
const TOOL_JSON_CHARS: usize = 300;

fn tool_view(call: &ToolCallRecord, at: String) -> ToolView {
    let json = |value: &serde_json::Value| match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(map) if map.is_empty() => String::new(),
        serde_json::Value::String(text) => format::excerpt(text, TOOL_JSON_CHARS),
        other => format::excerpt(&other.to_string(), TOOL_JSON_CHARS),
    };
    let (outcome, answer) = match (&call.result, &call.error) {
        (_, Some(error)) => ("לא בוצעה", json(error)),
        (Some(result), None) => ("הצליחה", json(result)),
        // The call's own actions (ending it, a transfer, a text queued) answer nothing.
        (None, None) => ("בוצעה", String::new()),
    };
    ToolView {
        label: event_text::tool_label(&call.tool).to_string(),
        at,
        arguments: json(&call.arguments),
        ok: call.ok,
        outcome,
        answer,
        ms: call.ms,
    }
}

fn turn_view(turn: &Turn, scale: i64, at: String) -> TurnView {
    let agent = turn.role == ROLE_AGENT;
    let (heard, unheard) = match (&turn.heard_text, turn.interrupted) {
        (Some(heard), true) => match turn.text.strip_prefix(heard.as_str()) {
            Some(rest) => (heard.trim_end().to_string(), rest.trim_start().to_string()),
            // The heard part is not a prefix (it was normalised): show it, and the whole answer as unheard.
            None => (heard.clone(), turn.text.clone()),
        },
        _ => (String::new(), String::new()),
    };
    TurnView {
        role: if agent { "agent" } else { "caller" },
        speaker: if agent { "סוכן" } else { "לקוח" },
        at,
        text: turn.text.clone(),
        interrupted: turn.interrupted && turn.heard_text.is_some(),
        heard,
        unheard,
        stages: if agent {
            stages(turn, scale)
        } else {
            Vec::new()
        },
    }
}

/// The longest answer of the call in milliseconds, so every waterfall shares one scale.
fn waterfall_scale(turns: &[Turn]) -> i64 {
    turns
        .iter()
        .map(|t| {
            let chain = t.endpoint_ms.unwrap_or(0)
                + t.stt_ms.unwrap_or(0)
                + t.llm_first_sentence_ms.or(t.llm_ttft_ms).unwrap_or(0)
                + t.tts_ttfb_ms.unwrap_or(0);
            chain.max(t.v2v_ms.unwrap_or(0))
        })
        .max()
        .unwrap_or(0)
        .max(1)
}

/// The stages one after another: the end of speech is detected, transcribed, the model answers
/// (first token, first whole sentence), speech starts; voice-to-voice spans it all.
fn stages(turn: &Turn, scale: i64) -> Vec<Stage> {
    let endpoint = turn.endpoint_ms.unwrap_or(0);
    let stt_end = endpoint + turn.stt_ms.unwrap_or(0);
    let llm_end = stt_end + turn.llm_first_sentence_ms.or(turn.llm_ttft_ms).unwrap_or(0);
    let bar = |key, label, start: i64, ms: Option<i64>| {
        ms.map(|ms| Stage {
            key,
            label,
            ms,
            start_pct: percent(start, scale),
            width_pct: percent(ms, scale),
        })
    };
    [
        bar("endpoint", "זיהוי סוף דיבור", 0, turn.endpoint_ms),
        bar("stt", "תמלול", endpoint, turn.stt_ms),
        bar("llm_ttft", "מודל: מילה ראשונה", stt_end, turn.llm_ttft_ms),
        bar(
            "llm_sentence",
            "מודל: משפט ראשון",
            stt_end,
            turn.llm_first_sentence_ms,
        ),
        bar("tts", "דיבור: שמע ראשון", llm_end, turn.tts_ttfb_ms),
        bar("v2v", "קול לקול", 0, turn.v2v_ms),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn percent(ms: i64, scale: i64) -> String {
    let value = (ms.max(0) as f64 * 100.0 / scale as f64).min(100.0);
    format!("{value:.1}")
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent_turn(seq: i64, started: i64) -> Turn {
        Turn {
            call_sid: "CA1".into(),
            seq,
            role: "agent".into(),
            text: "שלום. מה שלומך?".into(),
            heard_text: None,
            started_at_ms: started,
            ended_at_ms: started + 500,
            interrupted: false,
            stt_ms: Some(300),
            llm_ttft_ms: Some(200),
            llm_first_sentence_ms: Some(400),
            tts_ttfb_ms: Some(100),
            endpoint_ms: Some(200),
            v2v_ms: Some(1000),
        }
    }

    #[test]
    fn stages_follow_each_other_on_the_common_scale() {
        let turn = agent_turn(1, 0);
        let stages = stages(&turn, waterfall_scale(std::slice::from_ref(&turn)));
        let placed: Vec<(&str, &str, &str)> = stages
            .iter()
            .map(|s| (s.key, s.start_pct.as_str(), s.width_pct.as_str()))
            .collect();
        assert_eq!(
            placed,
            [
                ("endpoint", "0.0", "20.0"),
                ("stt", "20.0", "30.0"),
                ("llm_ttft", "50.0", "20.0"),
                ("llm_sentence", "50.0", "40.0"),
                ("tts", "90.0", "10.0"),
                ("v2v", "0.0", "100.0"),
            ]
        );
    }

    #[test]
    fn an_interrupted_answer_is_split_into_heard_and_unheard() {
        let mut turn = agent_turn(1, 0);
        turn.interrupted = true;
        turn.heard_text = Some("שלום.".into());
        let view = turn_view(&turn, 1000, "+0:00".into());
        assert!(view.interrupted);
        assert_eq!(
            (view.heard.as_str(), view.unheard.as_str()),
            ("שלום.", "מה שלומך?")
        );
    }

    #[test]
    fn events_land_between_the_turns_around_them() {
        let turns = [agent_turn(1, 1000), agent_turn(2, 5000)];
        let event = Event {
            call_sid: "CA1".into(),
            seq: 1,
            kind: "barge_in".into(),
            detail: None,
            at_ms: 1200,
        };
        let moments = timeline(&turns, &[event], 0);
        let shape: Vec<&str> = moments
            .iter()
            .map(|m| if m.turn.is_some() { "turn" } else { "event" })
            .collect();
        assert_eq!(shape, ["turn", "event", "turn"]);
    }

    #[test]
    fn a_tool_call_is_one_moment_with_its_outcome_in_place_of_its_events() {
        let event = |seq, kind: &str, detail, at_ms| Event {
            call_sid: "CA1".into(),
            seq,
            kind: kind.into(),
            detail: Some(detail),
            at_ms,
        };
        let events = [
            event(
                1,
                "tool_call",
                serde_json::json!({ "id": "c1", "name": "book_table", "arguments": { "guests": 4 } }),
                1500,
            ),
            event(
                2,
                "tool_result",
                serde_json::json!({ "id": "c1", "name": "book_table", "ok": false, "ms": 2000, "result": { "error": "timeout" } }),
                3500,
            ),
            event(
                3,
                "tool_call",
                serde_json::json!({ "id": "c2", "name": "end_call", "arguments": {} }),
                4000,
            ),
        ];
        let moments = timeline(&[agent_turn(1, 1000)], &events, 0);
        assert_eq!(
            moments.len(),
            3,
            "a turn and two tool calls, no loose events"
        );
        let booking = moments[1].tool.as_ref().unwrap();
        assert_eq!(
            (
                booking.label.as_str(),
                booking.arguments.as_str(),
                booking.ok,
                booking.outcome,
                booking.answer.as_str(),
                booking.ms
            ),
            (
                "book_table",
                "{\"guests\":4}",
                false,
                "לא בוצעה",
                "{\"error\":\"timeout\"}",
                Some(2000)
            )
        );
        let end = moments[2].tool.as_ref().unwrap();
        assert_eq!(
            (end.label.as_str(), end.arguments.as_str(), end.outcome),
            ("סיום השיחה", "", "בוצעה")
        );
    }

    #[test]
    fn the_median_is_the_middle_value() {
        assert_eq!(median(vec![900, 100, 500]), Some(500));
        assert_eq!(median(Vec::new()), None);
    }
}
