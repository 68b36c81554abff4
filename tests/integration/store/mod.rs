//! Every store operation, on SQLite always and on PostgreSQL when SICHA_TEST_POSTGRES_URL is set.
//! This file holds the shared fixtures; the tests are grouped by table in the modules below.

mod business_tools;
mod businesses;
mod calls;
mod connect;
mod outbox;
mod records;
mod writer;

use std::collections::HashSet;

use crate::common::databases::{TestDatabase, for_each_engine, for_each_store};
use serde_json::json;
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
        dtmf_map: None,
        sms_policy: None,
        preemptive_replies: None,
        tools: None,
        opening_hours: None,
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
        direction: Default::default(),
        parent_call_sid: None,
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
        .create_business(&new_business("+97231234567"), T0)
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
