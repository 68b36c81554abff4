//! Who may call the Twilio routes. With `TWILIO_AUTH_TOKEN` set, every request must carry a valid
//! X-Twilio-Signature over the URL Twilio used. Without it, Twilio routes answer 403 unless the server
//! was started with `--allow-unsigned` (development only, warned about loudly at start).

use axum::http::{HeaderMap, StatusCode, Uri};
use url::Url;

use super::AppState;
use crate::twilio::signature;

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// The origin Twilio reaches us at: `SICHA_PUBLIC_URL`, or else the request's own Host (plain http,
/// for local development and tests).
pub fn public_base(state: &AppState, headers: &HeaderMap) -> Url {
    if let Some(url) = &state.settings.public_url {
        return url.clone();
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    Url::parse(&format!("http://{host}/"))
        .unwrap_or_else(|_| Url::parse("http://localhost/").expect("static URL"))
}

/// The full URL of this request as Twilio requested it (scheme and host from the public base).
pub fn request_url(base: &Url, uri: &Uri) -> String {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{}{}", base.as_str().trim_end_matches('/'), path_and_query)
}

/// `base` with its scheme turned into the WebSocket one (https → wss, http → ws) and `path` appended.
pub fn websocket_url(base: &Url, path: &str) -> Url {
    let mut url = base.join(path).expect("static path joins any base");
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme).expect("ws schemes are valid");
    url
}

/// Checks a request's signature; `Err` carries the status to answer with. Logs every refusal.
pub fn check(
    state: &AppState,
    headers: &HeaderMap,
    url: &str,
    params: &[(String, String)],
) -> Result<(), StatusCode> {
    let Some(token) = &state.settings.twilio.auth_token else {
        if state.allow_unsigned {
            return Ok(());
        }
        tracing::warn!(%url, "Twilio request refused: no TWILIO_AUTH_TOKEN configured and --allow-unsigned not given");
        metrics::counter!("sicha_errors_total", "kind" => "unsigned_request").increment(1);
        return Err(StatusCode::FORBIDDEN);
    };
    let Some(given) = headers.get(SIGNATURE_HEADER).and_then(|h| h.to_str().ok()) else {
        tracing::warn!(%url, "Twilio request refused: no X-Twilio-Signature");
        metrics::counter!("sicha_errors_total", "kind" => "missing_signature").increment(1);
        return Err(StatusCode::FORBIDDEN);
    };
    if signature::is_valid(token.expose(), url, params, given) {
        Ok(())
    } else {
        tracing::warn!(%url, "Twilio request refused: X-Twilio-Signature does not match");
        metrics::counter!("sicha_errors_total", "kind" => "bad_signature").increment(1);
        Err(StatusCode::FORBIDDEN)
    }
}

/// A Twilio form POST whose X-Twilio-Signature checked out: its fields, in order. Extracting it is
/// the signature check, so a handler that takes one cannot forget it; a refusal answers 403 and
/// the handler never runs.
pub struct SignedForm(pub Vec<(String, String)>);

impl axum::extract::FromRequest<AppState> for SignedForm {
    type Rejection = StatusCode;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, StatusCode> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "Twilio request body unreadable or too large");
                StatusCode::PAYLOAD_TOO_LARGE
            })?;
        let params = form_pairs(&body);
        let url = request_url(&public_base(state, &parts.headers), &parts.uri);
        check(state, &parts.headers, &url, &params)?;
        Ok(SignedForm(params))
    }
}

/// Twilio's webhook forms are a few hundred bytes; anything near this is not Twilio.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Decodes a form body into name/value pairs, in order.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of `name` in a decoded form.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_url_follows_the_public_scheme() {
        let https = Url::parse("https://calls.example.com/").unwrap();
        assert_eq!(
            websocket_url(&https, "/twilio/stream").as_str(),
            "wss://calls.example.com/twilio/stream"
        );
        let http = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            websocket_url(&http, "/twilio/stream").as_str(),
            "ws://127.0.0.1:8080/twilio/stream"
        );
    }

    #[test]
    fn request_url_keeps_the_query_string() {
        let base = Url::parse("https://calls.example.com/").unwrap();
        let uri: Uri = "/twilio/voice?x=1".parse().unwrap();
        assert_eq!(
            request_url(&base, &uri),
            "https://calls.example.com/twilio/voice?x=1"
        );
    }
}
