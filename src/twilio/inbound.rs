//! The inbound side of a Media Streams socket, per frame: the rate gate against floods, and the wire
//! work on media (base64 → μ-law bytes) with its reusable buffer, the lag measurement and the frame
//! count. What the μ-law means (PCM, speech) is the call side's business.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sicha_audio::frame::FRAME_SAMPLES;
use tokio::time::Instant;

/// Token bucket over inbound messages, in tokio time so tests can pause it.
pub(super) struct RateGate {
    per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl RateGate {
    pub(super) fn new(per_sec: u32) -> Self {
        Self {
            per_sec: per_sec as f64,
            tokens: per_sec as f64 * 2.0,
            last: Instant::now(),
        }
    }

    pub(super) fn admit(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + refill).min(self.per_sec * 2.0);
        self.last = now;
        self.tokens -= 1.0;
        self.tokens >= 0.0
    }
}

/// The wire-level work of each inbound media message: base64 into a reusable buffer, the lag
/// measurement and the frame count. Allocated once per stream, reused for every frame.
pub(super) struct InboundWire {
    /// The first media frame's arrival and its stream timestamp: later frames are compared with it
    /// to see how far behind real time the loop runs (`sicha_inbound_lag_seconds`).
    anchor: Option<(Instant, u64)>,
    mulaw: Vec<u8>,
    /// Metric handles looked up once per stream, not once per frame (fifty times a second a call).
    lag_seconds: metrics::Histogram,
    frames_in: metrics::Counter,
    /// Frames not yet added to `frames_in`: the counter is shared by every stream on every thread,
    /// so it is added to once a second per stream (and when the stream ends), not once a frame.
    frames_uncounted: u64,
}

/// Frames counted locally before they are added to the shared counter: one second's worth.
const FRAMES_PER_COUNT: u64 = 50;

impl Default for InboundWire {
    fn default() -> Self {
        Self {
            anchor: None,
            mulaw: Vec::with_capacity(FRAME_SAMPLES * 4),
            lag_seconds: metrics::histogram!("sicha_inbound_lag_seconds"),
            frames_in: metrics::counter!("sicha_frames_in_total"),
            frames_uncounted: 0,
        }
    }
}

impl InboundWire {
    /// Records how late this frame is processed, relative to the first frame and the stream's own
    /// media timestamps (milliseconds since the stream started).
    pub(super) fn observe_lag(&mut self, timestamp: Option<&str>) {
        let Some(media_ms) = timestamp.and_then(|t| t.parse::<u64>().ok()) else {
            return;
        };
        let now = Instant::now();
        let (first_at, first_ms) = *self.anchor.get_or_insert((now, media_ms));
        let expected =
            first_at + std::time::Duration::from_millis(media_ms.saturating_sub(first_ms));
        let lag = now.saturating_duration_since(expected);
        self.lag_seconds.record(lag.as_secs_f64());
    }

    /// Decodes one media payload into μ-law bytes; `Err` when it is not base64.
    pub(super) fn decode(&mut self, payload: &str) -> Result<&[u8], ()> {
        self.mulaw.clear();
        BASE64
            .decode_vec(payload.as_bytes(), &mut self.mulaw)
            .map_err(|_| ())?;
        self.frames_uncounted += 1;
        if self.frames_uncounted == FRAMES_PER_COUNT {
            self.count_frames();
        }
        Ok(&self.mulaw)
    }

    /// Adds the frames not yet counted to the shared counter.
    pub(super) fn count_frames(&mut self) {
        self.frames_in
            .increment(std::mem::take(&mut self.frames_uncounted));
    }
}

impl Drop for InboundWire {
    /// The last frames are counted however the stream ends, cancelled included.
    fn drop(&mut self) {
        self.count_frames();
    }
}
