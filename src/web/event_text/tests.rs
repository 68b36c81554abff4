//! Every kind the call code records has Hebrew words; unknown kinds and shapes stay as recorded.

use super::*;
use serde_json::json;

fn detail(kind: &str, detail: Value) -> String {
    describe(kind, Some(&detail)).detail
}

#[test]
fn every_kind_the_call_code_records_has_a_hebrew_label() {
    let kinds = [
        "barge_in",
        "loop_detected",
        "callback_requested",
        "callback_attempt",
        "callback_given_up",
        "transferred",
        "transfer_failed",
        "fallback_say",
        "fallback_failed",
        "dtmf",
        "silence",
        "filler",
        "eager_dropped",
        "transcript_dropped",
        "stt_failed",
        "tts_fallback",
        "tts_failed",
        "llm_failed",
        "llm_truncated",
        "tool_call",
        "tool_result",
        "tool_refused",
        "call_ended",
        "stream_started",
        "stream_resumed",
        "stream_rejected",
        "twilio_stream_status",
    ];
    for kind in kinds {
        let text = describe(kind, None);
        assert_ne!(text.label, kind);
        assert!(
            text.label
                .chars()
                .any(|c| ('\u{5d0}'..='\u{5ea}').contains(&c)),
            "{kind}: {}",
            text.label
        );
    }
}

#[test]
fn details_read_as_short_hebrew() {
    assert_eq!(
        detail(
            "tts_fallback",
            json!({"failed": "google", "error": "timeout", "served_by": "openai"})
        ),
        "google נכשל · openai דיבר במקומו · שגיאה: timeout"
    );
    assert_eq!(
        detail(
            "barge_in",
            json!({"at_sample": 98_400, "cleared": ["m3", "m4"]})
        ),
        "2 קטעים לא הושמעו · בהקלטה 0:12"
    );
    assert_eq!(
        detail(
            "loop_detected",
            json!({"who": "caller", "count": 3, "text": "שלום"})
        ),
        "הלקוח חזר על עצמו · 3 פעמים · «שלום»"
    );
    assert_eq!(
        detail(
            "callback_requested",
            json!({"reason": "dtmf", "digit": "9"})
        ),
        "בלחיצה על מקש · מקש 9"
    );
    assert_eq!(
        detail(
            "transfer_failed",
            json!({"why": "dtmf", "digit": "0", "reason": "no transfer number"})
        ),
        "בלחיצה על מקש · מקש 0 · לעסק אין מספר להעברה"
    );
    assert_eq!(
        detail("transferred", json!({"why": "tool", "to": "+972529999999"})),
        "לבקשת הסוכן · אל +972529999999"
    );
    assert_eq!(
        detail(
            "tts_failed",
            json!({"text": "רגע", "failures": [["google", "500"], ["openai", "timeout"]]})
        ),
        "«רגע» · נכשלו: google (500), openai (timeout)"
    );
    assert_eq!(
        detail(
            "tool_call",
            json!({"name": "send_sms", "arguments": {"text": "הכתובת: הרצל 1"}})
        ),
        "שליחת SMS ללקוח · «הכתובת: הרצל 1»"
    );
    assert_eq!(
        detail("tool_call", json!({"name": "end_call", "arguments": {}})),
        "סיום השיחה"
    );
    assert_eq!(
        detail("call_ended", json!({"reason": "agent_ended_call"})),
        "הסוכן סיים"
    );
    assert_eq!(
        detail(
            "transcript_dropped",
            json!({"reason": "NotHebrew", "text": "hello"})
        ),
        "לא בעברית · «hello»"
    );
    assert_eq!(
        detail(
            "twilio_stream_status",
            json!({"stream_event": "stream-stopped", "stream_sid": "MZ1", "error": null})
        ),
        "הזרם נעצר · זרם MZ1"
    );
    assert_eq!(detail("silence", json!({"prompt": 2})), "תזכורת 2");
    assert_eq!(describe("filler", None).detail, "");
}

#[test]
fn unknown_kinds_keys_and_shapes_are_shown_as_recorded() {
    let text = describe(
        "new_kind",
        Some(&json!({"a": 1, "b": "<i>x</i>", "c": null})),
    );
    assert_eq!(text.label, "new_kind");
    assert_eq!(text.detail, "a: 1 · b: <i>x</i>");
    assert_eq!(
        detail("tts_fallback", json!({"failed": "google", "retries": 2})),
        "google נכשל · retries: 2"
    );
    assert_eq!(detail("dtmf", json!("5")), "5");
    assert_eq!(
        detail("barge_in", json!({"cleared": "all", "at_sample": -1})),
        "cleared: all · at_sample: -1"
    );
    assert_eq!(
        detail("tts_failed", json!({"failures": "none"})),
        "failures: none"
    );
}

#[test]
fn warnings_are_the_events_that_need_a_look() {
    for kind in ["barge_in", "tts_fallback", "stt_failed", "stream_rejected"] {
        assert!(describe(kind, None).notable, "{kind}");
    }
    for kind in ["dtmf", "stream_started", "call_ended", "filler"] {
        assert!(!describe(kind, None).notable, "{kind}");
    }
}

#[test]
fn call_back_attempts_say_how_they_went() {
    let answered = detail(
        "callback_attempt",
        json!({ "attempt": 2, "call_sid": "CA9", "result": "answered" }),
    );
    assert_eq!(answered, "ניסיון 2 · הלקוח ענה · שיחה CA9");
    let unanswered = detail(
        "callback_attempt",
        json!({ "attempt": 1, "call_sid": "CA8", "result": "no-answer" }),
    );
    assert_eq!(unanswered, "ניסיון 1 · אין מענה · שיחה CA8");
    let given_up = describe(
        "callback_given_up",
        Some(&json!({ "attempts": 3, "reason": "busy" })),
    );
    assert!(given_up.notable);
    assert_eq!(given_up.detail, "אחרי 3 ניסיונות · סיבה: busy");
}

#[test]
fn tool_results_refusals_and_asked_for_call_backs_read_as_hebrew() {
    assert_eq!(
        detail(
            "callback_requested",
            json!({ "why": "tool", "reason": "לקבוע צבע", "when": "מחר בבוקר" })
        ),
        "לבקשת הסוכן · בנושא «לקבוע צבע» · מועד מבוקש: מחר בבוקר"
    );
    assert_eq!(
        detail(
            "tool_result",
            json!({ "id": "c1", "name": "book_table", "ok": true, "ms": 42, "result": { "booked": true } })
        ),
        "book_table · הצליחה · תשובה: {\"booked\":true} · 42 ms"
    );
    let refused = describe(
        "tool_refused",
        Some(
            &json!({ "id": "c2", "name": "request_callback", "why": "a call-back is already promised in this call" }),
        ),
    );
    assert!(refused.notable);
    assert_eq!(
        refused.detail,
        "רישום שיחה חוזרת · סיבה: a call-back is already promised in this call"
    );
}
