//! What a run leaves in its output directory: report.json and the two plots.

use std::path::Path;

use super::BenchError;
use super::plot;
use super::report::BenchReport;
use super::runner::RunOutcome;

/// Writes report.json, the voice-to-voice CDF and the median answer by stage into `out`.
pub fn write(report: &BenchReport, run: &RunOutcome, out: &Path) -> Result<(), BenchError> {
    let json = serde_json::to_string_pretty(report)?;
    let path = out.join("report.json");
    std::fs::write(&path, json).map_err(BenchError::io(&path))?;
    let v2v: Vec<f64> = run
        .calls
        .iter()
        .filter_map(|c| c.trace.as_ref().ok())
        .flat_map(|t| t.voice_to_voice_all())
        .flatten()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    let label = format!(
        "{} calls, {} at a time, profile {}, eager {}",
        report.calls,
        report.concurrency,
        report.context.profile.as_deref().unwrap_or("remote"),
        if report.context.eager { "on" } else { "off" }
    );
    plot::v2v_cdf(
        &v2v,
        &format!("Voice to voice CDF: {label}"),
        &out.join(plot::V2V_CDF_FILE),
    )?;
    plot::stages(
        report,
        &format!("Median answer by stage: {label}"),
        &out.join(plot::STAGES_FILE),
    )?;
    Ok(())
}
