use std::time::Duration;

use jiff::Timestamp;
use reqwest::StatusCode;

use super::error::api_error;
use super::messages::matches;
use super::*;

fn client(base: &str) -> TwilioClient {
    TwilioClient::new(
        Url::parse(base).unwrap(),
        "AC123".into(),
        Secret::new("very-secret-token"),
    )
}

fn api(status: u16, retry_after: Option<u64>) -> TwilioError {
    TwilioError::api_status(status, retry_after)
}

#[test]
fn endpoints_keep_the_versioned_base() {
    let with_slash = client("https://api.twilio.com/2010-04-01/");
    let without = client("https://api.twilio.com/2010-04-01");
    let expected = "https://api.twilio.com/2010-04-01/Accounts/AC123/Calls/CA9.json";
    assert_eq!(with_slash.call_url("CA9").unwrap().as_str(), expected);
    assert_eq!(without.call_url("CA9").unwrap().as_str(), expected);
}

#[test]
fn sids_that_could_change_the_path_are_refused() {
    let client = client("https://api.twilio.com/2010-04-01");
    for bad in ["", "CA1/../x", "CA1?x=1", "CA 1", "CA1%2F"] {
        assert!(
            matches!(client.call_url(bad), Err(TwilioError::InvalidInput(_))),
            "{bad}"
        );
    }
}

#[test]
fn debug_output_hides_the_auth_token() {
    let shown = format!("{:?}", client("https://api.twilio.com/2010-04-01"));
    assert!(!shown.contains("very-secret-token"), "{shown}");
    assert!(shown.contains("AC123"));
}

#[test]
fn backoff_grows_is_capped_and_jitters_within_half() {
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(350),
        ..RetryPolicy::default()
    };
    for _ in 0..50 {
        let first = policy.backoff(1);
        assert!(
            first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
            "{first:?}"
        );
        let second = policy.backoff(2);
        assert!(
            second >= Duration::from_millis(100) && second <= Duration::from_millis(200),
            "{second:?}"
        );
        let late = policy.backoff(30);
        assert!(
            late >= Duration::from_millis(175) && late <= Duration::from_millis(350),
            "{late:?}"
        );
    }
}

#[test]
fn error_bodies_are_parsed_or_summarised() {
    let body = br#"{"code": 21211, "message": "Invalid 'To' Phone Number", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
    match api_error(StatusCode::BAD_REQUEST, body, None) {
        TwilioError::Api {
            status,
            code,
            message,
            more_info,
            retry_after: None,
        } => {
            assert_eq!((status, code), (400, Some(21211)));
            assert_eq!(message, "Invalid 'To' Phone Number");
            assert!(more_info.unwrap().ends_with("21211"));
        }
        other => panic!("{other:?}"),
    }
    match api_error(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>", None) {
        TwilioError::Api {
            status: 502,
            code: None,
            message,
            ..
        } => assert_eq!(message, "<html>bad gateway</html>"),
        other => panic!("{other:?}"),
    }
    let unavailable = api_error(
        StatusCode::SERVICE_UNAVAILABLE,
        b"",
        Some(Duration::from_secs(3)),
    );
    match &unavailable {
        TwilioError::Api { message, .. } => assert_eq!(message, "Service Unavailable"),
        other => panic!("{other:?}"),
    }
    assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(3)));
}

#[test]
fn call_resource_reads_twilio_json_with_nulls() {
    let json = r#"{"sid":"CA1","status":"in-progress","from":"+972501111111","to":"+97231111111",
        "duration":null,"start_time":"Tue, 31 Aug 2010 20:36:29 +0000","end_time":null,"price":null}"#;
    let call: CallResource = serde_json::from_str(json).unwrap();
    assert_eq!(call.status, "in-progress");
    assert_eq!(call.duration, None);
    assert!(!call.has_ended());
}

#[test]
fn only_failures_that_prove_twilio_did_nothing_count_as_not_accepted() {
    for refused in [
        api(400, None),
        api(401, None),
        api(404, None),
        api(429, None),
        api(503, Some(2)),
        TwilioError::InvalidInput("x".into()),
    ] {
        assert_eq!(refused.acceptance(), Acceptance::NotAccepted, "{refused:?}");
    }
    for unknown in [
        api(500, None),
        api(502, None),
        api(503, None),
        api(504, None),
        TwilioError::Timeout,
    ] {
        assert_eq!(unknown.acceptance(), Acceptance::Unknown, "{unknown:?}");
    }
    assert_eq!(
        TwilioError::Decode("x".into()).acceptance(),
        Acceptance::Accepted
    );
}

#[test]
fn throttling_server_errors_and_timeouts_are_transient_and_refusals_are_not() {
    for transient in [
        api(429, None),
        api(500, None),
        api(503, None),
        TwilioError::Timeout,
    ] {
        assert!(transient.is_transient(), "{transient:?}");
    }
    for final_error in [
        api(400, None),
        api(401, None),
        api(404, None),
        TwilioError::Decode("x".into()),
        TwilioError::InvalidInput("x".into()),
    ] {
        assert!(!final_error.is_transient(), "{final_error:?}");
    }
}

