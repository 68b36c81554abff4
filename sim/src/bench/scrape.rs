//! What the bench reads from the server's `/metrics` (Prometheus text): how many media frames it
//! counted, and its inbound-lag histogram. Read before and after the run; the difference is the run's.

use url::Url;

use super::stats::Summary;

const FRAMES_IN: &str = "sicha_frames_in_total";
const INBOUND_LAG_BUCKET: &str = "sicha_inbound_lag_seconds_bucket";

/// One reading of the counters the bench uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsReading {
    /// `None` when the server has not counted any frame yet (the counter is not rendered).
    pub frames_in: Option<f64>,
    /// Cumulative buckets of the inbound lag: (upper bound in seconds, count).
    pub lag_buckets: Vec<(f64, f64)>,
}

impl MetricsReading {
    /// Reads the Prometheus text format, ignoring everything it does not use.
    pub fn parse(text: &str) -> Self {
        let mut reading = Self::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            if name == FRAMES_IN || name.starts_with(&format!("{FRAMES_IN}{{")) {
                *reading.frames_in.get_or_insert(0.0) += value;
            } else if let Some(labels) = name.strip_prefix(INBOUND_LAG_BUCKET)
                && let Some(bound) = label(labels, "le")
            {
                let bound = if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    match bound.parse() {
                        Ok(b) => b,
                        Err(_) => continue,
                    }
                };
                reading.lag_buckets.push((bound, value));
            }
        }
        reading.lag_buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        reading
    }

    /// Frames counted between `before` and this reading.
    pub fn frames_since(&self, before: &Self) -> f64 {
        self.frames_in.unwrap_or(0.0) - before.frames_in.unwrap_or(0.0)
    }

    /// The inbound lag of the samples recorded between `before` and this reading, in ms.
    pub fn lag_since(&self, before: &Self) -> Summary {
        let buckets: Vec<(f64, f64)> = self
            .lag_buckets
            .iter()
            .map(|&(bound, count)| {
                let earlier = before
                    .lag_buckets
                    .iter()
                    .find(|(b, _)| *b == bound)
                    .map_or(0.0, |(_, c)| *c);
                (bound * 1000.0, count - earlier)
            })
            .collect();
        Summary::from_buckets(&buckets)
    }
}

/// The value of `name` in a `{a="x",b="y"}` label set.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let inner = labels.strip_prefix('{')?.strip_suffix('}')?;
    inner.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

/// Reads `/metrics` of `server`, with the server's metrics token as a bearer token when one is known;
/// `None` when it cannot be read (without the token the server answers 404).
pub async fn read_metrics(
    http: &reqwest::Client,
    server: &Url,
    token: Option<&str>,
) -> Option<MetricsReading> {
    let url = server.join("/metrics").ok()?;
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    Some(MetricsReading::parse(&response.text().await.ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "# TYPE sicha_frames_in_total counter\nsicha_frames_in_total 100\n\
        sicha_inbound_lag_seconds_bucket{le=\"0.001\"} 90\n\
        sicha_inbound_lag_seconds_bucket{le=\"0.01\"} 100\n\
        sicha_inbound_lag_seconds_bucket{le=\"+Inf\"} 100\n";
    const AFTER: &str = "sicha_frames_in_total 1100\n\
        sicha_inbound_lag_seconds_bucket{le=\"0.001\"} 590\n\
        sicha_inbound_lag_seconds_bucket{le=\"0.01\"} 1100\n\
        sicha_inbound_lag_seconds_bucket{le=\"+Inf\"} 1100\n\
        sicha_inbound_lag_seconds_sum 1.5\nsicha_other_total 5\n";

    #[test]
    fn the_run_is_the_difference_of_two_readings() {
        let before = MetricsReading::parse(BEFORE);
        let after = MetricsReading::parse(AFTER);
        assert_eq!(after.frames_since(&before), 1000.0);
        let lag = after.lag_since(&before);
        assert_eq!(lag.n, 1000);
        assert_eq!(lag.p50, Some(1.0));
        assert_eq!(lag.max, Some(10.0));
        // 950 of 1000 lies 450 into the 500 samples between 1 and 10 ms.
        assert_eq!(lag.p95, Some(9.1));
    }

    #[test]
    fn a_server_that_counted_nothing_yet_has_no_counter() {
        let empty = MetricsReading::parse("# nothing\n");
        assert_eq!(empty.frames_in, None);
        assert!(empty.lag_buckets.is_empty());
        assert_eq!(empty.lag_since(&empty), Summary::default());
    }
}
