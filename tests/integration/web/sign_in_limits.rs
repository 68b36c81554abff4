//! Guessing the admin password from many addresses: each guessing address is blocked after a few
//! failures, the user name only slows down (a growing delay), so the real admin, from an address of
//! their own, still gets in once the delay has passed. Loopback clients come from 127.0.0.x.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::common::databases::for_each_engine;

use crate::common::TestApp;
use crate::web_support::{ADMIN, PASSWORD, web_app};

/// A client whose connections come from 127.0.0.`last`.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
}

async fn attempt(app: &TestApp, client: &reqwest::Client, password: &str) -> reqwest::Response {
    client
        .post(app.url("/sign-in"))
        .form(&[("user", ADMIN), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Tries until the answer is not "wait" (429 with Retry-After), for at most `patience`.
async fn attempt_after_any_delay(
    app: &TestApp,
    client: &reqwest::Client,
    password: &str,
    patience: Duration,
) -> (u16, Duration) {
    let started = std::time::Instant::now();
    loop {
        let response = attempt(app, client, password).await;
        let waiting = response.status() == 429 && response.headers().contains_key("retry-after");
        if !waiting || started.elapsed() > patience {
            return (response.status().as_u16(), started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn guesses_from_other_addresses_slow_the_admin_down_but_never_lock_them_out() {
    for_each_engine(|db| async move {
        let settings = [
            ("SICHA_SIGN_IN_MAX_FAILURES", "3"),
            ("SICHA_SIGN_IN_DELAY_MS", "10"),
        ];
        let app = web_app(&db, &settings).await;
        let patience = Duration::from_secs(5);
        // Eight wrong guesses from four addresses, two each: far past the old per-name lock.
        for last in [2, 3, 4, 5, 2, 3, 4, 5] {
            let (status, _) =
                attempt_after_any_delay(&app, &client_from(last), "a-guess", patience).await;
            assert_eq!(status, 401, "from 127.0.0.{last}");
        }
        // Right after a failure the name waits, even with the right password...
        let admin = client_from(1);
        let waiting = attempt(&app, &admin, PASSWORD).await;
        assert_eq!(waiting.status(), 429);
        let retry_after: u64 = waiting.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        // ...and once the delay has passed, the right password from the admin's address gets in.
        let (status, waited) = attempt_after_any_delay(&app, &admin, PASSWORD, patience).await;
        assert_eq!(status, 303, "the admin got in after {waited:?}");
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_guessing_address_is_blocked_even_with_the_right_password() {
    for_each_engine(|db| async move {
        let settings = [
            ("SICHA_SIGN_IN_MAX_FAILURES", "3"),
            ("SICHA_SIGN_IN_DELAY_MS", "20"),
        ];
        let app = web_app(&db, &settings).await;
        let patience = Duration::from_secs(5);
        let guesser = client_from(6);
        for _ in 0..3 {
            let (status, _) = attempt_after_any_delay(&app, &guesser, "a-guess", patience).await;
            assert_eq!(status, 401);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let blocked = attempt(&app, &guesser, PASSWORD).await;
        assert_eq!(blocked.status(), 429);
        assert!(blocked.headers().get("set-cookie").is_none());
        // Another address is not blocked by it.
        let (status, _) = attempt_after_any_delay(&app, &client_from(7), PASSWORD, patience).await;
        assert_eq!(status, 303);
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn parallel_guesses_from_many_addresses_get_one_try_per_delay() {
    for_each_engine(|db| async move {
        let settings = [
            ("SICHA_SIGN_IN_MAX_FAILURES", "3"),
            ("SICHA_SIGN_IN_DELAY_MS", "30000"),
        ];
        let first = web_app(&db, &settings).await;
        let second = web_app(&db, &settings).await;
        let clients: Vec<reqwest::Client> = (10..30).map(client_from).collect();
        let guesses = clients.iter().enumerate().map(|(i, client)| {
            let app = if i % 2 == 0 { &first } else { &second };
            attempt(app, client, "a-guess")
        });
        let statuses: Vec<u16> = futures::future::join_all(guesses)
            .await
            .into_iter()
            .map(|r| r.status().as_u16())
            .collect();
        // Racing attempts may refuse each other (none checked at all); never more than one.
        let checked = statuses.iter().filter(|s| **s == 401).count();
        assert!(checked <= 1, "{statuses:?}");
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 429),
            "{statuses:?}"
        );
        first.shutdown().await;
        second.shutdown().await;
    })
    .await;
}
