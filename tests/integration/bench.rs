//! `sicha bench` as the real binary: a short run (two calls at once, instant providers, a time-lapse
//! of the scripts) against the server it starts itself. Checks the shape of report.json and that
//! the plots were drawn; never how fast anything was.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::sicha_binary;

/// Every latency in the report, as {p50, p95, p99, max}.
const LATENCIES: [&str; 11] = [
    "v2v_ms",
    "endpoint_ms",
    "stt_ms",
    "llm_ttft_ms",
    "llm_first_sentence_ms",
    "tts_ttfb_ms",
    "overhead_ms",
    "greeting_ms",
    "barge_in_ms",
    "webhook_ms",
    "inbound_lag_ms",
];

fn fixtures() -> PathBuf {
    crate::common::fixtures_dir().join("scripts")
}

fn number(report: &Value, pointer: &str) -> f64 {
    report
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} is not a number in {report:#}"))
}

#[test]
fn a_short_bench_writes_a_complete_report_and_both_plots() {
    let out = tempfile::tempdir().unwrap();
    let output = sicha_binary()
        .args([
            "bench",
            "--calls",
            "2",
            "--concurrency",
            "2",
            "--profile",
            "instant",
            "--speed",
            "4",
            "--fixtures",
        ])
        .arg(fixtures())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "sicha bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("voice to voice"), "no table:\n{stdout}");

    let text = std::fs::read_to_string(out.path().join("report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["calls"], 2);
    assert_eq!(report["concurrency"], 2);
    assert_eq!(report["errors"], 0, "{report:#}");
    assert!(number(&report, "/turns") > 0.0);
    for key in LATENCIES {
        for field in ["p50", "p95", "p99", "max"] {
            assert!(
                report[key].get(field).is_some(),
                "{key}.{field} missing in {report:#}"
            );
        }
    }
    // Both calls answered, and the server's records were read: every answer has its stages.
    for key in [
        "v2v_ms",
        "stt_ms",
        "tts_ttfb_ms",
        "overhead_ms",
        "greeting_ms",
    ] {
        number(&report, &format!("/{key}/p50"));
        number(&report, &format!("/{key}/max"));
    }
    // What sicha added is read from the server's own clock: every answer that has it has its
    // turnaround and STT wait, and it can never be negative (the stages lie inside the turnaround).
    let answers = report["answers"].as_array().unwrap();
    let measured: Vec<&Value> = answers
        .iter()
        .filter(|a| a["overhead"].is_number())
        .collect();
    assert!(!measured.is_empty(), "{answers:#?}");
    for answer in measured {
        assert!(
            answer["turnaround"].is_number() && answer["stt_wait"].is_number(),
            "{answer:#}"
        );
        assert!(answer["overhead"].as_f64().unwrap() >= 0.0, "{answer:#}");
    }
    // The second call barges in.
    number(&report, "/barge_in_ms/p50");
    // The frame counter and the lag histogram came from the server's /metrics.
    number(&report, "/frames_sent");
    number(&report, "/frames_lost");
    number(&report, "/inbound_lag_ms/p99");
    // The server was a child process, so its CPU and memory were read.
    number(&report, "/cpu_pct_per_call");
    number(&report, "/rss_kb_per_call");
    assert_eq!(report["target"], "child");
    assert_eq!(report["profile"], "instant");
    // Eager transcription is the default, and every lever is the server's default.
    assert_eq!(report["eager"], true);
    let levers = &report["levers"];
    assert_eq!(levers["stt"], "batch", "{levers:#}");
    assert_eq!(levers["preemptive"], true);
    assert_eq!(levers["end_of_turn"], "hebrew");
    assert_eq!(levers["eager_stt_ms"], sicha_sim::bench::EAGER_STT_MS);
    assert_eq!(levers["hangover_ms"], 600);
    // What answering cost, from the server's records and the stand-ins'; the scripts label no
    // pauses, so there is nothing to cut into.
    for provider in ["model", "tts", "stt"] {
        number(&report, &format!("/wasted_requests_per_answer/{provider}"));
    }
    assert!(number(&report, "/provider_requests/chat") > 0.0);
    assert!(report["false_cut_ins"].is_null(), "{report:#}");
    assert!(report["endpoint_ms_complete"].is_null());
    number(&report, "/vad/start_ms");
    number(&report, "/vad/hangover_ms");
    number(&report, "/vad/eager_stt_ms");
    assert!(report.get("git_commit").is_some());
    assert!(number(&report, "/machine/cores") >= 1.0);
    let targets = report["targets"].as_array().unwrap();
    assert!(targets.len() >= 6, "{targets:?}");

    for plot in ["v2v_cdf.svg", "stages_p50.svg"] {
        let svg = std::fs::read_to_string(out.path().join(plot)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{plot}");
        assert!(svg.contains("<rect") || svg.contains("<polyline"), "{plot}");
    }
}

#[test]
fn an_empty_fixtures_directory_is_refused() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = sicha_binary()
        .args(["bench", "--calls", "1", "--fixtures"])
        .arg(empty.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no labelled fixtures"), "{stderr}");
}

/// The end-of-turn fixtures, each played as one call turn, against a server with every lever away
/// from its default: the levers are recorded as given, and the labelled figures are there.
#[test]
fn the_pause_fixtures_are_timed_by_their_labels_with_every_lever_set() {
    let fixtures = tempfile::tempdir().unwrap();
    let pauses = crate::common::fixtures_dir().join("pauses");
    for name in ["c01_yes", "p01_with"] {
        for extension in ["wav", "json"] {
            let file = format!("{name}.{extension}");
            std::fs::copy(pauses.join(&file), fixtures.path().join(&file)).unwrap();
        }
    }
    let out = tempfile::tempdir().unwrap();
    let output = sicha_binary()
        .args([
            "bench",
            "--calls",
            "2",
            "--profile",
            "instant",
            "--speed",
            "4",
            "--stt",
            "realtime",
            "--preemptive",
            "off",
            "--end-of-turn",
            "silence",
            "--eager-ms",
            "120",
            "--hangover-ms",
            "500",
            "--fixtures",
        ])
        .arg(fixtures.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "sicha bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("false cut-ins"),
        "no cut-ins line:\n{stdout}"
    );
    assert!(stdout.contains("STT realtime"), "no levers line:\n{stdout}");

    let text = std::fs::read_to_string(out.path().join("report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["errors"], 0, "{report:#}");
    let levers = &report["levers"];
    assert_eq!(levers["stt"], "realtime", "{levers:#}");
    assert_eq!(levers["preemptive"], false);
    assert_eq!(levers["end_of_turn"], "silence");
    assert_eq!(levers["eager_stt_ms"], 120);
    assert_eq!(levers["hangover_ms"], 500);
    assert_eq!(report["vad"]["hangover_ms"], 500);
    // Both utterances are labelled; each one's end was timed from its label.
    assert_eq!(report["labelled_utterances"], 2, "{report:#}");
    number(&report, "/false_cut_ins");
    assert!(
        number(&report, "/endpoint_ms_complete/n") >= 1.0,
        "{report:#}"
    );
    assert!(report["endpoint_ms_unfinished"].is_object());
    // Each answer says whether it was cut into; the server stopping an answer that cut in is no
    // barge-in (these callers never speak over an answer).
    for answer in report["answers"].as_array().unwrap() {
        assert!(answer["cut_ins"].is_number(), "{answer:#}");
    }
    assert_eq!(report["barge_in_ms"]["n"], 0, "{report:#}");
    number(&report, "/wasted_requests_per_answer/model");
    let names: Vec<&str> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"false_cut_ins"), "{names:?}");
}
