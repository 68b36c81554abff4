//! A call's recording, served only to a signed-in user. The file is found through the call's
//! database row, never through a path taken from the request. It is streamed from disk in chunks,
//! never read whole, and single byte ranges are honoured so the browser's player can seek.

use std::io::SeekFrom;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::auth::{NotSignedIn, SignedIn};
use super::{WebError, WebState};

/// Bytes read from the file per piece of the response body.
const CHUNK: u64 = 64 * 1024;

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
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(call_sid = %call_sid, "the call's recording file is missing");
            return Err(WebError::NotFound);
        }
        Err(error) => return Err(error.into()),
    };
    let total = file.metadata().await?.len();
    let common = [
        (CONTENT_TYPE, "audio/ogg".to_string()),
        (ACCEPT_RANGES, "bytes".to_string()),
        (
            CONTENT_DISPOSITION,
            format!("inline; filename=\"{}.opus\"", safe_file_stem(&call_sid)),
        ),
    ];
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    match wanted(range, total) {
        Wanted::Whole => Ok((
            common,
            [(CONTENT_LENGTH, total.to_string())],
            file_body(file, total),
        )
            .into_response()),
        Wanted::Part(start, end) => {
            file.seek(SeekFrom::Start(start)).await?;
            let length = end - start + 1;
            Ok((
                StatusCode::PARTIAL_CONTENT,
                common,
                [
                    (CONTENT_RANGE, format!("bytes {start}-{end}/{total}")),
                    (CONTENT_LENGTH, length.to_string()),
                ],
                file_body(file, length),
            )
                .into_response())
        }
        Wanted::Unsatisfiable => Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [
                (ACCEPT_RANGES, "bytes".to_string()),
                (CONTENT_RANGE, format!("bytes */{total}")),
            ],
        )
            .into_response()),
    }
}

/// The next `length` bytes of `file` as a streamed body, a chunk at a time. A file that turns out
/// shorter than its size said (cut while being sent) ends the response with an error rather
/// than a silently short body.
fn file_body(file: tokio::fs::File, length: u64) -> Body {
    let chunks = futures::stream::try_unfold((file, length), |(mut file, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let mut chunk = vec![0; CHUNK.min(left) as usize];
        let read = file.read(&mut chunk).await?;
        if read == 0 {
            tracing::warn!(missing = left, "a recording got shorter while being sent");
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        chunk.truncate(read);
        Ok(Some((Bytes::from(chunk), (file, left - read as u64))))
    });
    Body::from_stream(chunks)
}

/// What a `Range` header asks of a file.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    /// No range, or one this server ignores (another unit, bad syntax): the whole file.
    Whole,
    /// The inclusive byte range.
    Part(u64, u64),
    /// A range wholly past the end.
    Unsatisfiable,
}

/// Reads a `Range: bytes=…` header against a file of `total` bytes, as RFC 9110 asks: a header
/// that cannot be read is ignored; several ranges are not supported and are read as the first.
fn wanted(header: Option<&str>, total: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    let first = spec.split(',').next().unwrap_or_default();
    let Some((start, end)) = first.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        return match position(end) {
            None => Wanted::Whole,
            Some(0) => Wanted::Unsatisfiable,
            Some(_) if total == 0 => Wanted::Unsatisfiable,
            Some(suffix) => Wanted::Part(total - suffix.min(total), total - 1),
        };
    }
    let Some(start) = position(start) else {
        return Wanted::Whole;
    };
    let end = match end {
        "" => None,
        end => match position(end) {
            Some(end) if end >= start => Some(end),
            _ => return Wanted::Whole,
        },
    };
    if start >= total {
        return Wanted::Unsatisfiable;
    }
    Wanted::Part(start, end.map_or(total - 1, |end| end.min(total - 1)))
}

/// A byte position: digits only, too large ones held at the largest.
fn position(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
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
        use Wanted::*;
        let cases = [
            ("bytes=0-", 100, Part(0, 99)),
            ("bytes=10-19", 100, Part(10, 19)),
            ("bytes=90-500", 100, Part(90, 99)),
            ("bytes=-10", 100, Part(90, 99)),
            ("bytes=-500", 100, Part(0, 99)),
            ("bytes=0-0,5-9", 100, Part(0, 0)),
            (" bytes= 3 - 4 ", 100, Part(3, 4)),
            ("bytes=100-", 100, Unsatisfiable),
            ("bytes=99999999999999999999-", 100, Unsatisfiable),
            ("bytes=-0", 100, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-5", 0, Unsatisfiable),
            ("items=0-1", 100, Whole),
            ("bytes=5-2", 100, Whole),
            ("bytes=x-2", 100, Whole),
            ("bytes=-", 100, Whole),
            ("bytes=+1-2", 100, Whole),
            ("bytes=", 100, Whole),
        ];
        for (header, total, expected) in cases {
            assert_eq!(
                wanted(Some(header), total),
                expected,
                "{header:?} of {total}"
            );
        }
        assert_eq!(wanted(None, 100), Whole);
    }

    #[test]
    fn file_names_carry_no_quotes_or_paths() {
        assert_eq!(safe_file_stem("CA12\"/../x"), "CA12x");
    }
}
