//! What every network provider does the same way around its own request: refuse text over the API's
//! input limit before sending anything, and turn a failure status into [`TtsError::Http`].

use super::TtsError;

/// The most text one request may carry, in the unit the provider's API counts.
#[derive(Debug, Clone, Copy)]
pub(super) enum InputLimit {
    Chars(usize),
    /// UTF-8 bytes, of which a Hebrew letter takes two.
    Bytes(usize),
}

impl InputLimit {
    /// [`TtsError::InputTooLong`] for text over the limit.
    pub(super) fn check(self, text: &str) -> Result<(), TtsError> {
        let (actual, limit, unit) = match self {
            Self::Chars(limit) => (text.chars().count(), limit, "characters"),
            Self::Bytes(limit) => (text.len(), limit, "bytes"),
        };
        if actual > limit {
            return Err(TtsError::InputTooLong {
                actual,
                limit,
                unit,
            });
        }
        Ok(())
    }
}

/// Longest error body read from a failed response; providers answer errors with short JSON.
const MAX_ERROR_BODY: usize = 4096;

/// Turns a non-success response into [`TtsError::Http`], taking the message from the shapes the
/// providers use: `{"error":{"message"}}` (OpenAI, Google), `{"detail":{"message"}}` and
/// `{"detail":[{"msg"}]}` (ElevenLabs), else the start of the body.
async fn http_error(response: reqwest::Response) -> TtsError {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    let body = &body[..body.len().min(MAX_ERROR_BODY)];
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            [
                json.pointer("/error/message"),
                json.pointer("/detail/message"),
                json.pointer("/detail/0/msg"),
                json.get("detail"),
            ]
            .into_iter()
            .flatten()
            .find_map(|value| value.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(300)
                .collect()
        });
    TtsError::Http { status, message }
}

/// Sends a prepared request and returns the response if it succeeded.
pub(super) async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, TtsError> {
    let response = request.send().await.map_err(TtsError::transport)?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(http_error(response).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_in_the_unit_the_api_counts() {
        // Three Hebrew letters: three characters, six bytes.
        assert!(InputLimit::Chars(3).check("שלם").is_ok());
        assert!(matches!(
            InputLimit::Bytes(5).check("שלם"),
            Err(TtsError::InputTooLong {
                actual: 6,
                limit: 5,
                unit: "bytes"
            })
        ));
        assert!(matches!(
            InputLimit::Chars(2).check("שלם"),
            Err(TtsError::InputTooLong {
                actual: 3,
                limit: 2,
                unit: "characters"
            })
        ));
    }
}