#[test]
fn a_created_message_is_repeated_only_when_provably_not_taken() {
    assert!(worth_repeating(&api(429, None), Repeat::IfNotAccepted));
    assert!(worth_repeating(&api(503, Some(1)), Repeat::IfNotAccepted));
    assert!(!worth_repeating(&api(503, None), Repeat::IfNotAccepted));
    assert!(!worth_repeating(&api(500, None), Repeat::IfNotAccepted));
    assert!(worth_repeating(&api(500, None), Repeat::Safe));
    for never in [api(400, None), TwilioError::Timeout] {
        assert!(!worth_repeating(&never, Repeat::Safe), "{never:?}");
        assert!(!worth_repeating(&never, Repeat::IfNotAccepted), "{never:?}");
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[test]
fn retry_after_reads_delay_seconds() {
    let now = at("2026-10-21T07:00:00Z");
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("99999999999999999999999", now),
        Some(MAX_RETRY_AFTER)
    );
    assert_eq!(parse_retry_after("172800", now), Some(MAX_RETRY_AFTER));
}

#[test]
fn retry_after_reads_an_http_date() {
    let now = at("2026-10-21T07:00:00Z");
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now),
        Some(Duration::from_secs(28 * 60))
    );
    // The numeric offset some servers write instead of GMT.
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2026 09:00:30 +0200", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2026 06:00:00 GMT", now),
        Some(Duration::ZERO),
        "a date already past means no wait"
    );
    assert_eq!(
        parse_retry_after("Sat, 01 Jan 2400 00:00:00 GMT", now),
        Some(MAX_RETRY_AFTER)
    );
}

#[test]
fn retry_after_garbage_is_ignored() {
    let now = at("2026-10-21T07:00:00Z");
    for garbage in [
        "",
        "   ",
        "-5",
        "1.5",
        "+3",
        "soon",
        "120 seconds",
        "2026-10-21T07:28:00Z",
        "Wed, 32 Oct 2026 07:28:00 GMT",
        "Thu, 21 Oct 2026 07:28:00 GMT",
    ] {
        assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
    }
}

fn message(body: &str, created: &str) -> MessageResource {
    MessageResource {
        sid: "SM1".into(),
        status: "sent".into(),
        account_sid: None,
        from: Some("+97231234567".into()),
        to: Some("+972501234567".into()),
        body: Some(body.into()),
        direction: Some("outbound-api".into()),
        num_segments: None,
        error_code: None,
        error_message: None,
        date_created: Some(created.into()),
        date_sent: None,
    }
}

#[test]
fn a_search_matches_the_same_text_to_the_same_number_since_the_bound() {
    let since = at("2026-10-21T07:00:00Z").as_millisecond();
    let search = SmsSearch::new("+972501234567", "+97231234567", "תודה!", since);
    assert!(matches(
        &message("תודה!", "Wed, 21 Oct 2026 07:00:00 +0000"),
        &search
    ));
    assert!(matches(
        &message(
            "Sent from your Twilio trial account - תודה!",
            "Wed, 21 Oct 2026 07:00:01 +0000"
        ),
        &search
    ));
    for other in [
        message("תודה!", "Wed, 21 Oct 2026 06:59:59 +0000"),
        message("תודה", "Wed, 21 Oct 2026 07:00:01 +0000"),
        message("x תודה!", "Wed, 21 Oct 2026 07:00:01 +0000"),
        message("תודה!", "not a date"),
    ] {
        assert!(!matches(&other, &search), "{other:?}");
    }
    let mut elsewhere = message("תודה!", "Wed, 21 Oct 2026 07:00:01 +0000");
    elsewhere.to = Some("+972509999999".into());
    assert!(!matches(&elsewhere, &search));
}

#[test]
fn next_page_links_stay_on_this_account_s_messages() {
    let proxied = client("https://proxy.example.com/twilio/2010-04-01");
    let url = proxied
        .messages_page_url(
            "/2010-04-01/Accounts/AC123/Messages.json?To=%2B972501234567&PageSize=50&Page=1&PageToken=PASM1",
        )
        .unwrap();
    assert_eq!(
        url.as_str(),
        "https://proxy.example.com/twilio/2010-04-01/Accounts/AC123/Messages.json?To=%2B972501234567&PageSize=50&Page=1&PageToken=PASM1"
    );
    for foreign in [
        "/2010-04-01/Accounts/AC999/Messages.json?Page=1",
        "/2010-04-01/Accounts/AC123/Calls.json?Page=1",
        "https://evil.example.com/2010-04-01/Accounts/AC123/Messages.json?Page=1",
    ] {
        assert!(
            matches!(
                proxied.messages_page_url(foreign),
                Err(TwilioError::Decode(_))
            ),
            "{foreign}"
        );
    }
}
