//! The report as the terminal shows it: a latency table, the capacity figures, and the targets.

use std::io::Write;

use super::levers::Levers;
use super::report::BenchReport;
use super::stats::Summary;

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{v:.1}"))
}

fn row(out: &mut impl Write, name: &str, summary: Option<&Summary>) -> std::io::Result<()> {
    let s = summary.copied().unwrap_or_default();
    let shown = summary.map_or("—".to_string(), |s| s.n.to_string());
    writeln!(
        out,
        "  {name:<24} {:>9} {:>9} {:>9} {:>9} {:>7}",
        cell(s.p50),
        cell(s.p95),
        cell(s.p99),
        cell(s.max),
        shown
    )
}

pub fn print(report: &BenchReport, out: &mut impl Write) -> std::io::Result<()> {
    let c = &report.context;
    writeln!(out)?;
    writeln!(
        out,
        "sicha bench: {} calls, {} at a time, against the {} server {} (profile {}, eager {}, {}× real time)",
        report.calls,
        report.concurrency,
        c.target,
        c.server_url,
        c.profile.as_deref().unwrap_or("of the server"),
        if c.eager { "on" } else { "off" },
        c.speed
    )?;
    if let Some(levers) = &c.levers {
        writeln!(out, "  levers: {}", describe_levers(levers))?;
    }
    writeln!(
        out,
        "  {:<24} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "ms", "p50", "p95", "p99", "max", "n"
    )?;
    let mut rows: Vec<(&str, Option<&Summary>)> = vec![
        ("voice to voice (caller)", Some(&report.v2v_ms)),
        ("  endpoint wait", report.endpoint_ms.as_ref()),
        ("  speech to text", report.stt_ms.as_ref()),
        ("  LLM first token", report.llm_ttft_ms.as_ref()),
        (
            "  LLM first sentence",
            report.llm_first_sentence_ms.as_ref(),
        ),
        ("  TTS first audio", report.tts_ttfb_ms.as_ref()),
        ("  sicha overhead", report.overhead_ms.as_ref()),
        ("greeting", Some(&report.greeting_ms)),
        ("barge-in (onset→clear)", Some(&report.barge_in_ms)),
        ("voice webhook", Some(&report.webhook_ms)),
        ("inbound lag (buckets)", report.inbound_lag_ms.as_ref()),
        ("  caller's own send lag", Some(&report.caller_send_lag_ms)),
    ];
    if report.false_cut_ins.is_some() {
        let labelled = [
            (
                "  end: complete (label)",
                report.endpoint_ms_complete.as_ref(),
            ),
            ("  end: unfinished", report.endpoint_ms_unfinished.as_ref()),
        ];
        rows.splice(2..2, labelled);
    }
    for (name, summary) in rows {
        row(out, name, summary)?;
    }
    let opt = |v: Option<f64>, unit: &str| v.map_or("—".to_string(), |v| format!("{v:.1}{unit}"));
    writeln!(
        out,
        "  answers {}, unanswered lines {}, failed calls {}, frames sent {}, lost {}",
        report.turns,
        report.unanswered_lines,
        report.errors,
        report.frames_sent,
        report
            .frames_lost
            .map_or("—".to_string(), |f| f.to_string())
    )?;
    writeln!(
        out,
        "  live calls peak {}, mean {:.1}; server CPU {} of a core per call, memory {} per call; {:.1} s",
        report.live_calls_peak,
        report.live_calls_mean,
        opt(report.cpu_pct_per_call, "%"),
        opt(report.rss_kb_per_call, " kB"),
        report.wall_secs
    )?;
    writeln!(
        out,
        "  CPU seconds: server {}, bench (callers and simulated providers) {}",
        opt(report.server.map(|s| s.cpu_secs), ""),
        opt(report.bench_cpu_secs, "")
    )?;
    writeln!(out, "  {}", describe_cost(report))?;
    if let Some(cut_ins) = report.false_cut_ins {
        writeln!(
            out,
            "  false cut-ins: {cut_ins} (answers heard inside {} labelled utterances)",
            report.labelled_utterances
        )?;
    }
    writeln!(out, "  targets:")?;
    for target in &report.targets {
        let verdict = match target.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        writeln!(
            out,
            "    {:<28} limit {:>7.1}  value {:>9}  {verdict}",
            target.name,
            target.limit,
            cell(target.value)
        )?;
    }
    for sample in &report.error_samples {
        writeln!(out, "  failure: {sample}")?;
    }
    Ok(())
}

fn describe_levers(levers: &Levers) -> String {
    let eager = levers
        .eager_stt_ms
        .map_or_else(|| "off".to_string(), |ms| format!("{ms} ms"));
    format!(
        "STT {}, preemptive replies {}, end of turn {}, eager STT {eager}, hangover {} ms",
        levers.stt.name(),
        if levers.preemptive { "on" } else { "off" },
        levers.end_of_turn.name(),
        levers.hangover_ms
    )
}

/// What answering cost: requests thrown away per answer, and what the providers served.
fn describe_cost(report: &BenchReport) -> String {
    let wasted = report.wasted_requests_per_answer.map_or_else(
        || "—".to_string(),
        |w| format!("model {:.2}, TTS {:.2}, STT {:.2}", w.model, w.tts, w.stt),
    );
    let served = report.provider_requests.map_or_else(String::new, |p| {
        format!(
            "; providers served: STT {}, realtime commits {}, model {}, TTS {} ({} streams cancelled)",
            p.transcriptions, p.realtime_commits, p.chat, p.speech, p.cancelled_streams
        )
    });
    format!("wasted requests per answer: {wasted}{served}")
}
