//! One pitch estimate per analysis window: YIN's cumulative-mean-normalised difference function.
//!
//! The difference function measures how unlike the window is to itself one lag later, so it finds
//! the period of the waveform, not a spectral peak at F0: on a telephone line (300–3400 Hz) the
//! fundamental of a male voice is filtered away, yet its harmonics still repeat at its period.

/// Finds the period of a window of samples between two lags, or says it has none.
#[derive(Debug, Clone)]
pub(super) struct PitchEstimator {
    /// Samples compared at each lag.
    window: usize,
    /// Shortest and longest period searched, in samples (highest and lowest F0).
    min_lag: usize,
    max_lag: usize,
    /// Below this the normalised difference counts as periodic (YIN's absolute threshold).
    threshold: f32,
    /// The normalised difference function by lag, reused across windows: no allocation per frame.
    normalised: Box<[f32]>,
}

/// A periodic window: its period in (fractional) samples and how clearly periodic it was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Period {
    pub lag: f32,
    /// The normalised difference at the period: 0 for a perfect repeat, about 1 for noise.
    pub aperiodicity: f32,
}

impl PitchEstimator {
    pub fn new(window: usize, min_lag: usize, max_lag: usize, threshold: f32) -> Self {
        let min_lag = min_lag.max(2);
        let max_lag = max_lag.max(min_lag + 1);
        Self {
            window,
            min_lag,
            max_lag,
            threshold,
            normalised: vec![1.0; max_lag + 2].into_boxed_slice(),
        }
    }

    /// Samples compared at each lag: the newest of a span.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Samples [`Self::estimate`] reads: the window and the longest lag behind it.
    pub fn span(&self) -> usize {
        self.window + self.max_lag + 1
    }

    /// The period of the newest `window` samples of `span` (which holds [`Self::span`] samples),
    /// compared with the samples up to `max_lag + 1` before them.
    pub fn estimate(&mut self, span: &[f32]) -> Option<Period> {
        debug_assert_eq!(span.len(), self.span());
        let newest = &span[span.len() - self.window..];
        let mut running_sum = 0.0f32;
        self.normalised[0] = 1.0;
        for lag in 1..=self.max_lag + 1 {
            let older = &span[span.len() - self.window - lag..span.len() - lag];
            let difference = squared_difference(newest, older);
            running_sum += difference;
            self.normalised[lag] = if running_sum > 0.0 {
                difference * lag as f32 / running_sum
            } else {
                1.0
            };
        }
        let lag = self.first_dip()?;
        let (lag, aperiodicity) = parabola(&self.normalised, lag);
        Some(Period { lag, aperiodicity })
    }

    /// The shortest lag whose dip is nearly as deep as the deepest; none when even the deepest
    /// stays above the threshold. Not simply the first dip under the threshold (YIN's rule): with
    /// the fundamental filtered away, a strong harmonic near the first formant makes a shallower
    /// dip at a half or a quarter of the period. Not the deepest either: the period's multiples dip
    /// as deep, and the shortest of those is the period. Depths are read between lags (a dip
    /// narrower than a lag would look shallow at a period that falls between two).
    fn first_dip(&self) -> Option<usize> {
        let values = &self.normalised;
        let dips = (self.min_lag..=self.max_lag)
            .filter(|&lag| values[lag] <= values[lag - 1] && values[lag] < values[lag + 1])
            .map(|lag| (lag, parabola(values, lag).1));
        let deepest = dips
            .clone()
            .map(|(_, depth)| depth)
            .fold(f32::INFINITY, f32::min);
        if deepest >= self.threshold {
            return None;
        }
        dips.map(|(lag, _)| lag)
            .find(|&lag| parabola(values, lag).1 <= deepest + DIP_TOLERANCE)
    }
}

/// How much shallower than the deepest dip a shorter lag's dip may be and still be the period.
/// A period's multiples dip within a few hundredths of it; a formant's harmonic leaves a dip a
/// few tenths shallower.
const DIP_TOLERANCE: f32 = 0.1;

/// Σ (a − b)², with eight running sums so the compiler can keep them in vector registers.
fn squared_difference(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let (rest_a, rest_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (x, y) in chunks_a.zip(chunks_b) {
        for k in 0..8 {
            let d = x[k] - y[k];
            sums[k] += d * d;
        }
    }
    let mut total: f32 = sums.iter().sum();
    for (x, y) in rest_a.iter().zip(rest_b) {
        total += (x - y) * (x - y);
    }
    total
}

/// The vertex of the parabola through the values at `lag` and its two neighbours: where the dip
/// bottoms out between lags and how deep it gets there (no lower than 0).
fn parabola(values: &[f32], lag: usize) -> (f32, f32) {
    let (before, at, after) = (values[lag - 1], values[lag], values[lag + 1]);
    let curvature = before - 2.0 * at + after;
    if curvature <= f32::EPSILON {
        return (lag as f32, at);
    }
    let shift = (0.5 * (before - after) / curvature).clamp(-0.5, 0.5);
    let depth = at - 0.25 * (before - after) * shift;
    (lag as f32 + shift, depth.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: f32, f0: f32, harmonics: std::ops::RangeInclusive<u32>, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| {
                harmonics
                    .clone()
                    .map(|k| {
                        // A voice's harmonics weaken with their number.
                        (std::f32::consts::TAU * f0 * k as f32 * n as f32 / rate).sin()
                            / (k as f32).sqrt()
                    })
                    .sum::<f32>()
            })
            .collect()
    }

    #[test]
    fn finds_the_period_of_a_tone_without_its_fundamental() {
        let rate = 8000.0;
        let mut estimator = PitchEstimator::new(240, 20, 134, 0.3);
        for f0 in [62.0f32, 70.0, 95.0, 130.0, 180.0, 240.0, 330.0, 390.0] {
            // Harmonics from 300 to 3400 Hz only: the fundamental of a low voice is gone, as
            // on a telephone line.
            let first = (300.0 / f0).ceil() as u32;
            let last = (3400.0 / f0).floor() as u32;
            let signal = tone(rate, f0, first..=last, estimator.span());
            let period = estimator.estimate(&signal).expect("periodic");
            let found = rate / period.lag;
            assert!((found / f0 - 1.0).abs() < 0.01, "{f0} Hz: found {found} Hz");
            // Not 0: the period falls between whole lags, which puts the upper harmonics out
            // of step; still well under the threshold.
            assert!(period.aperiodicity < 0.2, "{f0} Hz: {period:?}");
        }
    }

    #[test]
    fn noise_has_no_period() {
        let mut estimator = PitchEstimator::new(240, 20, 134, 0.3);
        let mut state = 12345u32;
        let noise: Vec<f32> = (0..estimator.span())
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as f32 / u32::MAX as f32 - 0.5
            })
            .collect();
        assert_eq!(estimator.estimate(&noise), None);
    }

    #[test]
    fn silence_has_no_period() {
        let mut estimator = PitchEstimator::new(240, 20, 134, 0.3);
        assert_eq!(estimator.estimate(&vec![0.0; estimator.span()]), None);
    }
}
