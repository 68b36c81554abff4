//! Sign-in, sign-out and who is signed in.
//!
//! One configured admin (`SICHA_ADMIN_USER`, `SICHA_ADMIN_PASSWORD_HASH`). Failed sign-ins block
//! their client address after a few, and make their user name wait a growing delay (see
//! [`super::sign_in_policy`]); while refused, even the right password is not checked, so guessing
//! cannot continue, yet nobody elsewhere can lock the admin out. Neither the password nor the user
//! name typed is ever logged (a password typed into the wrong box would otherwise land in the log).

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::header::{HOST, LOCATION, ORIGIN, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::limiter::Admission;
use super::{WebState, password};
use crate::config::{Secret, WebSettings};

/// Longest user name considered; longer input is cut before it becomes a limiter key.
const MAX_USER_CHARS: usize = 64;

/// The one admin allowed in.
pub struct Credentials {
    user: String,
    password_hash: Secret,
}

impl Credentials {
    /// Both settings, or nothing: the pages stay off unless both are set.
    pub fn from_settings(web: &WebSettings) -> Option<Credentials> {
        Some(Credentials {
            user: web.admin_user.clone()?,
            password_hash: web.admin_password_hash.clone()?,
        })
    }

    /// Compares in constant time and always runs the (slow) hash, so the answer's timing does not
    /// tell whether the user name was right.
    async fn check(&self, user: String, password: String) -> Result<bool, tokio::task::JoinError> {
        let user_matches: bool = user.as_bytes().ct_eq(self.user.as_bytes()).into();
        let hash = self.password_hash.clone();
        let password_matches =
            tokio::task::spawn_blocking(move || password::verify(&password, hash.expose())).await?;
        Ok(user_matches && password_matches)
    }
}

/// Without credentials every web route answers 503: the pages are never open.
pub async fn require_configured(
    State(state): State<WebState>,
    request: Request,
    next: Next,
) -> Response {
    if state.credentials.is_none() {
        tracing::debug!(path = %request.uri().path(), "web pages are off: no admin credentials configured");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "The web pages are off: set SICHA_ADMIN_USER and SICHA_ADMIN_PASSWORD_HASH.\n",
        )
            .into_response();
    }
    next.run(request).await
}

/// The signed-in user: handlers taking this run only for a live session.
pub struct SignedIn {
    pub user: String,
}

/// Why a request is not signed in.
pub enum NotSignedIn {
    /// No live session: pages send the browser to the sign-in form, coming back afterwards.
    SignInRequired { back_to: String },
    /// The sessions could not be read: an error page, never a quiet sign-out.
    Failed(super::WebError),
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self {
            NotSignedIn::SignInRequired { back_to } => {
                let next: String =
                    url::form_urlencoded::byte_serialize(back_to.as_bytes()).collect();
                (
                    StatusCode::SEE_OTHER,
                    [(LOCATION, format!("/sign-in?next={next}"))],
                )
                    .into_response()
            }
            NotSignedIn::Failed(error) => error.into_response(),
        }
    }
}

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = NotSignedIn;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let user = state
            .sessions
            .user(&parts.headers)
            .await
            .map_err(|error| NotSignedIn::Failed(error.into()))?;
        // A session made for an admin since renamed in the settings no longer counts.
        let configured = state.credentials.as_ref().map(|c| c.user.as_str());
        match user {
            Some(user) if Some(user.as_str()) == configured => Ok(SignedIn { user }),
            _ => Err(NotSignedIn::SignInRequired {
                back_to: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".to_string()),
            }),
        }
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    next: &'a str,
    user: &'a str,
    problem: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

const WRONG: &str = "שם המשתמש או הסיסמה שגויים.";
const TOO_MANY: &str = "יותר מדי ניסיונות כושלים. נסו שוב מאוחר יותר.";

/// The user name failed recently: how long to wait, in Hebrew.
fn wait_message(seconds: u64) -> String {
    format!("ניסיון כושל קודם. נסו שוב בעוד {seconds} שניות.")
}

fn sign_in_form(status: StatusCode, next: &str, user: &str, problem: Option<&str>) -> Response {
    match (SignInPage {
        next,
        user,
        problem,
    })
    .render()
    {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => super::WebError::from(error).into_response(),
    }
}

