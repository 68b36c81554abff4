//! The business's web pages: server-rendered Hebrew (right-to-left) HTML behind a sign-in.
//! - [`auth`]         sign-in, sign-out, the signed-in extractor, the switch-off when unconfigured.
//! - [`password`]     argon2 hashing of the admin password.
//! - `sessions`       sessions in the database (shared by every instance) behind an `HttpOnly` cookie.
//! - `limiter`        failed sign-ins per client address and per user, counted in the database.
//! - `sign_in_policy` the rules on those counts: an address is blocked, a user name only waits.
//! - `customers`, `calls`, `call_page`, `businesses` the pages; `recordings` the audio of a call.
//! - `format`         times, durations and Hebrew labels shared by the pages.
//! - `event_text`     a call's events (every kind the call code records) as short Hebrew.
//!
//! Every page and recording needs a session; without configured credentials the whole area
//! answers 503 (never open). Templates live in `templates/`, the stylesheet in `static/`.

pub mod auth;
mod businesses;
mod call_page;
mod calls;
mod customers;
mod event_text;
mod format;
mod limiter;
pub mod password;
mod recordings;
mod sessions;
mod sign_in_policy;

pub use sessions::IDLE as SESSION_IDLE;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::http::AppState;
use crate::store::{Store, StoreError};

/// What the pages share: the app, the credentials, sessions and the sign-in limiter.
#[derive(Clone)]
pub struct WebState(Arc<WebInner>);

pub struct WebInner {
    pub app: AppState,
    /// `None` when the admin credentials are not configured: the pages are off.
    pub credentials: Option<auth::Credentials>,
    sessions: sessions::Sessions,
    limiter: limiter::SignInLimiter,
}

impl std::ops::Deref for WebState {
    type Target = WebInner;
    fn deref(&self) -> &WebInner {
        &self.0
    }
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("rendering a page: {0}")]
    Template(#[from] askama::Error),
    #[error("reading a recording: {0}")]
    Recording(#[from] std::io::Error),
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("starting a session: {0}")]
    Session(#[from] sessions::SessionError),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::NotFound => {
                (StatusCode::NOT_FOUND, Html(format::NOT_FOUND_PAGE)).into_response()
            }
            error => {
                tracing::error!(%error, "web page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, Html(format::ERROR_PAGE)).into_response()
            }
        }
    }
}

/// Renders a page template.
fn render(page: impl Template) -> Result<Html<String>, WebError> {
    Ok(Html(page.render()?))
}

const STYLESHEET: &str = include_str!("../../static/web.css");

/// The pages' routes, with their own state, to be merged into the app's router.
pub fn router(app: AppState) -> Router {
    let web = &app.settings.web;
    let credentials = auth::Credentials::from_settings(web);
    if credentials.is_none() {
        tracing::warn!(
            "web pages are off (they answer 503): set SICHA_ADMIN_USER and SICHA_ADMIN_PASSWORD_HASH \
             (`sicha admin hash-password` makes the hash) to turn them on"
        );
    }
    let secure = app
        .settings
        .public_url
        .as_ref()
        .is_some_and(|url| url.scheme() == "https");
    let state = WebState(Arc::new(WebInner {
        sessions: sessions::Sessions::new(app.store.clone(), web.session_ttl, secure),
        limiter: limiter::SignInLimiter::new(
            app.store.clone(),
            web.sign_in_max_failures,
            web.sign_in_delay,
        ),
        credentials,
        app,
    }));
    Router::new()
        .route("/", get(|| async { Redirect::to("/calls") }))
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route("/customers", get(customers::list))
        .route("/customers/{id}", get(customers::show))
        .route("/calls", get(calls::list))
        .route("/calls/{call_sid}", get(call_page::show))
        .route("/calls/{call_sid}/recording", get(recordings::serve))
        .route("/businesses", get(businesses::list))
        .route("/businesses/{id}", get(businesses::show))
        .route("/static/web.css", get(stylesheet))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_configured,
        ))
        .layer(middleware::map_response(protective_headers))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .with_state(state)
}

/// Forgets ended sessions and failed sign-ins that no longer count. The server runs this now and
/// then; a failure is logged and the rows wait for the next run.
pub async fn prune_expired(store: &Store) {
    match sessions::prune(store).await {
        Ok(0) => {}
        Ok(pruned) => tracing::debug!(pruned, "ended web sessions pruned"),
        Err(error) => tracing::warn!(%error, "could not prune ended web sessions"),
    }
    match limiter::prune(store).await {
        Ok(0) => {}
        Ok(pruned) => tracing::debug!(pruned, "old failed sign-ins pruned"),
        Err(error) => tracing::warn!(%error, "could not prune old failed sign-ins"),
    }
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
}

/// Pages show private data: no caching, no framing, no foreign resources.
async fn protective_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; media-src 'self'; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}
