//! The web pages over HTTP, on SQLite and (with SICHA_TEST_POSTGRES_URL) PostgreSQL: nothing without
//! a session, the sign-in and its limits, the cookie's protections, what the pages show, the
//! filters and escaping. Sessions (shared across instances, signing out) are in [`sessions`], the recording in
//! [`recordings`], call-backs on the pages in [`callbacks`].

mod callbacks;
mod recordings;
mod sessions;
mod sign_in_limits;

use crate::common;
use crate::web_support;

use crate::common::databases::for_each_engine;
use common::spawn_app;
use web_support::{
    ADMIN, CALLER_TEXT, FINAL_ANSWER, HEARD_PART, PASSWORD, get_signed_in, plain_client, seed,
    sign_in, web_app,
};

/// Every page and the recording, as a signed-out visitor would try them.
fn protected_paths(world: &web_support::World) -> Vec<String> {
    vec![
        "/".into(),
        "/calls".into(),
        "/calls?event=barge_in".into(),
        "/calls/CAweb1".into(),
        "/customers".into(),
        format!("/customers/{}", world.dana_id),
        "/businesses".into(),
        format!("/businesses/{}", world.business_id),
    ]
}

#[tokio::test]
async fn signed_out_visitors_get_no_page_and_no_recording() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        let world = seed(&app, dir.path()).await;
        let client = plain_client();
        for path in protected_paths(&world) {
            for cookie in [None, Some("sicha_session=forged-token")] {
                let mut request = client.get(app.url(&path));
                if let Some(cookie) = cookie {
                    request = request.header("cookie", cookie);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_string());
                let body = response.text().await.unwrap();
                if path == "/" {
                    assert_eq!(status, 303, "{path}");
                    assert_eq!(location.as_deref(), Some("/calls"));
                    continue;
                }
                assert_eq!(status, 303, "{path} with {cookie:?}");
                assert!(
                    location
                        .as_deref()
                        .unwrap()
                        .starts_with("/sign-in?next=%2F"),
                    "{location:?}"
                );
                assert!(
                    !body.contains("דנה") && !body.contains("תספורת"),
                    "{path}: {body}"
                );
            }
        }
        let recording = client
            .get(app.url("/calls/CAweb1/recording"))
            .send()
            .await
            .unwrap();
        assert_eq!(recording.status(), 401);
        assert_ne!(
            recording
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap()),
            Some("audio/ogg")
        );
        assert!(!recording.bytes().await.unwrap().starts_with(b"OggS"));
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn without_admin_credentials_the_pages_are_off() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        let client = plain_client();
        for path in [
            "/calls",
            "/sign-in",
            "/customers",
            "/calls/CAx/recording",
            "/static/web.css",
        ] {
            let response = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 503, "{path}");
        }
        let post = client
            .post(app.url("/sign-in"))
            .form(&[("user", ADMIN), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 503);
        assert!(post.headers().get("set-cookie").is_none());
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_limited_even_for_the_right_one() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[("SICHA_SIGN_IN_MAX_FAILURES", "3")]).await;
        let client = plain_client();
        let attempt = |user: &'static str, password: &'static str| {
            client
                .post(app.url("/sign-in"))
                .form(&[("user", user), ("password", password)])
                .send()
        };
        for (user, password) in [(ADMIN, "wrong-1"), ("root", PASSWORD), (ADMIN, "")] {
            let response = attempt(user, password).await.unwrap();
            assert_eq!(response.status(), 401, "{user}");
            assert!(response.headers().get("set-cookie").is_none());
            assert!(response.text().await.unwrap().contains("שגויים"));
        }
        // The address has failed three times: further tries are refused unchecked.
        let response = attempt(ADMIN, PASSWORD).await.unwrap();
        assert_eq!(response.status(), 429);
        assert!(response.headers().get("set-cookie").is_none());
        assert!(response.text().await.unwrap().contains("יותר מדי"));
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_right_password_gives_an_http_only_same_site_cookie_secure_under_https() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[]).await;
        let response = plain_client()
            .post(app.url("/sign-in"))
            .form(&[
                ("user", ADMIN),
                ("password", PASSWORD),
                ("next", "/customers?q=1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/customers?q=1");
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(cookie.starts_with("sicha_session="), "{cookie}");
        assert!(
            cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Lax"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "plain http: {cookie}");
        app.shutdown().await;

        let app = web_app(&db, &[("SICHA_PUBLIC_URL", "https://sicha.example")]).await;
        let response = plain_client()
            .post(app.url("/sign-in"))
            .form(&[
                ("user", ADMIN),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/calls", "no open redirect");
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("__Host-sicha_session="), "{cookie}");
        assert!(
            cookie.contains("; Secure") && cookie.contains("; HttpOnly"),
            "{cookie}"
        );
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_call_page_shows_the_hebrew_chat_events_recording_and_latency_escaped() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        let world = seed(&app, dir.path()).await;
        let cookie = sign_in(&app).await;
        let (status, content_type, page) = get_signed_in(&app, &cookie, "/calls/CAweb1").await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/html"));
        assert!(page.contains("<html lang=\"he\" dir=\"rtl\">"));
        assert!(page.contains("דנה כהן") && page.contains("מספרת דני"));
        assert!(
            page.contains("<bdi dir=\"ltr\">+972501234567</bdi>"),
            "phone numbers stay LTR"
        );
        assert!(page.contains(FINAL_ANSWER));
        // The caller's `<script>` is text, not markup (whichever entities the escaper picks).
        assert!(!page.contains("<script"), "{page}");
        let entities = page
            .replace("&#60;", "&lt;")
            .replace("&#62;", "&gt;")
            .replace("&#34;", "&quot;");
        assert!(
            entities.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
            "{page}"
        );
        assert!(CALLER_TEXT.starts_with("שלום, אני רוצה לקבוע תור"));
        assert!(page.contains("שלום, אני רוצה לקבוע תור לתספורת"));
        // The barge-in: the heard part marked, the rest struck through, the event in between.
        assert!(
            page.contains(&format!("<mark class=\"heard\">{HEARD_PART}</mark>")),
            "{page}"
        );
        assert!(
            page.contains(
                "<del class=\"unheard\" title=\"לא נשמע\">יש גם תור ביום שני בשתיים.</del>"
            )
        );
        let heard_at = page.find(HEARD_PART).unwrap();
        let barge_in_at = page.find("הלקוח קטע את הסוכן").unwrap();
        let next_turn_at = page.find("ראשון בעשר מתאים לי").unwrap();
        assert!(
            heard_at < barge_in_at && barge_in_at < next_turn_at,
            "events sit at their moment"
        );
        // Events in Hebrew words, never their raw keys; an unknown kind is shown escaped.
        assert!(
            page.contains("google נכשל · openai דיבר במקומו · שגיאה: timeout"),
            "{page}"
        );
        assert!(page.contains("2 קטעים לא הושמעו · בהקלטה 0:08"));
        assert!(page.contains("השמע התחבר") && page.contains("זרם MZweb1"));
        assert!(!page.contains("served_by") && !page.contains("at_sample"));
        assert!(
            page.contains("a_future_kind") && !page.contains("<b>"),
            "{page}"
        );
        assert!(
            entities.contains("note: &lt;b&gt;bold&lt;/b&gt;"),
            "unknown details are kept, escaped"
        );
        // The booking tool at its moment: the tool, its arguments, its result and how long it took.
        let tool_at = page.find("פעולה: book_appointment").expect("the tool call's row");
        let tool_row = &entities[entities.find("פעולה: book_appointment").unwrap()..];
        let tool_row = &tool_row[..tool_row.find("</li>").unwrap()];
        assert!(
            tool_row.contains("&quot;name&quot;:&quot;דנה&quot;")
                && tool_row.contains("הצליחה: <code dir=\"ltr\">{&quot;booked&quot;:true,&quot;reference&quot;:&quot;B-17&quot;}</code>")
                && tool_row.contains("380 ms"),
            "{tool_row}"
        );
        assert!(
            next_turn_at < tool_at && tool_at < page.find(FINAL_ANSWER).unwrap(),
            "the tool call sits where the agent made it"
        );
        assert!(!page.contains("tool_result"), "its result is in its row");
        assert!(page.contains("src=\"/calls/CAweb1/recording\""));
        assert!(page.contains("class=\"stage stage-v2v\"") && page.contains("1310 ms"));
        assert!(page.contains("הסוכן סיים"), "the end reason in Hebrew");

        let (status, _, customer) =
            get_signed_in(&app, &cookie, &format!("/customers/{}", world.dana_id)).await;
        assert_eq!(status, 200);
        assert!(customer.contains("booked") && customer.contains("href=\"/calls/CAweb1\""));
        assert!(customer.contains("לקוח: שלום, אני רוצה לקבוע תור"));
        assert!(!customer.contains("<script>alert"));

        let (_, _, business) = get_signed_in(
            &app,
            &cookie,
            &format!("/businesses/{}", world.other_business_id),
        )
        .await;
        assert!(business.contains("מרפאת שיניים") && business.contains("CAweb3"));
        assert!(
            !business.contains("CAweb1"),
            "only the business's own calls"
        );
        let (_, _, businesses) = get_signed_in(&app, &cookie, "/businesses").await;
        assert!(businesses.contains("מספרת דני") && businesses.contains("2 שיחות"));

        let (status, _, _) = get_signed_in(&app, &cookie, "/calls/CAnope").await;
        assert_eq!(status, 404);
        app.shutdown().await;
    })
    .await;
}

/// The CallSids a call list shows, in order.
fn listed_calls(page: &str) -> Vec<&str> {
    page.match_indices("<a class=\"main\" href=\"/calls/")
        .map(|(at, prefix)| {
            let rest = &page[at + prefix.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

#[tokio::test]
async fn call_and_customer_filters_narrow_the_lists() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        let world = seed(&app, dir.path()).await;
        let cookie = sign_in(&app).await;
        let calls = |query: String| {
            let cookie = cookie.clone();
            let app = &app;
            async move {
                let (status, _, page) =
                    get_signed_in(app, &cookie, &format!("/calls{query}")).await;
                assert_eq!(status, 200, "{query}");
                listed_calls(&page)
                    .into_iter()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(calls(String::new()).await, ["CAweb3", "CAweb2", "CAweb1"]);
        assert_eq!(calls("?event=barge_in".into()).await, ["CAweb1"]);
        assert_eq!(calls("?event=loop".into()).await, ["CAweb2"]);
        assert_eq!(calls("?event=fallback".into()).await, ["CAweb1"]);
        assert_eq!(calls("?status=dropped".into()).await, ["CAweb2"]);
        assert_eq!(
            calls(format!("?business={}", world.business_id)).await,
            ["CAweb2", "CAweb1"]
        );
        assert_eq!(
            calls("?from=2025-06-16&to=2025-06-16".into()).await,
            ["CAweb2"]
        );
        assert_eq!(calls("?from=2025-06-16".into()).await, ["CAweb3", "CAweb2"]);
        assert_eq!(
            calls("?to=2025-06-15&business=&status=&event=".into()).await,
            ["CAweb1"]
        );

        let customers = |query: &'static str| {
            let cookie = cookie.clone();
            let app = &app;
            async move {
                let (status, _, page) =
                    get_signed_in(app, &cookie, &format!("/customers{query}")).await;
                assert_eq!(status, 200);
                page
            }
        };
        let all = customers("").await;
        assert!(
            all.contains("דנה כהן")
                && all.contains("+972541112222")
                && all.contains("+972521113333")
        );
        assert!(all.contains("שיחה אחת"));
        let by_local_phone = customers("?q=054-111").await;
        assert!(by_local_phone.contains("+972541112222") && !by_local_phone.contains("דנה כהן"));
        let by_name = customers("?q=%D7%93%D7%A0%D7%94").await; // "דנה"
        assert!(by_name.contains("דנה כהן") && !by_name.contains("+972541112222"));
        let nobody = customers("?q=%25").await; // a literal "%" matches no one
        assert!(nobody.contains("לא נמצאו לקוחות"));
        app.shutdown().await;
    })
    .await;
}
