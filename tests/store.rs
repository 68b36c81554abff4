//! Every store operation, on SQLite always and on PostgreSQL when SICHA_TEST_POSTGRES_URL is set.

use std::collections::HashSet;

use serde_json::json;
use sicha::store::testing::{TestDatabase, for_each_engine, for_each_store};
use sicha::store::{
    Business, BusinessChanges, CallFilter, CallStatus, Engine, NewBusiness, NewCall,
    NewInteraction, NewTurn, Store, StoreError,
};

const T0: i64 = 1_750_000_000_000;

fn new_business(number: &str) -> NewBusiness {
    NewBusiness {
        number: number.to_string(),
        name: "מספרת שירה".to_string(),
        greeting: "שלום, הגעתם למספרת שירה".to_string(),
        system_prompt: "את עוזרת טלפונית של מספרה.".to_string(),
        voice: Some("he-IL-Wavenet-A".to_string()),
        transfer_to: Some("+972501112222".to_string()),
        now_ms: T0,
    }
}

fn new_call(
    call_sid: &str,
    instance: &str,
    business: Option<&Business>,
    started_at_ms: i64,
) -> NewCall {
    NewCall {
        call_sid: call_sid.to_string(),
        business_id: business.map(|b| b.id.clone()),
        customer_id: None,
        from_number: "+972541234567".to_string(),
        to_number: business.map_or("+15550000000".to_string(), |b| b.number.clone()),
        instance_id: instance.to_string(),
        status: CallStatus::Answered,
        started_at_ms,
    }
}

fn agent_turn(call_sid: &str, seq: i64) -> NewTurn {
    NewTurn {
        call_sid: call_sid.to_string(),
        seq,
        role: "agent".to_string(),
        text: "בטח, לאיזה יום תרצי לקבוע?".to_string(),
        heard_text: Some("בטח".to_string()),
        started_at_ms: T0 + 1000,
        ended_at_ms: T0 + 2500,
        interrupted: true,
        stt_ms: None,
        llm_ttft_ms: Some(310),
        llm_first_sentence_ms: Some(420),
        tts_ttfb_ms: Some(180),
        endpoint_ms: None,
        v2v_ms: Some(1150),
    }
}

async fn business_with_call(store: &Store, call_sid: &str) -> Business {
    let business = store
        .create_business(&new_business("+97231234567"))
        .await
        .unwrap();
    assert!(
        store
            .insert_call(&new_call(call_sid, "i-1", Some(&business), T0))
            .await
            .unwrap()
    );
    business
}

#[tokio::test]
async fn connect_reports_engine_and_hides_password_and_pings() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        store.ping().await.unwrap();
        let expected = if url.starts_with("sqlite") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        assert_eq!(store.engine(), expected);
        assert!(
            store.display_url().starts_with(expected.as_str()),
            "{}",
            store.display_url()
        );
        // Connecting again finds the migrations applied and applies nothing twice.
        let again = Store::connect(&url).await.unwrap();
        again.migrate().await.unwrap();
        store.close().await;
        again.close().await;
    })
    .await;
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_with_foreign_keys() {
    let database = TestDatabase::sqlite().unwrap();
    let path = database.url().trim_start_matches("sqlite://").to_string();
    assert!(!std::path::Path::new(&path).exists());
    let store = Store::connect(database.url()).await.unwrap();
    assert!(
        std::path::Path::new(&path).exists(),
        "the file was not created"
    );
    assert!(
        std::path::Path::new(&format!("{path}-wal")).exists(),
        "the journal is not WAL"
    );
    // An event for a call that does not exist breaks a foreign key.
    let orphan = store.insert_event("CA-none", "dtmf", None, T0).await;
    assert!(matches!(orphan, Err(StoreError::Query(_))), "{orphan:?}");
    store.close().await;
}

