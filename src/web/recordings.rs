//! A call's recording, served only to a signed-in user. The file is found through the call's
//! database row, never through a path taken from the request, and single byte ranges are honoured
//! so the browser's player can seek.

use axum::extract::{Path, State};
use axum::http::header::{ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::{NotSignedIn, SignedIn};
use super::{WebError, WebState};

pub async fn serve(
    signed_in: Result<SignedIn, NotSignedIn>,
    State(state): State<WebState>,
    Path(call_sid): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    match signed_in {
        Ok(_) => {}
        // A media request is not a page: answer 401 rather than a redirect to a form.
        Err(NotSignedIn::SignInRequired { .. }) => {
            return Ok((StatusCode::UNAUTHORIZED, "sign in first\n").into_response());
        }
        Err(NotSignedIn::Failed(error)) => return Err(error),
    }
    let call = state
        .app
        .store
        .call_by_sid(&call_sid)
        .await?
        .ok_or(WebError::NotFound)?;
    let Some(path) = call.recording_path else {
        return Err(WebError::NotFound);
    };
    let audio = match tokio::fs::read(&path).await {
        Ok(audio) => audio,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(call_sid = %call_sid, "the call's recording file is missing");
            return Err(WebError::NotFound);
        }
        Err(error) => return Err(error.into()),
    };
    let common = [
        (CONTENT_TYPE, "audio/ogg".to_string()),
        (ACCEPT_RANGES, "bytes".to_string()),
        (
            CONTENT_DISPOSITION,
            format!("inline; filename=\"{}.opus\"", safe_file_stem(&call_sid)),
        ),
    ];
    let total = audio.len() as u64;
    match headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| byte_range(v, total))
    {
        None => Ok((common, audio).into_response()),
        Some(Some((start, end))) => {
            let part = audio[start as usize..=end as usize].to_vec();
            Ok((
                StatusCode::PARTIAL_CONTENT,
                common,
                [(CONTENT_RANGE, format!("bytes {start}-{end}/{total}"))],
                part,
            )
                .into_response())
        }
        Some(None) => Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(CONTENT_RANGE, format!("bytes */{total}"))],
        )
            .into_response()),
    }
}

/// The inclusive byte range a `Range: bytes=…` header asks of `total` bytes; `None` when it cannot
/// be satisfied. Several ranges are not supported and are read as the first.
fn byte_range(header: &str, total: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let first = spec.split(',').next()?.trim();
    let (start, end) = first.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().ok()?;
            (total.checked_sub(suffix.min(total))?, total.checked_sub(1)?)
        }
        (start, "") => (start.parse().ok()?, total.checked_sub(1)?),
        (start, end) => (
            start.parse().ok()?,
            end.parse::<u64>().ok()?.min(total.checked_sub(1)?),
        ),
    };
    (start <= end && end < total).then_some((start, end))
}

/// The CallSid as a file name: letters and digits only.
fn safe_file_stem(call_sid: &str) -> String {
    call_sid
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_are_read_like_browsers_send_them() {
        assert_eq!(byte_range("bytes=0-", 100), Some((0, 99)));
        assert_eq!(byte_range("bytes=10-19", 100), Some((10, 19)));
        assert_eq!(byte_range("bytes=90-500", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("bytes=0-", 0), None);
        assert_eq!(byte_range("items=0-1", 100), None);
        assert_eq!(byte_range("bytes=5-2", 100), None);
    }

    #[test]
    fn file_names_carry_no_quotes_or_paths() {
        assert_eq!(safe_file_stem("CA12\"/../x"), "CA12x");
    }
}
