//! The web pages in a real browser: headless Debian Chromium driven through chromedriver over
//! WebDriver. The call shown is a real one, made first by the simulated caller over the wire (see
//! `web_support::real_call`). One browser session walks what a person would: sign in, open the
//! customer, open their call, check the chat reads right to left, play the recording, sign out.
//! Screenshots of the call page at phone and desktop widths land in `target/screenshots/`.
//!
//! Chromium and chromedriver come from Debian (`scripts/install`); without them this test fails,
//! saying so, rather than passing silently.

use crate::common;
use crate::web_support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use web_support::real_call::{
    CALL_SID, CUSTOMER_NAME, FIRST_LINE, HEARD, LONG_ANSWER, PRICE_ANSWER, RealCall, real_call,
};
use web_support::{ADMIN, PASSWORD};

const CHROMIUM: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const CHROMEDRIVER: [&str; 2] = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

fn installed(candidates: &[&str], what: &str) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| {
            panic!(
                "{what} is not installed (looked for {candidates:?}): run scripts/install, which \
                 installs Debian's chromium and chromium-driver"
            )
        })
}

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start(binary: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let status = format!("{}/status", driver.url);
        for _ in 0..100 {
            if let Ok(response) = reqwest::get(&status).await
                && response.status().is_success()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on {status}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,900",
    ]
    .map(str::to_string)
    .into_iter()
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": chromium.display().to_string(), "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session through chromedriver")
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A screenshot of the whole page at `width` CSS pixels: the window is grown until the page fits.
async fn screenshot(client: &Client, width: u32, name: &str) -> PathBuf {
    client.set_window_size(width, 900).await.unwrap();
    let sizes = client
        .execute(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]",
            vec![],
        )
        .await
        .unwrap();
    let page = sizes[0].as_u64().unwrap() as u32;
    let frame = sizes[1].as_u64().unwrap_or(0) as u32;
    client
        .set_window_size(width, (page + frame).min(8000))
        .await
        .unwrap();
    let png = client.screenshot().await.unwrap();
    let path = screenshots_dir().join(name);
    std::fs::write(&path, png).unwrap();
    path
}