#[tokio::test]
async fn postgres_database_is_created_when_missing() {
    let Ok(server) = std::env::var(sicha::store::testing::POSTGRES_URL_VARIABLE) else {
        println!("postgres skipped: no server configured");
        return;
    };
    sqlx::any::install_default_drivers();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&format!("/sicha_test_{}", uuid::Uuid::new_v4().simple()));
    let url = url.to_string();
    let store = Store::connect(&url).await.unwrap();
    assert!(
        store.list_businesses().await.unwrap().is_empty(),
        "created and migrated"
    );
    store.close().await;
    <sqlx::Any as sqlx::migrate::MigrateDatabase>::force_drop_database(&url)
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_in_memory_keeps_one_database_across_concurrent_queries() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let added = store
        .create_business(&new_business("+97231234567"))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        store.business_by_number(&added.number),
        store.list_businesses()
    );
    assert_eq!(a.unwrap().as_ref(), Some(&added));
    assert_eq!(b.unwrap(), vec![added]);
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let error = Store::connect("mysql://root:pw@localhost/sicha")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnsupportedUrl(_)), "{error}");
}

#[tokio::test]
async fn businesses_create_find_list_and_refuse_duplicates() {
    for_each_store(|store| async move {
        let added = store
            .create_business(&new_business("+97231234567"))
            .await
            .unwrap();
        assert_eq!(added.number, "+97231234567");
        assert_eq!(added.voice.as_deref(), Some("he-IL-Wavenet-A"));
        assert_eq!((added.created_at_ms, added.updated_at_ms), (T0, T0));

        assert_eq!(
            store
                .business_by_number("+97231234567")
                .await
                .unwrap()
                .as_ref(),
            Some(&added)
        );
        assert_eq!(
            store.business_by_id(&added.id).await.unwrap().as_ref(),
            Some(&added)
        );
        assert_eq!(
            store.business_by_number("+97230000000").await.unwrap(),
            None
        );
        assert_eq!(store.business_by_id("nope").await.unwrap(), None);

        let duplicate = store
            .create_business(&new_business("+97231234567"))
            .await
            .unwrap_err();
        assert!(
            matches!(duplicate, StoreError::Duplicate { .. }),
            "{duplicate}"
        );

        let first = store
            .create_business(&new_business("+14155550100"))
            .await
            .unwrap();
        let numbers: Vec<String> = store
            .list_businesses()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.number)
            .collect();
        assert_eq!(numbers, vec![first.number, added.number]);

        let invalid = store
            .create_business(&new_business("031234567"))
            .await
            .unwrap_err();
        assert!(matches!(invalid, StoreError::Invalid { .. }), "{invalid}");
        let bad_transfer = NewBusiness {
            transfer_to: Some("050-111".into()),
            ..new_business("+97239999999")
        };
        assert!(matches!(
            store.create_business(&bad_transfer).await,
            Err(StoreError::Invalid { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn businesses_update_changes_only_what_is_given_and_can_clear() {
    for_each_store(|store| async move {
        let added = store
            .create_business(&new_business("+97231234567"))
            .await
            .unwrap();
        let renamed = store
            .update_business(
                &added.number,
                &BusinessChanges {
                    name: Some("מספרת רות".into()),
                    ..Default::default()
                },
                T0 + 5,
            )
            .await
            .unwrap();
        assert_eq!(renamed.name, "מספרת רות");
        assert_eq!(
            (renamed.greeting.as_str(), renamed.voice.as_deref()),
            (added.greeting.as_str(), added.voice.as_deref())
        );
        assert_eq!((renamed.created_at_ms, renamed.updated_at_ms), (T0, T0 + 5));

        let changes = BusinessChanges {
            greeting: Some("היי".into()),
            system_prompt: Some("קצר".into()),
            voice: Some(None),
            transfer_to: Some(Some("+972509998888".into())),
            ..Default::default()
        };
        let changed = store
            .update_business(&added.number, &changes, T0 + 6)
            .await
            .unwrap();
        assert_eq!(changed.name, "מספרת רות");
        assert_eq!(
            (changed.greeting.as_str(), changed.system_prompt.as_str()),
            ("היי", "קצר")
        );
        assert_eq!(changed.voice, None);
        assert_eq!(changed.transfer_to.as_deref(), Some("+972509998888"));

        let cleared = BusinessChanges {
            transfer_to: Some(None),
            voice: Some(Some("x".into())),
            ..Default::default()
        };
        let cleared = store
            .update_business(&added.number, &cleared, T0 + 7)
            .await
            .unwrap();
        assert_eq!(
            (cleared.transfer_to, cleared.voice.as_deref()),
            (None, Some("x"))
        );
        assert_eq!(
            store
                .business_by_id(&added.id)
                .await
                .unwrap()
                .unwrap()
                .updated_at_ms,
            T0 + 7
        );

        let missing = store
            .update_business("+97230000000", &BusinessChanges::default(), T0)
            .await
            .unwrap_err();
        assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
        let bad = BusinessChanges {
            transfer_to: Some(Some("12".into())),
            ..Default::default()
        };
        assert!(matches!(
            store.update_business(&added.number, &bad, T0).await,
            Err(StoreError::Invalid { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn customers_are_found_or_created_once_per_business_and_phone() {
    for_each_store(|store| async move {
        let shop = store
            .create_business(&new_business("+97231234567"))
            .await
            .unwrap();
        let other = store
            .create_business(&new_business("+97239876543"))
            .await
            .unwrap();

        let first = store
            .find_or_create_customer(&shop.id, "+972541234567", T0)
            .await
            .unwrap();
        assert_eq!(
            (
                first.created_at_ms,
                first.last_contact_ms,
                first.name.as_deref()
            ),
            (T0, T0, None)
        );
        let again = store
            .find_or_create_customer(&shop.id, "+972541234567", T0 + 100)
            .await
            .unwrap();
        assert_eq!(again.id, first.id);
        assert_eq!((again.created_at_ms, again.last_contact_ms), (T0, T0 + 100));
        // A late, out-of-order contact does not move the last contact back.
        let late = store
            .find_or_create_customer(&shop.id, "+972541234567", T0 + 50)
            .await
            .unwrap();
        assert_eq!(late.last_contact_ms, T0 + 100);

        let elsewhere = store
            .find_or_create_customer(&other.id, "+972541234567", T0)
            .await
            .unwrap();
        assert_ne!(elsewhere.id, first.id);
        assert_eq!(
            store
                .customer_by_id(&first.id)
                .await
                .unwrap()
                .unwrap()
                .last_contact_ms,
            T0 + 100
        );
        assert_eq!(store.customer_by_id("nope").await.unwrap(), None);

        let second = store
            .find_or_create_customer(&shop.id, "+972529999999", T0 + 200)
            .await
            .unwrap();
        let of_shop = store
            .list_customers(Some(&shop.id), None, 10)
            .await
            .unwrap();
        assert_eq!(
            of_shop.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec![second.id.as_str(), first.id.as_str()]
        );
        assert_eq!(store.list_customers(None, None, 10).await.unwrap().len(), 3);
        assert_eq!(store.list_customers(None, None, 1).await.unwrap().len(), 1);
        let found = store
            .list_customers(Some(&shop.id), Some("9999"), 10)
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec![second.id.as_str()]
        );
        assert!(
            store
                .list_customers(None, Some("%"), 10)
                .await
                .unwrap()
                .is_empty(),
            "% is taken literally"
        );
    })
    .await;
}

#[tokio::test]
async fn customers_racing_from_one_phone_get_one_row() {
    for_each_store(|store| async move {
        let shop = store
            .create_business(&new_business("+97231234567"))
            .await
            .unwrap();
        let (a, b, c) = tokio::join!(
            store.find_or_create_customer(&shop.id, "+972541234567", T0),
            store.find_or_create_customer(&shop.id, "+972541234567", T0 + 1),
            store.find_or_create_customer(&shop.id, "+972541234567", T0 + 2),
        );
        let ids: HashSet<String> = [a.unwrap().id, b.unwrap().id, c.unwrap().id].into();
        assert_eq!(ids.len(), 1);
        let all = store
            .list_customers(Some(&shop.id), None, 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].last_contact_ms, T0 + 2);
    })
    .await;
}

#[tokio::test]
async fn calls_are_recorded_once_and_finished_once() {
    for_each_store(|store| async move {
        let shop = store
            .create_business(&new_business("+97231234567"))
            .await
            .unwrap();
        let customer = store
            .find_or_create_customer(&shop.id, "+972541234567", T0)
            .await
            .unwrap();
        let mut call = new_call("CA1", "i-1", Some(&shop), T0);
        call.customer_id = Some(customer.id.clone());
        assert!(store.insert_call(&call).await.unwrap());
        // Twilio retries the webhook: the same CallSid again is no error and changes nothing.
        let retry = NewCall {
            started_at_ms: T0 + 9,
            ..call.clone()
        };
        assert!(!store.insert_call(&retry).await.unwrap());

        let stored = store.call_by_sid("CA1").await.unwrap().unwrap();
        assert_eq!(stored.status, CallStatus::Answered);
        assert_eq!(stored.started_at_ms, T0);
        assert_eq!(
            (stored.customer_id.as_deref(), stored.business_id.as_deref()),
            (Some(customer.id.as_str()), Some(shop.id.as_str()))
        );
        assert_eq!(
            (
                stored.stream_started_at_ms,
                stored.ended_at_ms,
                stored.end_reason.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(store.call_by_sid("CA-none").await.unwrap(), None);

        assert!(store.mark_streaming("CA1", T0 + 800).await.unwrap());
        assert!(
            store.mark_streaming("CA1", T0 + 5000).await.unwrap(),
            "a reconnecting stream"
        );
        let streaming = store.call_by_sid("CA1").await.unwrap().unwrap();
        assert_eq!(
            (streaming.status, streaming.stream_started_at_ms),
            (CallStatus::Streaming, Some(T0 + 800))
        );

        assert!(
            store
                .finish_call("CA1", CallStatus::Completed, "caller_hung_up", T0 + 60_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .finish_call("CA1", CallStatus::Dropped, "socket_closed", T0 + 61_000)
                .await
                .unwrap()
        );
        assert!(
            !store.mark_streaming("CA1", T0 + 62_000).await.unwrap(),
            "an ended call stays ended"
        );
        let done = store.call_by_sid("CA1").await.unwrap().unwrap();
        assert_eq!(
            (done.status, done.end_reason.as_deref(), done.ended_at_ms),
            (
                CallStatus::Completed,
                Some("caller_hung_up"),
                Some(T0 + 60_000)
            )
        );
        assert!(
            !store
                .finish_call("CA-none", CallStatus::Completed, "x", T0)
                .await
                .unwrap()
        );

        assert!(
            store
                .record_twilio_status("CA1", "completed", Some(61))
                .await
                .unwrap()
        );
        assert!(
            store
                .record_twilio_status("CA1", "completed", None)
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_twilio_status("CA-none", "completed", Some(1))
                .await
                .unwrap()
        );
        assert!(
            store
                .set_recording_path("CA1", "recordings/CA1.opus")
                .await
                .unwrap()
        );
        assert!(!store.set_recording_path("CA-none", "x").await.unwrap());
        let final_call = store.call_by_sid("CA1").await.unwrap().unwrap();
        assert_eq!(final_call.twilio_status.as_deref(), Some("completed"));
        assert_eq!(
            final_call.twilio_duration_secs,
            Some(61),
            "a callback without duration keeps the known one"
        );
        assert_eq!(
            final_call.recording_path.as_deref(),
            Some("recordings/CA1.opus")
        );
        assert_eq!(
            final_call.status,
            CallStatus::Completed,
            "Twilio's view is kept apart"
        );
    })
    .await;
}

#[tokio::test]
async fn calls_list_newest_first_with_filters() {
    for_each_store(|store| async move {
        let shop = store
            .create_business(&new_business("+97231234567"))
            .await
            .unwrap();
        for (i, sid) in ["CA1", "CA2", "CA3"].iter().enumerate() {
            store
                .insert_call(&new_call(sid, "i-1", Some(&shop), T0 + i as i64))
                .await
                .unwrap();
        }
        store
            .insert_call(&new_call("CA-unknown", "i-1", None, T0 + 10))
            .await
            .unwrap();
        store
            .finish_call(
                "CA-unknown",
                CallStatus::Rejected,
                "unknown_number",
                T0 + 10,
            )
            .await
            .unwrap();

        let sids = |calls: Vec<sicha::store::Call>| {
            calls.into_iter().map(|c| c.call_sid).collect::<Vec<_>>()
        };
        let all = store.list_calls(&CallFilter::default()).await.unwrap();
        assert_eq!(sids(all), ["CA-unknown", "CA3", "CA2", "CA1"]);
        let of_shop = CallFilter {
            business_number: Some(shop.number.clone()),
            ..Default::default()
        };
        assert_eq!(
            sids(store.list_calls(&of_shop).await.unwrap()),
            ["CA3", "CA2", "CA1"]
        );
        let limited = CallFilter {
            limit: 2,
            ..of_shop.clone()
        };
        assert_eq!(
            sids(store.list_calls(&limited).await.unwrap()),
            ["CA3", "CA2"]
        );
        let rejected = CallFilter {
            status: Some(CallStatus::Rejected),
            ..Default::default()
        };
        assert_eq!(
            sids(store.list_calls(&rejected).await.unwrap()),
            ["CA-unknown"]
        );
        let none = CallFilter {
            status: Some(CallStatus::Rejected),
            ..of_shop
        };
        assert!(store.list_calls(&none).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn reconcile_closes_only_this_instances_open_calls() {
    for_each_store(|store| async move {
        let shop = store
            .create_business(&new_business("+97231234567"))
            .await
            .unwrap();
        for (sid, instance) in [
            ("CA-a", "i-1"),
            ("CA-b", "i-1"),
            ("CA-c", "i-1"),
            ("CA-other", "i-2"),
        ] {
            store
                .insert_call(&new_call(sid, instance, Some(&shop), T0))
                .await
                .unwrap();
        }
        store.mark_streaming("CA-b", T0 + 1).await.unwrap();
        store
            .finish_call("CA-c", CallStatus::Completed, "caller_hung_up", T0 + 2)
            .await
            .unwrap();

        assert_eq!(
            store.reconcile_interrupted("i-1", T0 + 100).await.unwrap(),
            2
        );
        for sid in ["CA-a", "CA-b"] {
            let call = store.call_by_sid(sid).await.unwrap().unwrap();
            assert_eq!(
                (call.status, call.ended_at_ms),
                (CallStatus::Interrupted, Some(T0 + 100)),
                "{sid}"
            );
            assert!(call.end_reason.is_some());
        }
        assert_eq!(
            store.call_by_sid("CA-c").await.unwrap().unwrap().status,
            CallStatus::Completed
        );
        let other = store.call_by_sid("CA-other").await.unwrap().unwrap();
        assert_eq!(
            (other.status, other.ended_at_ms),
            (CallStatus::Answered, None)
        );
        assert_eq!(
            store.reconcile_interrupted("i-1", T0 + 200).await.unwrap(),
            0
        );
    })
    .await;
}

#[tokio::test]
async fn events_keep_detail_and_order_by_time_then_insertion() {
    for_each_store(|store| async move {
        business_with_call(&store, "CA1").await;
        assert_eq!(
            store
                .insert_event(
                    "CA1",
                    "stream_started",
                    Some(&json!({"stream_sid": "MZ1"})),
                    T0 + 10
                )
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .insert_event(
                    "CA1",
                    "barge_in",
                    Some(&json!({"cleared": ["m1", "m2"]})),
                    T0 + 30
                )
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .insert_event("CA1", "dtmf", None, T0 + 20)
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            store
                .insert_event("CA1", "loop", None, T0 + 20)
                .await
                .unwrap(),
            4
        );

        let events = store.events_for_call("CA1").await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["stream_started", "dtmf", "loop", "barge_in"]);
        assert_eq!(events[0].detail, Some(json!({"stream_sid": "MZ1"})));
        assert_eq!(events[1].detail, None);
        assert_eq!(events[3].detail, Some(json!({"cleared": ["m1", "m2"]})));
        assert!(store.events_for_call("CA-none").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn events_written_concurrently_all_land_with_distinct_seqs() {
    for_each_store(|store| async move {
        business_with_call(&store, "CA1").await;
        let writes = (0..12).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .insert_event("CA1", "tick", Some(&json!({ "i": i })), T0)
                    .await
            })
        });
        let seqs: HashSet<i64> = futures::future::join_all(writes)
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap())
            .collect();
        assert_eq!(seqs, (1..=12).collect());
        assert_eq!(store.events_for_call("CA1").await.unwrap().len(), 12);
    })
    .await;
}

#[tokio::test]
async fn stream_tokens_are_single_use_even_when_raced() {
    for_each_store(|store| async move {
        assert!(
            store
                .consume_stream_token("nonce-1", "CA1", T0)
                .await
                .unwrap()
        );
        assert!(
            !store
                .consume_stream_token("nonce-1", "CA1", T0 + 1)
                .await
                .unwrap()
        );

        let (a, b, c) = tokio::join!(
            store.consume_stream_token("nonce-2", "CA2", T0),
            store.consume_stream_token("nonce-2", "CA2", T0),
            store.consume_stream_token("nonce-2", "CA2", T0),
        );
        let winners = [a.unwrap(), b.unwrap(), c.unwrap()]
            .into_iter()
            .filter(|won| *won)
            .count();
        assert_eq!(winners, 1);

        store
            .consume_stream_token("nonce-3", "CA3", T0 + 1000)
            .await
            .unwrap();
        assert_eq!(store.prune_stream_tokens(T0 + 500).await.unwrap(), 2);
        assert!(
            !store
                .consume_stream_token("nonce-3", "CA3", T0 + 2000)
                .await
                .unwrap(),
            "recent nonces are kept"
        );
        assert!(
            store
                .consume_stream_token("nonce-1", "CA1", T0 + 2000)
                .await
                .unwrap(),
            "pruned nonces are forgotten"
        );
    })
    .await;
}

#[tokio::test]
async fn turns_are_stored_once_and_read_in_order() {
    for_each_store(|store| async move {
        business_with_call(&store, "CA1").await;
        let caller = NewTurn {
            role: "caller".into(),
            text: "אני רוצה לקבוע תור".into(),
            heard_text: None,
            interrupted: false,
            stt_ms: Some(240),
            endpoint_ms: Some(600),
            llm_ttft_ms: None,
            llm_first_sentence_ms: None,
            tts_ttfb_ms: None,
            v2v_ms: None,
            ..agent_turn("CA1", 1)
        };
        let agent = agent_turn("CA1", 2);
        assert!(store.insert_turn(&agent).await.unwrap());
        assert!(store.insert_turn(&caller).await.unwrap());
        assert!(
            !store.insert_turn(&agent).await.unwrap(),
            "the same (call, seq) again is ignored"
        );
        assert_eq!(
            store.turns_for_call("CA1").await.unwrap(),
            vec![caller, agent]
        );
        assert!(store.turns_for_call("CA-none").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn interactions_one_per_call_listed_per_customer() {
    for_each_store(|store| async move {
        let shop = business_with_call(&store, "CA1").await;
        store
            .insert_call(&new_call("CA2", "i-1", Some(&shop), T0 + 1))
            .await
            .unwrap();
        let customer = store
            .find_or_create_customer(&shop.id, "+972541234567", T0)
            .await
            .unwrap();
        let record = |call_sid: &str, started_at_ms: i64| NewInteraction {
            business_id: shop.id.clone(),
            customer_id: customer.id.clone(),
            call_sid: call_sid.to_string(),
            kind: "call".into(),
            direction: "inbound".into(),
            outcome: Some("booked".into()),
            transcript: "לקוחה: שלום\nסוכנת: שלום".into(),
            summary: None,
            recording_path: None,
            started_at_ms,
            duration_ms: Some(42_000),
            now_ms: started_at_ms + 42_000,
        };
        assert!(store.insert_interaction(&record("CA1", T0)).await.unwrap());
        assert!(
            !store.insert_interaction(&record("CA1", T0)).await.unwrap(),
            "one per call"
        );
        assert!(
            store
                .insert_interaction(&record("CA2", T0 + 1))
                .await
                .unwrap()
        );

        let listed = store.interactions_for_customer(&customer.id).await.unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|i| i.call_sid.as_deref().unwrap())
                .collect::<Vec<_>>(),
            ["CA2", "CA1"]
        );
        assert_eq!(listed[1].transcript, "לקוחה: שלום\nסוכנת: שלום");
        assert_eq!(
            (listed[1].outcome.as_deref(), listed[1].duration_ms),
            (Some("booked"), Some(42_000))
        );
        assert!(
            store
                .interactions_for_customer("nope")
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn outbox_claims_lease_retries_and_gives_up() {
    for_each_store(|store| async move {
        let payload = json!({"to": "+972541234567", "body": "התור נקבע"});
        assert!(store.enqueue("sms", "sms:CA1", &payload, T0).await.unwrap());
        assert!(
            !store
                .enqueue("sms", "sms:CA1", &json!({}), T0)
                .await
                .unwrap(),
            "the key is already queued"
        );
        assert!(
            store
                .enqueue("crm", "crm:CA1", &json!({"n": 1}), T0 + 1)
                .await
                .unwrap()
        );
        assert_eq!(store.pending_outbox_count().await.unwrap(), 2);
        assert!(
            store.claim_due(T0 - 1, 10, 1000).await.unwrap().is_empty(),
            "nothing is due before it was queued"
        );

        let claimed = store.claim_due(T0 + 5, 1, 1000).await.unwrap();
        assert_eq!(claimed.len(), 1, "the limit holds");
        let sms = &claimed[0];
        assert_eq!(
            (sms.kind.as_str(), sms.idempotency_key.as_str()),
            ("sms", "sms:CA1")
        );
        assert_eq!(
            (sms.payload.clone(), sms.attempts, sms.next_attempt_at_ms),
            (payload, 1, T0 + 1005)
        );

        // Within the lease the claimed row is nobody else's; the other one still is.
        let second = store.claim_due(T0 + 6, 10, 1000).await.unwrap();
        assert_eq!(
            second.iter().map(|i| i.kind.as_str()).collect::<Vec<_>>(),
            ["crm"]
        );
        assert!(store.claim_due(T0 + 7, 10, 1000).await.unwrap().is_empty());

        // A worker that died: the lease runs out and the row comes back, one attempt more.
        let reclaimed = store.claim_due(T0 + 1005, 10, 1000).await.unwrap();
        assert_eq!(
            reclaimed
                .iter()
                .map(|i| (i.id.as_str(), i.attempts))
                .collect::<Vec<_>>(),
            [(sms.id.as_str(), 2)]
        );

        assert!(
            store
                .mark_failed(&sms.id, "HTTP 503", T0 + 5000)
                .await
                .unwrap()
        );
        assert!(
            store
                .claim_due(T0 + 4999, 10, 1000)
                .await
                .unwrap()
                .iter()
                .all(|i| i.id != sms.id)
        );
        let retried = store.claim_due(T0 + 5000, 10, 1000).await.unwrap();
        let retried = retried
            .iter()
            .find(|i| i.id == sms.id)
            .expect("due again after the retry time");
        assert_eq!(
            (retried.attempts, retried.last_error.as_deref()),
            (3, Some("HTTP 503"))
        );

        assert!(
            store
                .give_up(&sms.id, "HTTP 503 three times")
                .await
                .unwrap()
        );
        assert!(
            store
                .mark_delivered(&second[0].id, T0 + 6000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .mark_delivered(&second[0].id, T0 + 6001)
                .await
                .unwrap(),
            "only pending rows change"
        );
        assert!(!store.mark_failed(&sms.id, "late", T0).await.unwrap());
        assert!(
            store
                .claim_due(T0 + 100_000, 10, 1000)
                .await
                .unwrap()
                .is_empty(),
            "delivered and dead rows stay put"
        );
        assert_eq!(store.pending_outbox_count().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn outbox_concurrent_claimers_never_share_a_row() {
    for_each_store(|store| async move {
        // Several rounds, because a lost race shows only under some interleavings.
        for round in 0..6 {
            for i in 0..20 {
                store
                    .enqueue("crm", &format!("crm:{round}:{i}"), &json!({ "i": i }), T0)
                    .await
                    .unwrap();
            }
            // A lease longer than the test: rows claimed in one round never come back.
            let lease = 1_000_000_000;
            let (a, b, c) = tokio::join!(
                store.claim_due(T0, 8, lease),
                store.claim_due(T0, 8, lease),
                store.claim_due(T0, 8, lease)
            );
            let claims: Vec<String> = [a.unwrap(), b.unwrap(), c.unwrap()]
                .into_iter()
                .flatten()
                .map(|i| i.id)
                .collect();
            let distinct: HashSet<&String> = claims.iter().collect();
            assert_eq!(
                distinct.len(),
                claims.len(),
                "a row was claimed twice in round {round}"
            );
            // Whatever the racing claimers left is still claimable.
            let rest = store.claim_due(T0, 20, lease).await.unwrap();
            assert_eq!(claims.len() + rest.len(), 20, "round {round}");
        }
    })
    .await;
}
