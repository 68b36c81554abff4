//! Deadlines and metrics around a provider's stream, so every provider gets them the same way.
//!
//! Metrics: `sicha_tts_requests_total{provider, outcome}` counted once per synthesis when it ends
//! (`ok`, an error kind, or `cancelled` when the stream is dropped early, as on barge-in), and
//! `sicha_tts_first_audio_seconds{provider}` from the start of the request to the first samples.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::Stream;
use tokio::time::Sleep;

use super::{PcmStream, TimeoutPhase, TtsError, TtsTimeouts};

/// Opens a provider's stream under the deadlines, and wraps the stream so they keep applying.
pub(crate) async fn guard(
    provider: &'static str,
    timeouts: TtsTimeouts,
    started: Instant,
    opening: impl Future<Output = Result<PcmStream, TtsError>>,
) -> Result<PcmStream, TtsError> {
    let start = tokio::time::Instant::from_std(started);
    let first_audio_at = start + timeouts.first_audio;
    let total_at = start + timeouts.total;
    let (deadline, phase, limit) = if first_audio_at <= total_at {
        (
            first_audio_at,
            TimeoutPhase::FirstAudio,
            timeouts.first_audio,
        )
    } else {
        (total_at, TimeoutPhase::Total, timeouts.total)
    };
    let opened = tokio::time::timeout_at(deadline, opening)
        .await
        .unwrap_or(Err(TtsError::Timeout { phase, limit }));
    match opened {
        Ok(inner) => Ok(Box::pin(Metered {
            inner,
            provider,
            started,
            timeouts,
            first_audio_deadline: Box::pin(tokio::time::sleep_until(first_audio_at)),
            total_deadline: Box::pin(tokio::time::sleep_until(total_at)),
            heard_audio: false,
            finished: false,
        })),
        Err(error) => {
            count(provider, error.kind());
            Err(error)
        }
    }
}

fn count(provider: &'static str, outcome: &'static str) {
    metrics::counter!("sicha_tts_requests_total", "provider" => provider, "outcome" => outcome)
        .increment(1);
}

struct Metered {
    inner: PcmStream,
    provider: &'static str,
    started: Instant,
    timeouts: TtsTimeouts,
    first_audio_deadline: Pin<Box<Sleep>>,
    total_deadline: Pin<Box<Sleep>>,
    heard_audio: bool,
    finished: bool,
}

impl Metered {
    fn finish(&mut self, error: Option<TtsError>) -> Poll<Option<Result<Vec<i16>, TtsError>>> {
        self.finished = true;
        match error {
            Some(error) => {
                count(self.provider, error.kind());
                tracing::debug!(provider = self.provider, %error, "speech synthesis failed");
                Poll::Ready(Some(Err(error)))
            }
            None => {
                count(self.provider, "ok");
                Poll::Ready(None)
            }
        }
    }
}

impl Stream for Metered {
    type Item = Result<Vec<i16>, TtsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        loop {
            if !this.heard_audio && this.first_audio_deadline.as_mut().poll(cx).is_ready() {
                let limit = this.timeouts.first_audio;
                let phase = TimeoutPhase::FirstAudio;
                return this.finish(Some(TtsError::Timeout { phase, limit }));
            }
            if this.total_deadline.as_mut().poll(cx).is_ready() {
                let limit = this.timeouts.total;
                let phase = TimeoutPhase::Total;
                return this.finish(Some(TtsError::Timeout { phase, limit }));
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                // Providers may yield empty chunks (a header, a split sample); they are not audio.
                Poll::Ready(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Poll::Ready(Some(Ok(chunk))) => {
                    if !this.heard_audio {
                        this.heard_audio = true;
                        metrics::histogram!("sicha_tts_first_audio_seconds", "provider" => this.provider)
                            .record(this.started.elapsed().as_secs_f64());
                    }
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(Some(Err(error))) => return this.finish(Some(error)),
                Poll::Ready(None) if this.heard_audio => return this.finish(None),
                Poll::Ready(None) => return this.finish(Some(TtsError::EmptyAudio)),
            }
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        if !self.finished {
            count(self.provider, "cancelled");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;

    fn timeouts(first_ms: u64, total_ms: u64) -> TtsTimeouts {
        TtsTimeouts {
            first_audio: Duration::from_millis(first_ms),
            total: Duration::from_millis(total_ms),
        }
    }

    async fn collect(stream: PcmStream) -> (Vec<i16>, Option<TtsError>) {
        let mut samples = Vec::new();
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => samples.extend(chunk),
                Err(error) => return (samples, Some(error)),
            }
        }
        (samples, None)
    }

    #[tokio::test]
    async fn slow_opening_times_out_as_first_audio() {
        let opening = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok(Box::pin(futures::stream::empty()) as PcmStream)
        };
        let result = guard("test", timeouts(20, 1000), Instant::now(), opening).await;
        assert!(matches!(
            result,
            Err(TtsError::Timeout {
                phase: TimeoutPhase::FirstAudio,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn stream_without_audio_in_time_times_out() {
        let silent_start = futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(vec![1i16; 10])
        });
        let stream = guard("test", timeouts(30, 1000), Instant::now(), async {
            Ok(Box::pin(silent_start) as PcmStream)
        })
        .await
        .unwrap();
        let (samples, error) = collect(stream).await;
        assert!(samples.is_empty());
        assert!(matches!(
            error,
            Some(TtsError::Timeout {
                phase: TimeoutPhase::FirstAudio,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn total_deadline_cuts_a_stalled_stream_after_audio_started() {
        let stalls = futures::stream::iter([Ok(vec![5i16; 4])]).chain(futures::stream::pending());
        let stream = guard("test", timeouts(1000, 50), Instant::now(), async {
            Ok(Box::pin(stalls) as PcmStream)
        })
        .await
        .unwrap();
        let (samples, error) = collect(stream).await;
        assert_eq!(samples, vec![5; 4]);
        assert!(matches!(
            error,
            Some(TtsError::Timeout {
                phase: TimeoutPhase::Total,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_stream_of_empty_chunks_is_empty_audio() {
        let empties = futures::stream::iter([Ok(Vec::new()), Ok(Vec::new())]);
        let stream = guard("test", timeouts(1000, 1000), Instant::now(), async {
            Ok(Box::pin(empties) as PcmStream)
        })
        .await
        .unwrap();
        let (samples, error) = collect(stream).await;
        assert!(samples.is_empty());
        assert!(matches!(error, Some(TtsError::EmptyAudio)));
    }

    #[tokio::test]
    async fn audio_passes_through_and_ends_cleanly() {
        let chunks = futures::stream::iter([Ok(vec![1i16, 2]), Ok(Vec::new()), Ok(vec![3])]);
        let stream = guard("test", timeouts(1000, 1000), Instant::now(), async {
            Ok(Box::pin(chunks) as PcmStream)
        })
        .await
        .unwrap();
        assert_eq!(collect(stream).await.0, vec![1, 2, 3]);
    }
}
