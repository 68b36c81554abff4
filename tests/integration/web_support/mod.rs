//! What the web tests share: an app with an admin configured and a signed-in client ([`client`]),
//! and a small world of businesses, customers and calls (turns, events, a barge-in, a real Ogg Opus
//! recording) inserted through the store; [`real_call`] makes one over the wire instead.

mod client;
pub mod real_call;

pub use client::{ADMIN, PASSWORD, cheap_hash, get_signed_in, plain_client, sign_in, web_app};

use std::path::{Path, PathBuf};

use serde_json::json;
use sicha::store::{CallStatus, NewBusiness, NewCall, NewInteraction, NewTurn, Store};

use crate::common::TestApp;

/// 2025-06-15 09:00:00 UTC, the first seeded call.
pub const DAY_MS: i64 = 86_400_000;
pub const MORNING_MS: i64 = 1_749_978_000_000;

pub struct World {
    pub business_id: String,
    pub other_business_id: String,
    pub dana_id: String,
    pub recording: PathBuf,
}

pub const CALLER_TEXT: &str = "שלום, אני רוצה לקבוע תור לתספורת <script>alert(\"x\")</script>";
pub const INTERRUPTED_ANSWER: &str =
    "בשמחה. יש לנו תור פנוי ביום ראשון בעשר. יש גם תור ביום שני בשתיים.";
pub const HEARD_PART: &str = "בשמחה. יש לנו תור פנוי ביום ראשון בעשר.";
pub const FINAL_ANSWER: &str = "קבעתי לך תור ליום ראשון בעשר. להתראות!";

/// Writes a one-second two-track Ogg Opus recording (a tone on the caller side).
pub fn write_recording(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = sicha_audio::opus::RecordingWriter::new(file, 8000).unwrap();
    let tone: Vec<i16> = (0..8000)
        .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 8000.0).sin() * 8000.0) as i16)
        .collect();
    writer.push_caller(&tone).unwrap();
    writer.push_agent(&tone[..4000]).unwrap();
    writer.finish().unwrap();
}

async fn call(
    store: &Store,
    sid: &str,
    business: &str,
    number: &str,
    from: &str,
    customer: &str,
    at: i64,
) {
    store
        .insert_call(&NewCall {
            call_sid: sid.to_string(),
            business_id: Some(business.to_string()),
            customer_id: Some(customer.to_string()),
            from_number: from.to_string(),
            to_number: number.to_string(),
            instance_id: "test-instance".to_string(),
            status: CallStatus::Answered,
            started_at_ms: at,
            direction: Default::default(),
            parent_call_sid: None,
        })
        .await
        .unwrap();
}

async fn turn(store: &Store, sid: &str, seq: i64, role: &str, text: &str, at: i64) -> NewTurn {
    let turn = NewTurn::said(sid, seq, role, text, at, at + 2000);
    store.insert_turn(&turn).await.unwrap();
    turn
}