/// The URL once the browser has navigated away from `path` (a form's redirect may still be under
/// way when the click returns); gives up after a few seconds and returns where it is.
async fn left(client: &Client, path: &str) -> url::Url {
    for _ in 0..50 {
        let url = client.current_url().await.unwrap();
        if url.path() != path {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.current_url().await.unwrap()
}

async fn script(client: &Client, source: &str) -> Value {
    client.execute(source, vec![]).await.unwrap()
}

#[tokio::test]
async fn a_person_signs_in_reads_a_call_right_to_left_and_plays_its_recording() {
    let chromium = installed(&CHROMIUM, "Chromium");
    let chromedriver = installed(&CHROMEDRIVER, "chromedriver");
    let database = crate::common::databases::TestDatabase::sqlite().unwrap();
    let call = real_call(database.url()).await;
    let driver = Driver::start(&chromedriver).await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, &chromium, profile.path()).await;
    let outcome = walk(&client, &call).await;
    client.close().await.unwrap();
    drop(driver);
    call.world.app.shutdown().await;
    outcome.unwrap_or_else(|error: String| panic!("{error}"));
}

/// The walk itself; a failure is returned so the browser is closed before the test fails.
async fn walk(client: &Client, call: &RealCall) -> Result<(), String> {
    let app: &common::TestApp = &call.world.app;
    let call_page = format!("/calls/{CALL_SID}");
    let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };

    // Signed out, a page leads to the sign-in form.
    client.goto(&app.url("/customers")).await.unwrap();
    let url = client.current_url().await.unwrap();
    check(
        url.path() == "/sign-in",
        &format!("not sent to sign in: {url}"),
    )?;
    let form = client.form(Locator::Css("form.sign-in")).await.unwrap();
    form.set_by_name("user", ADMIN).await.unwrap();
    form.set_by_name("password", PASSWORD).await.unwrap();
    form.submit().await.unwrap();
    let url = left(client, "/sign-in").await;
    check(
        url.path() == "/customers",
        &format!("not back at the customers: {url}"),
    )?;
    let visible_cookies = script(client, "return document.cookie").await;
    check(
        !visible_cookies
            .as_str()
            .unwrap_or("")
            .contains("sicha_session"),
        "the session cookie is visible to scripts",
    )?;

    screenshot(client, 390, "customers-phone.png").await;
    client
        .goto(&app.url("/calls?event=barge_in"))
        .await
        .unwrap();
    screenshot(client, 390, "calls-phone.png").await;
    client.goto(&app.url("/customers")).await.unwrap();

    // The customer, then their call.
    client
        .find(Locator::XPath(&format!(
            "//a[contains(., '{CUSTOMER_NAME}')]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let url = left(client, "/customers").await;
    check(
        url.path() == format!("/customers/{}", call.customer_id),
        &format!("not on Dana's page: {url}"),
    )?;
    client
        .find(Locator::LinkText("לשיחה"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let url = left(client, &format!("/customers/{}", call.customer_id)).await;
    check(url.path() == call_page, &format!("not on the call: {url}"))?;

    // Right to left: the chat and its bubbles; the phone number inside stays left to right.
    let transcript = client.find(Locator::Id("transcript")).await.unwrap();
    let direction = transcript.css_value("direction").await.unwrap();
    check(
        direction == "rtl",
        &format!("the transcript runs {direction}"),
    )?;
    let heard = client.find(Locator::Css("mark.heard")).await.unwrap();
    // The first sentence's mark was echoed; how much of the next one counts as heard depends on
    // when the caller cut in.
    let heard_text = heard.text().await.unwrap();
    check(
        heard_text.starts_with(HEARD) && heard_text.len() < LONG_ANSWER.len(),
        &format!("the heard part is marked: {heard_text:?}"),
    )?;
    check(
        heard.css_value("direction").await.unwrap() == "rtl",
        "the heard part runs right to left",
    )?;
    let unheard = client.find(Locator::Css("del.unheard")).await.unwrap();
    let unheard_text = unheard.text().await.unwrap();
    check(
        !unheard_text.is_empty() && LONG_ANSWER.ends_with(&unheard_text),
        &format!("the unheard rest of the answer is shown: {unheard_text:?}"),
    )?;
    let strike = unheard.css_value("text-decoration-line").await.unwrap();
    check(
        strike.contains("line-through"),
        &format!("unheard text is {strike}"),
    )?;
    let phone = client.find(Locator::Css("h1 bdi.phone")).await.unwrap();
    check(
        phone.css_value("direction").await.unwrap() == "ltr",
        "the phone number runs left to right",
    )?;
    let page_text = client
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    check(
        page_text.contains(PRICE_ANSWER),
        "the answer after the barge-in is shown",
    )?;
    check(
        page_text.contains(FIRST_LINE),
        "the caller's markup is shown as text",
    )?;
    let injected = script(
        client,
        "return document.querySelectorAll('main i, main script').length",
    )
    .await;
    check(injected == json!(0), "no element came from the transcript")?;
    check(
        page_text.contains("הלקוח קטע את הסוכן") && !page_text.contains("at_sample"),
        "the barge-in event reads in Hebrew",
    )?;

    // The recording: the player loads it and plays; its source answers audio/ogg.
    let ready = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const audio = document.getElementById('recording');
               const report = () => audio.play()
                 .then(() => done({ ready: audio.readyState, played: true }))
                 .catch(e => done({ ready: audio.readyState, played: false, error: String(e) }));
               if (audio.readyState > 0) report();
               else { audio.addEventListener('loadedmetadata', report, { once: true });
                      audio.addEventListener('error', () => done({ ready: 0, error: 'media error ' + (audio.error && audio.error.code) }), { once: true });
                      audio.load(); }"#,
            vec![],
        )
        .await
        .unwrap();
    check(
        ready["ready"].as_u64().unwrap_or(0) > 0 && ready["played"] == json!(true),
        &format!("the recording did not load and play: {ready}"),
    )?;
    let fetched = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               fetch(document.getElementById('recording').src)
                 .then(r => done({ status: r.status, type: r.headers.get('content-type') }))
                 .catch(e => done({ error: String(e) }));"#,
            vec![],
        )
        .await
        .unwrap();
    check(
        fetched == json!({ "status": 200, "type": "audio/ogg" }),
        &format!("fetching the recording: {fetched}"),
    )?;
    script(client, "document.getElementById('recording').pause()").await;

    let phone_shot = screenshot(client, 390, "call-phone.png").await;
    let desktop_shot = screenshot(client, 1280, "call-desktop.png").await;
    println!(
        "screenshots: {} {}",
        phone_shot.display(),
        desktop_shot.display()
    );

    // Signed out (the cookie gone), neither the page nor the recording is served.
    client.delete_all_cookies().await.unwrap();
    let refused = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               fetch(arguments[0])
                 .then(r => done({ status: r.status, type: r.headers.get('content-type') }))
                 .catch(e => done({ error: String(e) }));"#,
            vec![json!(format!("{call_page}/recording"))],
        )
        .await
        .unwrap();
    check(
        refused["status"] == json!(401),
        &format!("a signed-out recording fetch: {refused}"),
    )?;
    client.goto(&app.url(&call_page)).await.unwrap();
    let url = client.current_url().await.unwrap();
    check(
        url.path() == "/sign-in",
        &format!("a signed-out page: {url}"),
    )?;
    let body = script(client, "return document.body.innerText").await;
    check(
        !body.as_str().unwrap_or("").contains(HEARD),
        "the signed-out page shows the transcript",
    )?;
    Ok(())
}
