//! A business's own tool in whole calls over the real protocol: the model calls it, sicha POSTs it
//! signed to the business's server, the caller hears the result and the CRM interaction lists it; a
//! failing tool is told as a failure; a booking waits for the caller's agreement.

use std::time::Duration;

use serde_json::json;

use crate::business_tools::receiver::ToolServer;
use crate::common;
use crate::common::crm::CountingCrm;
use crate::common::databases::for_each_engine;
use common::{BUSINESS_NUMBER, line, listen};
use sicha::business_tools::{BusinessTools, ToolsFileFormat};
use sicha::deliveries::{CrmInteraction, crm_idempotency_key};
use sicha::store::BusinessChanges;
use sicha_sim::openai::{ChatRule, FAILED_TOOL_REPLY};

const QUIET: Duration = Duration::from_millis(1500);

/// The business's `book_table` tool at `path` on `server` (or a placeholder before it exists).
fn tools_at(base: &str, path: &str, confirm: bool) -> BusinessTools {
    let text = format!(
        "[[tools]]\nname = \"book_table\"\ndescription = \"Book a table for a number of guests.\"\n\
         url = \"{base}/{path}\"\ntimeout_ms = 2000\nwaiting_phrase = \"רגע, אני בודקת\"\n\
         confirm = {confirm}\n\n[tools.parameters]\ntype = \"object\"\nrequired = [\"guests\"]\n\
         properties.guests = {{ type = \"integer\", minimum = 1 }}\n"
    );
    BusinessTools::parse(&text, ToolsFileFormat::Toml).unwrap()
}

/// Gives the test business the tool at `path` of a tool server holding its secret.
async fn with_tool(app: &common::TestApp, path: &str, confirm: bool) -> ToolServer {
    let set = |tools| BusinessChanges {
        tools: Some(Some(tools)),
        ..Default::default()
    };
    let now = sicha::clock::now_ms();
    // The secret is made when the business first gets tools; the server needs it to check signatures.
    let business = app
        .store
        .update_business(
            BUSINESS_NUMBER,
            &set(tools_at("https://placeholder.example", path, confirm)),
            now,
        )
        .await
        .unwrap();
    let server = ToolServer::start(business.tools_secret.as_ref().unwrap().expose()).await;
    app.store
        .update_business(
            BUSINESS_NUMBER,
            &set(tools_at(&server.base, path, confirm)),
            now,
        )
        .await
        .unwrap();
    server
}

/// A call `call_sid` whose caller says each fixture line in turn, hearing the answers out within
/// `wait`, then hangs up.
async fn call_saying(world: &common::AiWorld, call_sid: &str, lines: &[&str], wait: Duration) {
    let mut stream = world.app.connect_call(call_sid).await;
    listen(&mut stream, QUIET, true).await;
    for fixture in lines {
        stream.send_audio(&line(fixture)).await.unwrap();
        listen(&mut stream, wait, true).await;
    }
    stream.send_stop(call_sid).await.unwrap();
    world
        .app
        .wait_for_call(call_sid, |c| c.ended_at_ms.is_some())
        .await;
}

