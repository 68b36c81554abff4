//! Logs and metrics. Logs: `tracing`, text or JSON, filtered by `SICHA_LOG`; each call runs in a span
//! carrying its CallSid. Metrics: one process-wide Prometheus recorder, rendered by `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::Settings;

/// Installs the log subscriber. Later calls (tests start many apps in one process) are no-ops.
pub fn init(settings: &Settings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&settings.log_filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if settings.log_json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    Ok(())
}

/// The process-wide metrics recorder, installed on first use. The `metrics` macros write to the global
/// recorder, so there can be only one per process; every app in the process shares it. A handle the
/// macros return before it is installed stays a no-op forever, so the app installs it first thing.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    ],
                )
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding program's); then ours only renders
            // what it records, which is nothing, and the program's own recorder gets the metrics.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
