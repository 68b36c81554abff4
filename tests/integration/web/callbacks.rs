//! A call-back on the pages: it appears with the customer's other calls marked as outgoing and
//! linked to the call that asked for it, and that call shows how the attempts went.

use serde_json::json;
use sicha::store::{CallDirection, CallStatus, NewCall};

use crate::common::databases::for_each_engine;
use crate::web_support::{MORNING_MS, get_signed_in, seed, sign_in, web_app};

#[tokio::test]
async fn a_call_back_is_among_the_customers_calls_linked_to_the_call_that_asked() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        let world = seed(&app, dir.path()).await;
        let store = &app.store;
        let at = MORNING_MS + 3_600_000;
        store
            .insert_call(&NewCall {
                call_sid: "CAback1".into(),
                business_id: Some(world.business_id.clone()),
                customer_id: Some(world.dana_id.clone()),
                from_number: "+97231234567".into(),
                to_number: "+972501234567".into(),
                instance_id: "test-instance".into(),
                status: CallStatus::Answered,
                started_at_ms: at,
                direction: CallDirection::Outbound,
                parent_call_sid: Some("CAweb1".into()),
            })
            .await
            .unwrap();
        let attempt = json!({ "attempt": 1, "call_sid": "CAback1", "result": "answered" });
        store
            .insert_event("CAweb1", "callback_attempt", Some(&attempt), at)
            .await
            .unwrap();
        let cookie = sign_in(&app).await;

        let (status, _, customer) =
            get_signed_in(&app, &cookie, &format!("/customers/{}", world.dana_id)).await;
        assert_eq!(status, 200);
        let row_at = customer.find("href=\"/calls/CAback1\"").expect("listed");
        let row = &customer[row_at..];
        let row = &row[..row.find("</li>").unwrap()];
        assert!(row.contains("יוצאת"), "{row}");
        assert!(
            row.contains("<a class=\"parent\" href=\"/calls/CAweb1\">"),
            "{row}"
        );
        assert!(
            row.contains("<bdi dir=\"ltr\" class=\"phone\">+972501234567</bdi>"),
            "the customer's number, not the business's: {row}"
        );

        let (_, _, page) = get_signed_in(&app, &cookie, "/calls/CAback1").await;
        assert!(page.contains("יוצאת: חזרה ללקוח"), "{page}");
        assert!(page.contains("href=\"/calls/CAweb1\""), "{page}");
        let (_, _, asked) = get_signed_in(&app, &cookie, "/calls/CAweb1").await;
        assert!(asked.contains("ניסיון לחזור ללקוח"), "{asked}");
        assert!(
            asked.contains("ניסיון 1 · הלקוח ענה · שיחה CAback1"),
            "{asked}"
        );
        assert!(asked.contains("נכנסת"));
        app.shutdown().await;
    })
    .await;
}
