//! How fast the simulated providers answer. Delays are applied with tokio sleeps and spread by
//! `jitter`, so latency measurements and timeouts see realistic, varying numbers.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Latency of the simulated providers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimProfile {
    /// Upload to transcript.
    pub stt_ms: u64,
    /// Realtime transcription: commit to the completed transcript (the deltas come on the way). The
    /// audio arrived while the caller spoke, so only the end of the recognition is left.
    pub realtime_stt_ms: u64,
    /// Request to the first token.
    pub llm_ttft_ms: u64,
    /// Token rate after the first; infinite means all at once.
    pub llm_tokens_per_sec: f32,
    /// Request to the first audio byte.
    pub tts_ttfb_ms: u64,
    /// Seconds of generation per second of audio after the first byte (below 1 is faster than real time).
    pub tts_realtime_factor: f32,
    /// Each delay is drawn uniformly within ±`jitter` of its value (0.25 = ±25 %).
    pub jitter: f32,
}

impl SimProfile {
    /// The names [`Self::by_name`] knows.
    pub const NAMES: [&str; 4] = ["instant", "typical", "side-by-side", "slow"];

    /// No added delay: for tests of behaviour rather than timing.
    pub fn instant() -> Self {
        Self {
            stt_ms: 0,
            realtime_stt_ms: 0,
            llm_ttft_ms: 0,
            llm_tokens_per_sec: f32::INFINITY,
            tts_ttfb_ms: 0,
            tts_realtime_factor: 0.0,
            jitter: 0.0,
        }
    }

    /// Roughly today's hosted APIs: transcription 300–500 ms (a realtime stream's final transcript
    /// about 30 ms after the commit), first token about 400 ms then about
    /// 50 tokens a second, first audio about 250 ms.
    pub fn typical() -> Self {
        Self {
            stt_ms: 400,
            realtime_stt_ms: 30,
            llm_ttft_ms: 400,
            llm_tokens_per_sec: 50.0,
            tts_ttfb_ms: 250,
            tts_realtime_factor: 0.3,
            jitter: 0.25,
        }
    }

    /// The providers of the side-by-side measurement against another open-source agent (issue 15):
    /// transcription 300 ms, first token 400 ms then 30 tokens a second, first audio 150 ms. The
    /// rest as [`Self::typical`]: that measurement had no streaming recogniser to set.
    pub fn side_by_side() -> Self {
        Self {
            stt_ms: 300,
            llm_ttft_ms: 400,
            llm_tokens_per_sec: 30.0,
            tts_ttfb_ms: 150,
            ..Self::typical()
        }
    }

    /// A bad day: congested hosted APIs or a small local machine.
    pub fn slow() -> Self {
        Self {
            stt_ms: 1200,
            realtime_stt_ms: 200,
            llm_ttft_ms: 1500,
            llm_tokens_per_sec: 15.0,
            tts_ttfb_ms: 800,
            tts_realtime_factor: 0.9,
            jitter: 0.3,
        }
    }

    pub fn by_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "instant" => Some(Self::instant()),
            "typical" => Some(Self::typical()),
            "side-by-side" => Some(Self::side_by_side()),
            "slow" => Some(Self::slow()),
            _ => None,
        }
    }

    pub(super) fn stt_delay(&self) -> Duration {
        self.jittered(Duration::from_millis(self.stt_ms))
    }

    pub(super) fn realtime_stt_delay(&self) -> Duration {
        self.jittered(Duration::from_millis(self.realtime_stt_ms))
    }

    pub(super) fn llm_first_token_delay(&self) -> Duration {
        self.jittered(Duration::from_millis(self.llm_ttft_ms))
    }

    pub(super) fn llm_token_interval(&self) -> Duration {
        if self.llm_tokens_per_sec.is_finite() && self.llm_tokens_per_sec > 0.0 {
            self.jittered(Duration::from_secs_f32(1.0 / self.llm_tokens_per_sec))
        } else {
            Duration::ZERO
        }
    }

    pub(super) fn tts_first_byte_delay(&self) -> Duration {
        self.jittered(Duration::from_millis(self.tts_ttfb_ms))
    }

    /// How long generating `audio` takes after the first byte.
    pub(super) fn tts_generation_time(&self, audio: Duration) -> Duration {
        self.jittered(audio.mul_f32(self.tts_realtime_factor.max(0.0)))
    }

    fn jittered(&self, base: Duration) -> Duration {
        let spread = f64::from(self.jitter.clamp(0.0, 1.0));
        base.mul_f64(1.0 - spread + 2.0 * spread * random_fraction())
    }
}

/// A fraction in [0, 1) from the standard library's randomly keyed hasher; enough for jitter.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves_and_unknown_names_do_not() {
        for name in SimProfile::NAMES {
            assert!(SimProfile::by_name(name).is_some(), "{name}");
        }
        assert_eq!(
            SimProfile::by_name(" Typical "),
            Some(SimProfile::typical())
        );
        assert_eq!(SimProfile::by_name("fast"), None);
    }

    #[test]
    fn instant_adds_nothing() {
        let instant = SimProfile::instant();
        assert_eq!(instant.stt_delay(), Duration::ZERO);
        assert_eq!(instant.realtime_stt_delay(), Duration::ZERO);
        assert_eq!(instant.llm_token_interval(), Duration::ZERO);
        assert_eq!(
            instant.tts_generation_time(Duration::from_secs(3)),
            Duration::ZERO
        );
    }

    #[test]
    fn typical_stays_within_its_jitter() {
        let typical = SimProfile::typical();
        for _ in 0..200 {
            let stt = typical.stt_delay().as_millis();
            assert!((300..=500).contains(&stt), "{stt}");
            let token = typical.llm_token_interval().as_millis();
            assert!((15..=25).contains(&token), "{token}");
        }
    }

    #[test]
    fn side_by_side_is_typical_with_the_measured_providers() {
        let side_by_side = SimProfile::by_name("side-by-side").unwrap();
        assert_eq!(
            (
                side_by_side.stt_ms,
                side_by_side.llm_ttft_ms,
                side_by_side.tts_ttfb_ms
            ),
            (300, 400, 150)
        );
        assert_eq!(side_by_side.llm_tokens_per_sec, 30.0);
        let typical = SimProfile::typical();
        assert_eq!(side_by_side.realtime_stt_ms, typical.realtime_stt_ms);
        assert_eq!(side_by_side.jitter, typical.jitter);
    }

    #[test]
    fn generation_time_follows_the_realtime_factor() {
        let profile = SimProfile {
            tts_realtime_factor: 0.5,
            jitter: 0.0,
            ..SimProfile::instant()
        };
        assert_eq!(
            profile.tts_generation_time(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
    }
}
