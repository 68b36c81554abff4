//! The report's two plots, as SVG (no system fonts needed): the voice-to-voice CDF, and the median
//! answer split into its stages next to the median the caller measured.

use std::path::Path;

use plotters::prelude::*;

use super::report::BenchReport;

pub const V2V_CDF_FILE: &str = "v2v_cdf.svg";
pub const STAGES_FILE: &str = "stages_p50.svg";

const SIZE: (u32, u32) = (900, 540);
const FONT: &str = "sans-serif";

#[derive(Debug, thiserror::Error)]
#[error("drawing {file}: {message}")]
pub struct PlotError {
    file: String,
    message: String,
}

fn failed(file: &Path) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError {
        file: file.display().to_string(),
        message,
    }
}

/// The fraction of answers heard within each voice-to-voice time.
pub fn v2v_cdf(samples_ms: &[f64], title: &str, path: &Path) -> Result<(), PlotError> {
    let fail = failed(path);
    let mut sorted: Vec<f64> = samples_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let top = sorted.last().copied().unwrap_or(1000.0).max(1.0) * 1.05;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..top, 0.0..1.0)
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("voice to voice, ms (last caller word sent → first agent audio received)")
        .y_desc("fraction of answers")
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let count = sorted.len() as f64;
    // A step per sample: the curve reaches k/n at the k-th smallest time.
    let mut steps = Vec::with_capacity(sorted.len() * 2 + 1);
    steps.push((0.0, 0.0));
    for (i, value) in sorted.iter().enumerate() {
        steps.push((*value, i as f64 / count));
        steps.push((*value, (i + 1) as f64 / count));
    }
    chart
        .draw_series(LineSeries::new(steps, BLUE.stroke_width(2)))
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))
}

/// The stages of the median answer, stacked, beside the median voice-to-voice the caller heard.
pub fn stages(report: &BenchReport, title: &str, path: &Path) -> Result<(), PlotError> {
    let fail = failed(path);
    let p50 = |s: Option<super::stats::Summary>| s.and_then(|s| s.p50).unwrap_or(0.0);
    let stages = [
        (
            "endpoint wait",
            p50(report.endpoint_ms),
            RGBColor(120, 120, 120),
        ),
        ("speech to text", p50(report.stt_ms), RGBColor(31, 119, 180)),
        (
            "LLM first sentence",
            p50(report.llm_first_sentence_ms),
            RGBColor(255, 127, 14),
        ),
        (
            "TTS first audio",
            p50(report.tts_ttfb_ms),
            RGBColor(44, 160, 44),
        ),
        (
            "sicha overhead",
            p50(report.overhead_ms).max(0.0),
            RGBColor(214, 39, 40),
        ),
    ];
    let stacked: f64 = stages.iter().map(|(_, v, _)| v).sum();
    let measured = report.v2v_ms.p50.unwrap_or(0.0);
    let top = stacked.max(measured).max(1.0) * 1.15;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..3.0, 0.0..top)
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(4)
        .x_label_formatter(&|x: &f64| match x.round() as i64 {
            1 => "stages (server, p50 each)".to_string(),
            2 => "voice to voice (caller, p50)".to_string(),
            _ => String::new(),
        })
        .y_desc("ms")
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let mut base = 0.0;
    for (name, value, color) in stages {
        let bar = Rectangle::new([(0.7, base), (1.3, base + value)], color.filled());
        chart
            .draw_series(std::iter::once(bar))
            .map_err(|e| fail(e.to_string()))?
            .label(format!("{name}: {value:.0} ms"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        base += value;
    }
    let bar = Rectangle::new([(1.7, 0.0), (2.3, measured)], BLACK.mix(0.7).filled());
    chart
        .draw_series(std::iter::once(bar))
        .map_err(|e| fail(e.to_string()))?
        .label(format!("voice to voice: {measured:.0} ms"))
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], BLACK.mix(0.7).filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))
}
