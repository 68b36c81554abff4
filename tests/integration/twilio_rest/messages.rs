//! Messages against the stand-in: a send is repeated only when Twilio provably did not take it; the
//! list has Twilio's JSON shape and paging; a search finds a text an unanswered send left behind.

use std::time::Duration;

use sicha::clock;
use sicha::twilio::rest::{Acceptance, MessageSearch, SmsSearch, TwilioError};
use sicha_sim::twilio_api::{LostAnswer, TwilioApiSim};

use super::{BUSINESS, CALLER, client};

const TEXT: &str = "תודה שהתקשרת למספרת רותי!";

async fn sim() -> TwilioApiSim {
    TwilioApiSim::start().await.expect("stand-in starts")
}

/// A search for [`TEXT`] from the business to the caller, since a minute ago.
/// The stand-in's Messages list as JSON, read as any Twilio client would, with `query`.
async fn raw_list(sim: &TwilioApiSim, query: &str) -> serde_json::Value {
    let url = format!(
        "{}/Accounts/{}/Messages.json?{query}",
        sim.base_url(),
        sim.account_sid()
    );
    reqwest::Client::new()
        .get(url)
        .basic_auth(sim.account_sid(), Some(sim.auth_token()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn search() -> SmsSearch<'static> {
    SmsSearch::new(CALLER, BUSINESS, TEXT, clock::now_ms() - 60_000)
}

#[tokio::test]
async fn a_throttled_send_is_repeated_but_a_server_error_is_not() {
    let sim = sim().await;
    sim.fail_next(1, 429);
    let sent = client(&sim).send_sms(CALLER, BUSINESS, TEXT).await.unwrap();
    assert_eq!(sim.requests().len(), 2, "Twilio never processes a 429");
    assert_eq!(sim.messages()[0].sid, sent.sid);

    // A 500 may come after Twilio took the message: sending again could text twice.
    sim.fail_next(2, 500);
    let error = client(&sim)
        .send_sms(CALLER, BUSINESS, TEXT)
        .await
        .unwrap_err();
    assert_eq!(error.acceptance(), Acceptance::Unknown, "{error:?}");
    assert_eq!(sim.requests().len(), 3);

    // A 503 that asks to come back later was deferred on purpose.
    sim.fail_next_with_retry_after(1, 503, Some(0));
    client(&sim).send_sms(CALLER, BUSINESS, TEXT).await.unwrap();
    assert_eq!(sim.requests().len(), 5);
    assert_eq!(sim.messages().len(), 2);
}

#[tokio::test]
async fn a_lost_answer_leaves_the_message_at_twilio() {
    let sim = sim().await;
    sim.accept_but_lose_answer(1, LostAnswer::Status(502));
    let error = client(&sim)
        .send_sms(CALLER, BUSINESS, TEXT)
        .await
        .unwrap_err();
    assert!(
        matches!(error, TwilioError::Api { status: 502, .. }),
        "{error:?}"
    );
    assert_eq!(error.acceptance(), Acceptance::Unknown);
    assert_eq!(sim.requests().len(), 1, "not repeated");
    assert_eq!(sim.messages().len(), 1, "yet Twilio has it");

    sim.accept_but_lose_answer(1, LostAnswer::Delay(Duration::from_secs(2)));
    let impatient = client(&sim).with_request_timeout(Duration::from_millis(150));
    let error = impatient
        .send_sms(CALLER, BUSINESS, TEXT)
        .await
        .unwrap_err();
    assert!(matches!(error, TwilioError::Timeout), "{error:?}");
    assert_eq!(sim.requests().len(), 2, "a timeout is not repeated");
    assert_eq!(sim.messages().len(), 2);
}

#[tokio::test]
async fn the_message_list_has_twilio_s_shape_and_pages_newest_first() {
    let sim = sim().await;
    let client = client(&sim);
    for n in 0..5 {
        client
            .send_sms(CALLER, BUSINESS, &format!("{TEXT} {n}"))
            .await
            .unwrap();
    }
    client
        .send_sms("+972509999999", BUSINESS, TEXT)
        .await
        .unwrap();

    let mut page = client.list_messages(CALLER, BUSINESS, 2).await.unwrap();
    let mut bodies = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(page.messages.len() <= 2);
        bodies.extend(page.messages.iter().map(|m| m.body.clone().unwrap()));
        match client.next_messages_page(&page).await.unwrap() {
            Some(next) => page = next,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..5).rev().map(|n| format!("{TEXT} {n}")).collect();
    assert_eq!(bodies, expected, "only this route, most recent first");

    let list = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "GET")
        .unwrap();
    let query: Vec<(&str, &str)> = list
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        query,
        [("To", CALLER), ("From", BUSINESS), ("PageSize", "2")]
    );

    // The raw answer, field by field, as Twilio writes it.
    let raw = raw_list(&sim, "To=%2B972501234567&PageSize=2").await;
    let mut keys: Vec<&str> = raw
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "end",
            "first_page_uri",
            "messages",
            "next_page_uri",
            "page",
            "page_size",
            "previous_page_uri",
            "start",
            "uri"
        ]
    );
    let path = format!("/2010-04-01/Accounts/{}/Messages.json", sim.account_sid());
    assert_eq!(
        raw["first_page_uri"],
        format!("{path}?To=%2B972501234567&PageSize=2&Page=0")
    );
    let next = raw["next_page_uri"].as_str().unwrap();
    assert!(
        next.starts_with(&format!(
            "{path}?To=%2B972501234567&PageSize=2&Page=1&PageToken=PASM"
        )),
        "{next}"
    );
    assert_eq!(
        (raw["start"].as_u64(), raw["end"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(raw["previous_page_uri"].is_null());
    let first = &raw["messages"][0];
    assert_eq!(first["direction"], "outbound-api");
    assert_eq!(first["status"], "sent");
    assert!(first["date_created"].as_str().unwrap().ends_with("+0000"));
    assert!(first["sid"].as_str().unwrap().starts_with("SM"));
}

#[tokio::test]
async fn a_search_finds_a_message_still_waiting_in_twilio_s_queue() {
    let sim = sim().await;
    sim.hold_messages_in_queue(true);
    let client = client(&sim);
    let queued = client.send_sms(CALLER, BUSINESS, TEXT).await.unwrap();

    match client.find_sms(&search()).await.unwrap() {
        MessageSearch::Found(found) => {
            assert_eq!(found.sid, queued.sid);
            assert_eq!((found.status.as_str(), found.date_sent), ("queued", None));
        }
        other => panic!("{other:?}"),
    }
    // Why the search does not filter by DateSent: a queued message has no send date yet.
    let today = clock::format_utc(clock::now_ms(), "%Y-%m-%d");
    let raw = raw_list(&sim, &format!("To=%2B972501234567&DateSent%3E={today}")).await;
    assert_eq!(raw["messages"].as_array().unwrap().len(), 0, "{raw}");
}

#[tokio::test]
async fn a_search_ignores_the_same_text_from_before_its_bound() {
    let sim = sim().await;
    sim.add_sent_message(CALLER, BUSINESS, TEXT, Duration::from_secs(86_400));
    sim.add_sent_message(BUSINESS, CALLER, TEXT, Duration::ZERO);
    assert_eq!(
        client(&sim).find_sms(&search()).await.unwrap(),
        MessageSearch::NotFound
    );
}

#[tokio::test]
async fn a_search_reads_later_pages_up_to_its_limit() {
    let sim = sim().await;
    let client = client(&sim);
    client.send_sms(CALLER, BUSINESS, TEXT).await.unwrap();
    for n in 0..4 {
        client
            .send_sms(CALLER, BUSINESS, &format!("later {n}"))
            .await
            .unwrap();
    }
    // Five messages, two a page: the one searched for is alone on the third.
    let paged = |max_pages| SmsSearch {
        page_size: 2,
        max_pages,
        ..search()
    };
    assert_eq!(
        client.find_sms(&paged(2)).await.unwrap(),
        MessageSearch::TooMany
    );
    let found = client.find_sms(&paged(3)).await.unwrap();
    assert!(matches!(found, MessageSearch::Found(_)), "{found:?}");
}
