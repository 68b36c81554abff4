//! Percentile summaries: of exact samples (nearest rank), and of a Prometheus histogram's
//! cumulative buckets (interpolated within the bucket, as Prometheus' `histogram_quantile` does).

use serde::Serialize;

/// A distribution in milliseconds: `null` fields when there were no samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    /// How many samples the summary is of.
    pub n: u64,
}

impl Summary {
    /// Nearest-rank percentiles of `samples` (any order; NaNs are ignored).
    pub fn of(samples: &[f64]) -> Self {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        let rank = |q: f64| -> Option<f64> {
            let last = sorted.len().checked_sub(1)?;
            let index = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
            Some(round(sorted[index.min(last)]))
        };
        Self {
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: sorted.last().copied().map(round),
            n: sorted.len() as u64,
        }
    }

    /// Estimated from cumulative bucket counts `(upper bound in ms, count ≤ bound)` in increasing
    /// order, the last bound possibly infinite. `max` is the upper bound of the highest bucket that
    /// gained samples: the histogram cannot say more.
    pub fn from_buckets(buckets: &[(f64, f64)]) -> Self {
        let Some(&(_, total)) = buckets.last() else {
            return Self::default();
        };
        if total <= 0.0 {
            return Self::default();
        }
        let finite_top = buckets
            .iter()
            .map(|(bound, _)| *bound)
            .filter(|b| b.is_finite())
            .fold(0.0, f64::max);
        let quantile = |q: f64| -> f64 {
            let target = q * total;
            let mut lower = (0.0, 0.0);
            for &(bound, count) in buckets {
                if count >= target {
                    if !bound.is_finite() {
                        return finite_top;
                    }
                    let (lower_bound, lower_count) = lower;
                    let in_bucket = count - lower_count;
                    let fraction = if in_bucket > 0.0 {
                        (target - lower_count) / in_bucket
                    } else {
                        1.0
                    };
                    return lower_bound + (bound - lower_bound) * fraction;
                }
                lower = (bound, count);
            }
            finite_top
        };
        let mut max = 0.0;
        let mut below = 0.0;
        for &(bound, count) in buckets {
            if count > below {
                max = if bound.is_finite() { bound } else { finite_top };
            }
            below = count;
        }
        Self {
            p50: Some(round(quantile(0.50))),
            p95: Some(round(quantile(0.95))),
            p99: Some(round(quantile(0.99))),
            max: Some(round(max)),
            n: total as u64,
        }
    }
}

/// Two decimals are more than a millisecond measurement carries.
pub fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = Summary::of(&samples);
        assert_eq!(s.p50, Some(50.0));
        assert_eq!(s.p95, Some(95.0));
        assert_eq!(s.p99, Some(99.0));
        assert_eq!(s.max, Some(100.0));
        assert_eq!(s.n, 100);
        let one = Summary::of(&[7.0]);
        assert_eq!(
            (one.p50, one.p99, one.max),
            (Some(7.0), Some(7.0), Some(7.0))
        );
        assert_eq!(Summary::of(&[]), Summary::default());
    }

    #[test]
    fn bucket_quantiles_interpolate_within_the_bucket() {
        // 100 samples: 50 at or below 1 ms, 40 more up to 5 ms, 10 more up to 10 ms.
        let buckets = [
            (1.0, 50.0),
            (5.0, 90.0),
            (10.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        let s = Summary::from_buckets(&buckets);
        assert_eq!(s.p50, Some(1.0));
        assert_eq!(s.p95, Some(7.5));
        assert_eq!(s.p99, Some(9.5));
        assert_eq!(s.max, Some(10.0));
        assert_eq!(s.n, 100);
        assert_eq!(Summary::from_buckets(&[(1.0, 0.0)]), Summary::default());
    }

    #[test]
    fn samples_beyond_the_last_finite_bucket_report_its_bound() {
        let buckets = [(1.0, 0.0), (5.0, 1.0), (f64::INFINITY, 10.0)];
        let s = Summary::from_buckets(&buckets);
        assert_eq!(s.p99, Some(5.0));
        assert_eq!(s.max, Some(5.0));
    }
}