/// The CRM interaction queued for `call_sid` once it has ended.
async fn crm_payload(app: &common::TestApp, call_sid: &str) -> CrmInteraction {
    let key = crm_idempotency_key(call_sid);
    for _ in 0..200 {
        if let Some(entry) = app.store.delivery_by_key(&key).await.unwrap() {
            return serde_json::from_value(entry.item.payload).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no CRM interaction was queued for {call_sid}");
}

async fn agent_turns(app: &common::TestApp, call_sid: &str) -> Vec<String> {
    app.store
        .turns_for_call(call_sid)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.role == "agent")
        .map(|t| t.text)
        .collect()
}

#[tokio::test]
async fn a_tool_called_by_the_model_is_posted_signed_and_its_result_spoken() {
    for_each_engine(|db| async move {
        let crm = CountingCrm::start().await;
        let settings = [("SICHA_CRM_WEBHOOK_URL", crm.url.as_str())];
        let world = common::ai_world(&db, "openai", &settings).await;
        let server = with_tool(&world.app, "ok", false).await;
        world
            .openai
            .push_transcripts(["אפשר שולחן לארבעה ביום שלישי?"]);
        world.openai.add_chat_rule(
            ChatRule::tool_call("שולחן", "book_table", json!({ "guests": 4 }))
                .with_reply("בודקת.")
                .then_say("הזמנתי לכם שולחן לארבעה."),
        );
        call_saying(&world, "CA970", &["single/u03_booking.wav"], QUIET).await;

        let received = server.received();
        assert_eq!(received.len(), 1, "{received:?}");
        assert!(received[0].signature_valid);
        assert_eq!(received[0].idempotency_key.as_deref(), Some("tool:CA970:1"));
        assert_eq!(received[0].body["arguments"], json!({ "guests": 4 }));
        assert_eq!(received[0].body["caller"], common::CALLER_NUMBER);
        let answers = agent_turns(&world.app, "CA970").await;
        assert!(
            answers[1].contains("הזמנתי לכם שולחן לארבעה."),
            "the result is spoken: {answers:?}"
        );
        let kinds = world.app.event_kinds("CA970").await;
        assert!(kinds.contains(&"tool_result".to_string()), "{kinds:?}");

        // The CRM interaction lists the tool call with its arguments, result, time taken and when.
        let sent = crm_payload(&world.app, "CA970").await;
        let booking = sent
            .tool_calls
            .iter()
            .find(|c| c.tool == "book_table")
            .unwrap_or_else(|| panic!("{:?}", sent.tool_calls));
        assert_eq!(booking.arguments, json!({ "guests": 4 }));
        assert!(booking.ok && booking.error.is_none(), "{booking:?}");
        assert_eq!(
            booking.result,
            Some(json!({ "booked": true, "for": { "guests": 4 } })),
            "the tool's answer"
        );
        assert!(booking.ms.is_some(), "{booking:?}");
        assert!(
            (sent.started_at_ms..=sent.ended_at_ms.unwrap()).contains(&booking.at_ms),
            "{booking:?}"
        );
        world.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_failing_or_silent_tool_is_told_as_a_failure_never_a_success() {
    for path in ["fail", "slow"] {
        let database = common::databases::TestDatabase::sqlite().unwrap();
        let world = common::ai_world(database.url(), "openai", &[]).await;
        let server = with_tool(&world.app, path, false).await;
        world
            .openai
            .push_transcripts(["אפשר שולחן לארבעה ביום שלישי?"]);
        world.openai.add_chat_rule(
            ChatRule::tool_call("שולחן", "book_table", json!({ "guests": 4 }))
                .then_say("הזמנתי לכם שולחן לארבעה."),
        );
        let sid = format!("CA97{}", path.len());
        // The slow tool times out after 2 s; its waiting phrase comes after one.
        let wait = Duration::from_millis(3500);
        call_saying(&world, &sid, &["single/u03_booking.wav"], wait).await;
        assert_eq!(server.received().len(), 1);
        let answers = agent_turns(&world.app, &sid).await.join(" ");
        assert!(answers.contains(FAILED_TOOL_REPLY), "{path}: {answers}");
        assert!(
            !answers.contains("הזמנתי"),
            "{path}: no success words: {answers}"
        );
        if path == "slow" {
            assert!(
                answers.contains("רגע, אני בודקת"),
                "the waiting phrase: {answers}"
            );
        }
        world.app.shutdown().await;
        database.remove().await;
    }
}

#[tokio::test]
async fn a_booking_waits_for_the_callers_agreement_to_its_read_back() {
    let database = common::databases::TestDatabase::sqlite().unwrap();
    let world = common::ai_world(database.url(), "openai", &[]).await;
    let server = with_tool(&world.app, "ok", true).await;
    world
        .openai
        .push_transcripts(["אפשר שולחן לארבעה ביום שלישי?", "כן, בבקשה"]);
    for when in ["שולחן", "כן"] {
        world.openai.add_chat_rule(
            ChatRule::tool_call(when, "book_table", json!({ "guests": 4 }))
                .then_say("הזמנתי לכם שולחן לארבעה."),
        );
    }
    let mut stream = world.app.connect_call("CA980").await;
    listen(&mut stream, QUIET, true).await;
    stream
        .send_audio(&line("single/u03_booking.wav"))
        .await
        .unwrap();
    listen(&mut stream, QUIET, true).await;
    assert!(
        server.received().is_empty(),
        "nothing booked before the caller agreed"
    );
    stream
        .send_audio(&line("single/u05_haircut_price.wav"))
        .await
        .unwrap();
    listen(&mut stream, QUIET, true).await;
    stream.send_stop("CA980").await.unwrap();
    world
        .app
        .wait_for_call("CA980", |c| c.ended_at_ms.is_some())
        .await;
    assert_eq!(server.received().len(), 1, "booked once, after the yes");
    let answers = agent_turns(&world.app, "CA980").await;
    assert!(answers.last().unwrap().contains("הזמנתי"), "{answers:?}");
    world.app.shutdown().await;
    database.remove().await;
}