pub async fn sign_in_page(Query(query): Query<NextQuery>) -> Response {
    sign_in_form(StatusCode::OK, safe_next(query.next.as_deref()), "", None)
}

pub async fn sign_in(
    State(state): State<WebState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<SignInForm>,
) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-site form refused\n").into_response();
    }
    let Some(credentials) = &state.credentials else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let next = safe_next(form.next.as_deref());
    let client = client_key(&extensions);
    let user: String = form.user.trim().chars().take(MAX_USER_CHARS).collect();
    let user_key = format!("user:{}", user.to_lowercase());
    let attempt = match state.limiter.admit(&client, &user_key).await {
        Ok(Admission::Admitted(attempt)) => attempt,
        Ok(Admission::ClientBlocked) => {
            tracing::warn!(client = %client, "sign-in refused: too many failed attempts from this address");
            return sign_in_form(StatusCode::TOO_MANY_REQUESTS, next, &user, Some(TOO_MANY));
        }
        Ok(Admission::UserWaits(wait)) => {
            let seconds = wait.as_millis().div_ceil(1000) as u64;
            tracing::info!(client = %client, wait_ms = wait.as_millis() as u64, "sign-in refused: the user name failed recently");
            let mut response = sign_in_form(
                StatusCode::TOO_MANY_REQUESTS,
                next,
                &user,
                Some(&wait_message(seconds)),
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, axum::http::HeaderValue::from(seconds));
            return response;
        }
        Err(error) => return super::WebError::from(error).into_response(),
    };
    match credentials.check(user.clone(), form.password).await {
        Ok(true) => {}
        Ok(false) => {
            // The attempt stays counted as a failure.
            tracing::warn!(client = %client, "sign-in failed");
            return sign_in_form(StatusCode::UNAUTHORIZED, next, &user, Some(WRONG));
        }
        Err(error) => return super::WebError::from(error).into_response(),
    }
    if let Err(error) = state.limiter.forgive(attempt).await {
        // Signing in still works; the stale failures simply age out of the window.
        tracing::warn!(%error, "could not forgive the failed sign-ins of a successful one");
    }
    let cookie = match state.sessions.start(&credentials.user).await {
        Ok(cookie) => cookie,
        Err(error) => return super::WebError::from(error).into_response(),
    };
    tracing::info!(client = %client, "signed in to the web pages");
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, next.to_string()), (SET_COOKIE, cookie)],
    )
        .into_response()
}

pub async fn sign_out(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-site form refused\n").into_response();
    }
    let cookie = match state.sessions.end(&headers).await {
        Ok(cookie) => cookie,
        Err(error) => return super::WebError::from(error).into_response(),
    };
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, "/sign-in".to_string()), (SET_COOKIE, cookie)],
    )
        .into_response()
}

/// The limiter key of the client's address (behind a proxy, the proxy's: then the per-user limit
/// is the one that tells clients apart). An IPv6 client is keyed by its /64, the block one
/// subscriber usually holds, so stepping through addresses does not earn fresh attempts.
fn client_key(extensions: &Extensions) -> String {
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => match addr.ip().to_canonical() {
            IpAddr::V4(ip) => format!("ip:{ip}"),
            IpAddr::V6(ip) => {
                let s = ip.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "ip:unknown".to_string(),
    }
}

/// A form posted from another site is refused: browsers send `Origin` on every POST, and it must
/// name this host. (The `SameSite=Lax` cookie already keeps cross-site posts signed out.)
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| url::Url::parse(o).ok())
        .and_then(|url| {
            let host = url.host_str()?.to_string();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        });
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// Where to go after signing in: a path on this site only, never another origin.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.starts_with("/sign-")
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => "/calls",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/calls/CA1?x=1")), "/calls/CA1?x=1");
        for hostile in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "calls",
            "/sign-out",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/calls", "{hostile}");
        }
        assert_eq!(safe_next(None), "/calls");
    }

    #[test]
    fn cross_site_posts_are_told_apart() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("example.org:8080"));
        assert!(
            same_origin(&headers),
            "no Origin: not a browser's cross-site post"
        );
        headers.insert(ORIGIN, HeaderValue::from_static("http://example.org:8080"));
        assert!(same_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
    }
}
