//! Sessions and the sign-in limit live in the database: several instances on one database (and a
//! restarted one) share them, on SQLite and on PostgreSQL.

use crate::common::databases::for_each_engine;
use sha2::{Digest, Sha256};
use sicha::clock::now_ms;

use crate::web_support::{ADMIN, PASSWORD, get_signed_in, plain_client, sign_in, web_app};

/// What the database keeps of a cookie's token.
fn stored_hash(cookie: &str) -> String {
    let token = cookie.split_once('=').unwrap().1;
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A well-formed token (43 base64url characters) that the test stores by hand.
fn handmade_cookie(tag: char) -> String {
    format!("sicha_session={}", tag.to_string().repeat(43))
}

#[tokio::test]
async fn a_session_works_on_every_instance_survives_a_restart_and_ends_everywhere() {
    for_each_engine(|db| async move {
        let first = web_app(&db, &[]).await;
        let second = web_app(&db, &[]).await;
        let cookie = sign_in(&first).await;
        let token = cookie.split_once('=').unwrap().1;
        assert_eq!(token.len(), 43, "256 bits as base64url: {cookie}");
        assert_eq!(get_signed_in(&first, &cookie, "/calls").await.0, 200);
        assert_eq!(
            get_signed_in(&second, &cookie, "/calls").await.0,
            200,
            "another instance on the same database knows the session"
        );
        // Only the token's hash is stored.
        let session = first
            .store
            .live_web_session(&stored_hash(&cookie), now_ms(), 60_000)
            .await
            .unwrap()
            .expect("the session is stored by its hash");
        assert_eq!(session.user, ADMIN);
        assert!(
            first
                .store
                .live_web_session(token, now_ms(), 60_000)
                .await
                .unwrap()
                .is_none(),
            "the token itself is not a key"
        );

        first.shutdown().await;
        let restarted = web_app(&db, &[]).await;
        assert_eq!(
            get_signed_in(&restarted, &cookie, "/calls").await.0,
            200,
            "a restart keeps the session"
        );

        let out = plain_client()
            .post(second.url("/sign-out"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303);
        for app in [&second, &restarted] {
            assert_eq!(
                get_signed_in(app, &cookie, "/calls").await.0,
                303,
                "signed out on every instance"
            );
        }
        let recording = plain_client()
            .get(restarted.url("/calls/CAany/recording"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(recording.status(), 401);
        second.shutdown().await;
        restarted.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn ended_idle_and_foreign_sessions_are_refused_and_pruned() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[]).await;
        let store = &app.store;
        let now = now_ms();
        let hour = 3_600_000;
        let idle = sicha::web::SESSION_IDLE.as_millis() as i64;
        assert!(idle < 3 * hour && idle > hour, "the cases below assume it");
        let [live, ended, idle_one, renamed] = ['L', 'E', 'I', 'R'].map(handmade_cookie);
        let stored = [
            (&live, ADMIN, now - hour, now + hour),
            (&ended, ADMIN, now - 13 * hour, now - 1),
            (&idle_one, ADMIN, now - 3 * hour, now + 9 * hour),
            // A session of an admin name no longer configured.
            (&renamed, "former-admin", now - hour, now + hour),
        ];
        for (cookie, user, created, expires) in stored {
            store
                .insert_web_session(&stored_hash(cookie), user, created, expires)
                .await
                .unwrap();
        }
        assert_eq!(get_signed_in(&app, &live, "/calls").await.0, 200);
        for (cookie, why) in [
            (&ended, "past its end"),
            (&idle_one, "unused too long"),
            (&renamed, "another user"),
        ] {
            assert_eq!(get_signed_in(&app, cookie, "/calls").await.0, 303, "{why}");
        }
        // Using the live session moved its last use forward.
        let seen = store
            .live_web_session(&stored_hash(&live), now_ms(), idle)
            .await
            .unwrap()
            .unwrap();
        assert!(seen.last_seen_ms >= now, "{seen:?}");

        sicha::web::prune_expired(store).await;
        assert_eq!(
            store.prune_web_sessions(now_ms(), idle).await.unwrap(),
            0,
            "the ended and idle sessions were already pruned"
        );
        assert_eq!(get_signed_in(&app, &live, "/calls").await.0, 200);
        assert!(
            store
                .delete_web_session(&stored_hash(&renamed))
                .await
                .unwrap(),
            "a session still within its times is kept by the pruner"
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn failed_sign_ins_are_counted_across_instances_and_forgiven_on_success() {
    for_each_engine(|db| async move {
        let limit = [("SICHA_SIGN_IN_MAX_FAILURES", "3")];
        let first = web_app(&db, &limit).await;
        let second = web_app(&db, &limit).await;
        let attempt = |app: &crate::common::TestApp, password: &'static str| {
            plain_client()
                .post(app.url("/sign-in"))
                .form(&[("user", ADMIN), ("password", password)])
                .send()
        };
        assert_eq!(attempt(&first, "wrong-1").await.unwrap().status(), 401);
        assert_eq!(attempt(&second, "wrong-2").await.unwrap().status(), 401);
        // The right password forgives the failures, on every instance.
        assert_eq!(attempt(&first, PASSWORD).await.unwrap().status(), 303);
        for (app, password) in [
            (&second, "wrong-3"),
            (&first, "wrong-4"),
            (&second, "wrong-5"),
        ] {
            assert_eq!(attempt(app, password).await.unwrap().status(), 401);
        }
        for app in [&first, &second] {
            let refused = attempt(app, PASSWORD).await.unwrap();
            assert_eq!(refused.status(), 429, "three failures over two instances");
            assert!(refused.headers().get("set-cookie").is_none());
        }
        first.shutdown().await;
        second.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn guesses_in_parallel_do_not_slip_past_the_limit() {
    for_each_engine(|db| async move {
        let limit = [("SICHA_SIGN_IN_MAX_FAILURES", "3")];
        let first = web_app(&db, &limit).await;
        let second = web_app(&db, &limit).await;
        let guesses = (0..10).map(|i| {
            let app = if i % 2 == 0 { &first } else { &second };
            plain_client()
                .post(app.url("/sign-in"))
                .form(&[("user", ADMIN), ("password", "a-guess")])
                .send()
        });
        let statuses: Vec<u16> = futures::future::join_all(guesses)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        // Racing attempts may refuse each other (none checked at all); never more than the limit.
        let checked = statuses.iter().filter(|s| **s == 401).count();
        assert!(checked <= 3, "{statuses:?}");
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 429),
            "{statuses:?}"
        );
        let right = plain_client()
            .post(first.url("/sign-in"))
            .form(&[("user", ADMIN), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        // Fewer than three checked only when racing attempts refused each other; then the limit
        // is not reached yet and the right password still gets in.
        let expected = if checked == 3 { 429 } else { 303 };
        assert_eq!(right.status(), expected, "{statuses:?}");
        first.shutdown().await;
        second.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn signing_out_ends_the_session_and_cross_site_forms_are_refused() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[]).await;
        let cookie = sign_in(&app).await;
        assert_eq!(get_signed_in(&app, &cookie, "/calls").await.0, 200);
        let forged = plain_client()
            .post(app.url("/sign-out"))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert_eq!(
            get_signed_in(&app, &cookie, "/calls").await.0,
            200,
            "still signed in"
        );

        let out = plain_client()
            .post(app.url("/sign-out"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303);
        assert!(
            out.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert_eq!(
            get_signed_in(&app, &cookie, "/calls").await.0,
            303,
            "the old cookie is dead"
        );
        app.shutdown().await;
    })
    .await;
}