/// Two businesses; Dana's completed call CAweb1 (barge-in, TTS fallback, recording, interaction),
/// a dropped call CAweb2 from a nameless caller with a loop a day later, and CAweb3 to the
/// other business two days later.
pub async fn seed(app: &TestApp, recordings: &Path) -> World {
    let store = &app.store;
    let business = store
        .create_business(
            &NewBusiness {
                number: "+97231234567".into(),
                name: "מספרת דני".into(),
                greeting: "שלום, הגעתם למספרה של דני.".into(),
                system_prompt: "את עוזרת טלפונית של מספרה.".into(),
                voice: None,
                transfer_to: Some("+972529999999".into()),
                dtmf_map: None,
                sms_policy: None,
                preemptive_replies: None,
                tools: None,
                opening_hours: None,
            },
            MORNING_MS - DAY_MS,
        )
        .await
        .unwrap();
    let other = store
        .create_business(
            &NewBusiness {
                number: "+97239876543".into(),
                name: "מרפאת שיניים".into(),
                greeting: "שלום, הגעתם למרפאה.".into(),
                system_prompt: "את עוזרת טלפונית של מרפאה.".into(),
                voice: Some("he-IL-Wavenet-B".into()),
                transfer_to: None,
                dtmf_map: None,
                sms_policy: None,
                preemptive_replies: None,
                tools: None,
                opening_hours: None,
            },
            MORNING_MS - DAY_MS,
        )
        .await
        .unwrap();
    let dana = store
        .find_or_create_customer(&business.id, "+972501234567", MORNING_MS)
        .await
        .unwrap();
    store
        .set_customer_name(&dana.id, Some("דנה כהן"))
        .await
        .unwrap();
    let nameless = store
        .find_or_create_customer(&business.id, "+972541112222", MORNING_MS + DAY_MS)
        .await
        .unwrap();
    let patient = store
        .find_or_create_customer(&other.id, "+972521113333", MORNING_MS + 2 * DAY_MS)
        .await
        .unwrap();

    // CAweb1: the whole conversation.
    let t0 = MORNING_MS;
    call(
        store,
        "CAweb1",
        &business.id,
        &business.number,
        &dana.phone,
        &dana.id,
        t0,
    )
    .await;
    store.mark_streaming("CAweb1", t0 + 500).await.unwrap();
    store
        .insert_event(
            "CAweb1",
            "stream_started",
            Some(&json!({"stream_sid": "MZweb1"})),
            t0 + 500,
        )
        .await
        .unwrap();
    turn(
        store,
        "CAweb1",
        1,
        "agent",
        "שלום, הגעתם למספרה של דני. במה אפשר לעזור?",
        t0 + 600,
    )
    .await;
    turn(store, "CAweb1", 2, "caller", CALLER_TEXT, t0 + 4000).await;
    let mut answer = turn_template("CAweb1", 3, INTERRUPTED_ANSWER, t0 + 7000);
    answer.interrupted = true;
    answer.heard_text = Some(HEARD_PART.into());
    store.insert_turn(&answer).await.unwrap();
    store
        .insert_event(
            "CAweb1",
            "barge_in",
            Some(&json!({"at_sample": 68_000, "cleared": ["m2", "m3"]})),
            t0 + 8500,
        )
        .await
        .unwrap();
    turn(
        store,
        "CAweb1",
        4,
        "caller",
        "ראשון בעשר מתאים לי",
        t0 + 9000,
    )
    .await;
    // The booking tool the agent called, and its answer 380 ms later.
    store
        .insert_event(
            "CAweb1",
            "tool_call",
            Some(&json!({"id": "call_1", "name": "book_appointment",
                "arguments": {"date": "2025-06-15", "time": "10:00", "name": "דנה"}})),
            t0 + 10_000,
        )
        .await
        .unwrap();
    store
        .insert_event(
            "CAweb1",
            "tool_result",
            Some(
                &json!({"id": "call_1", "name": "book_appointment", "ok": true, "ms": 380,
                "result": {"booked": true, "reference": "B-17"}}),
            ),
            t0 + 10_380,
        )
        .await
        .unwrap();
    store
        .insert_event(
            "CAweb1",
            "tts_fallback",
            Some(&json!({"failed": "google", "error": "timeout", "served_by": "openai"})),
            t0 + 11_000,
        )
        .await
        .unwrap();
    store
        .insert_turn(&turn_template("CAweb1", 5, FINAL_ANSWER, t0 + 11_500))
        .await
        .unwrap();
    // A kind this version does not know, with markup in its detail.
    store
        .insert_event(
            "CAweb1",
            "a_future_kind",
            Some(&json!({"note": "<b>bold</b>"})),
            t0 + 14_000,
        )
        .await
        .unwrap();
    store
        .finish_call(
            "CAweb1",
            CallStatus::Completed,
            "agent_ended_call",
            t0 + 15_000,
        )
        .await
        .unwrap();
    let recording = recordings.join("CAweb1.opus");
    write_recording(&recording);
    store
        .set_recording_path("CAweb1", recording.to_str().unwrap())
        .await
        .unwrap();
    store
        .insert_interaction(&NewInteraction {
            business_id: business.id.clone(),
            customer_id: dana.id.clone(),
            call_sid: "CAweb1".into(),
            kind: "call".into(),
            direction: "inbound".into(),
            outcome: Some("booked".into()),
            transcript: format!("לקוח: {CALLER_TEXT}\nסוכן: {FINAL_ANSWER}"),
            summary: None,
            recording_path: None,
            started_at_ms: t0,
            duration_ms: Some(15_000),
            now_ms: t0 + 15_000,
        })
        .await
        .unwrap();

    // CAweb2: a loop, then the line dropped.
    let t1 = MORNING_MS + DAY_MS;
    call(
        store,
        "CAweb2",
        &business.id,
        &business.number,
        &nameless.phone,
        &nameless.id,
        t1,
    )
    .await;
    turn(
        store,
        "CAweb2",
        1,
        "caller",
        "אני רוצה לבטל את ההזמנה",
        t1 + 1000,
    )
    .await;
    store
        .insert_event("CAweb2", "loop_detected", None, t1 + 5000)
        .await
        .unwrap();
    store
        .finish_call("CAweb2", CallStatus::Dropped, "stream_stopped", t1 + 9000)
        .await
        .unwrap();

    // CAweb3: the clinic.
    let t2 = MORNING_MS + 2 * DAY_MS;
    call(
        store,
        "CAweb3",
        &other.id,
        &other.number,
        &patient.phone,
        &patient.id,
        t2,
    )
    .await;
    turn(store, "CAweb3", 1, "caller", "מתי הרופאה מקבלת?", t2 + 1000).await;
    store
        .finish_call(
            "CAweb3",
            CallStatus::Completed,
            "agent_ended_call",
            t2 + 30_000,
        )
        .await
        .unwrap();

    World {
        business_id: business.id,
        other_business_id: other.id,
        dana_id: dana.id,
        recording,
    }
}

/// A call of the first business whose recording is the file at `path` (any bytes).
pub async fn recorded_call(app: &TestApp, sid: &str, path: &Path) {
    let store = &app.store;
    let business = store
        .business_by_number("+97231234567")
        .await
        .unwrap()
        .expect("seeded");
    let customer = store
        .find_or_create_customer(&business.id, "+972501234567", MORNING_MS)
        .await
        .unwrap();
    call(
        store,
        sid,
        &business.id,
        &business.number,
        &customer.phone,
        &customer.id,
        MORNING_MS + 3 * DAY_MS,
    )
    .await;
    store
        .set_recording_path(sid, path.to_str().unwrap())
        .await
        .unwrap();
}

/// An agent answer with every stage timed.
fn turn_template(sid: &str, seq: i64, text: &str, at: i64) -> NewTurn {
    NewTurn {
        call_sid: sid.to_string(),
        seq,
        role: "agent".to_string(),
        text: text.to_string(),
        heard_text: None,
        started_at_ms: at,
        ended_at_ms: at + 3000,
        interrupted: false,
        stt_ms: Some(320),
        llm_ttft_ms: Some(280),
        llm_first_sentence_ms: Some(520),
        tts_ttfb_ms: Some(190),
        endpoint_ms: Some(240),
        v2v_ms: Some(1_310),
    }
}
