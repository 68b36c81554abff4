//! The web app with an admin configured, and a client that signs in and reads pages as a browser
//! would (redirects shown, cookies handed over by the test).

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use reqwest::redirect::Policy;
use sicha::call::session::AgentMode;
use sicha::startup::ServeOptions;

use crate::common::{TestApp, spawn_app_with};

pub const ADMIN: &str = "admin";
pub const PASSWORD: &str = "סיסמה-נכונה-42";

/// A hash of [`PASSWORD`] at a tiny cost, so unoptimised test builds verify it quickly.
pub fn cheap_hash(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

/// The app with the admin configured; `extra` adds or overrides settings.
pub async fn web_app(db: &str, extra: &[(&str, &str)]) -> TestApp {
    let hash = cheap_hash(PASSWORD);
    let mut settings = vec![
        ("SICHA_ADMIN_USER", ADMIN),
        ("SICHA_ADMIN_PASSWORD_HASH", hash.as_str()),
        // The user name's growing wait has tests of its own; the others sign in without it.
        ("SICHA_SIGN_IN_DELAY_MS", "0"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(
        db,
        &settings,
        ServeOptions {
            allow_unsigned: false,
            agent: AgentMode::Silent,
        },
    )
    .await
}

/// A client that shows redirects instead of following them, and keeps no cookies of its own.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Signs in and returns the session cookie (`name=value`).
pub async fn sign_in(app: &TestApp) -> String {
    let response = plain_client()
        .post(app.url("/sign-in"))
        .form(&[("user", ADMIN), ("password", PASSWORD), ("next", "/calls")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the right password signs in");
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_string()
}

/// A GET with the session cookie: (status, content type, body).
pub async fn get_signed_in(app: &TestApp, cookie: &str, path: &str) -> (u16, String, String) {
    let response = plain_client()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}
