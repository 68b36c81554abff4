//! report.json: the run's latencies as the caller measured them, the per-stage times as the server
//! recorded them, what sicha itself added, capacity (frames lost, inbound lag, CPU and memory per
//! call), the run's settings and the machine, and each target with whether it was met.
//!
//! - [`labelled`] the end of the turn on fixtures with labelled parts: endpoint by label, cut-ins.
//! - [`waste`] requests started for an answer and thrown away.

mod labelled;
mod waste;

use std::collections::HashMap;

use serde::Serialize;

use super::levers::Levers;
use super::probe::Machine;
use super::runner::{RunOutcome, frames_sent};
use super::stats::{self, Summary, round};
use crate::caller::{CallTrace, TraceKind};
use labelled::LabelledEnds;
use sicha::store::events::Event;
use sicha::store::turns::{ROLE_AGENT, ROLE_CALLER, TimedTurn};
pub use waste::{ProviderRequests, WasteCount, WastedRequests};

/// Listening settings of the server under test (`None` where a remote server's are unknown).
#[derive(Debug, Clone, Serialize)]
pub struct VadSettings {
    pub start_ms: Option<u32>,
    pub hangover_ms: Option<u32>,
    /// Eager transcription's threshold, `None` when off or unknown.
    pub eager_stt_ms: Option<u32>,
}

/// The server process's resource use over the run (a child server only).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerUsage {
    pub cpu_secs: f64,
    pub rss_kb_before: u64,
    pub rss_kb_peak: u64,
}

/// One target and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub name: String,
    pub limit: f64,
    pub value: Option<f64>,
    /// `None` when the value could not be measured.
    pub met: Option<bool>,
}

/// Everything about the run that is not measured from the calls.
#[derive(Debug, Clone, Serialize)]
pub struct RunContext {
    /// `child` (the bench started the server) or `remote`.
    pub target: String,
    pub server_url: String,
    pub profile: Option<String>,
    pub eager: bool,
    /// Every lever of the bench's own server, as the server applied them (`None`: a remote server).
    pub levers: Option<Levers>,
    pub vad: VadSettings,
    pub speed: f64,
    pub concurrency: usize,
    pub scripts: usize,
    pub git_commit: Option<String>,
    pub machine: Machine,
    /// `--server-cpus`: the CPUs the server and the bench ran on (`None`: shared).
    pub cpus: Option<super::pinning::CpuSplit>,
    /// Open-file soft limit before and after the bench raised it (equal when it did not need to).
    pub open_files_limit: (u64, u64),
    pub started_at_unix_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub calls: usize,
    pub concurrency: usize,
    /// Caller lines that got an answer.
    pub turns: usize,
    /// Calls that failed (webhook refused, socket error).
    pub errors: usize,
    /// Caller lines that got no answer within the caller's wait.
    pub unanswered_lines: usize,
    pub frames_sent: u64,
    pub frames_counted: Option<u64>,
    /// Frames the caller sent minus frames the server counted.
    pub frames_lost: Option<i64>,
    pub v2v_ms: Summary,
    pub endpoint_ms: Option<Summary>,
    /// On fixtures with labelled parts: the labelled end of a finished utterance → the server
    /// deciding the turn ended (wall ms; see [`labelled`]).
    pub endpoint_ms_complete: Option<Summary>,
    /// The same from a part after which the caller paused mid-utterance, where the server ended
    /// the turn in that pause (each sample an end in the middle).
    pub endpoint_ms_unfinished: Option<Summary>,
    pub stt_ms: Option<Summary>,
    pub llm_ttft_ms: Option<Summary>,
    pub llm_first_sentence_ms: Option<Summary>,
    pub tts_ttfb_ms: Option<Summary>,
    /// What sicha added, by the server's own clock: its turnaround − the STT it waited for − LLM
    /// first sentence − TTS first audio (see [`overhead`]).
    pub overhead_ms: Option<Summary>,
    pub greeting_ms: Summary,
    pub barge_in_ms: Summary,
    pub webhook_ms: Summary,
    /// Model, speech and transcription requests started and thrown away, per answer heard (the
    /// server's records; see [`waste`]).
    pub wasted_requests_per_answer: Option<WastedRequests>,
    /// What the simulated providers served over the measured calls.
    pub provider_requests: Option<ProviderRequests>,
    /// Answers whose first audio reached the caller inside a labelled utterance (in a pause in
    /// the middle of it); `None` when no fixture labels its parts.
    pub false_cut_ins: Option<usize>,
    /// Labelled utterances played, of which `false_cut_ins` were cut into.
    pub labelled_utterances: usize,
    pub inbound_lag_ms: Option<Summary>,
    /// How late the simulated callers sent their frames after their own 20 ms clock ticks: load on
    /// the callers' side, which the server then also counts in `inbound_lag_ms`.
    pub caller_send_lag_ms: Summary,
    pub cpu_pct_per_call: Option<f64>,
    pub rss_kb_per_call: Option<f64>,
    pub live_calls_peak: usize,
    pub live_calls_mean: f64,
    pub wall_secs: f64,
    pub server: Option<ServerUsage>,
    /// CPU seconds of the bench's own process over the run: the simulated callers and providers.
    pub bench_cpu_secs: Option<f64>,
    pub targets: Vec<TargetCheck>,
    /// The first few failures, to see what went wrong.
    pub error_samples: Vec<String>,
    /// Every answer, in call order.
    pub answers: Vec<AnswerRow>,
    #[serde(flatten)]
    pub context: RunContext,
}

/// What the server told the bench besides the calls' traces.
#[derive(Debug, Default)]
pub struct ServerSide {
    /// Turns by CallSid, when the server's database could be read.
    pub turns: Option<HashMap<String, Vec<TimedTurn>>>,
    /// Events by CallSid, likewise.
    pub events: Option<HashMap<String, Vec<Event>>>,
    pub provider_requests: Option<ProviderRequests>,
    pub frames_counted: Option<u64>,
    pub inbound_lag_ms: Option<Summary>,
    pub usage: Option<ServerUsage>,
    /// The bench process's CPU seconds over the calls.
    pub bench_cpu_secs: Option<f64>,
}

/// One answer's times, for finding where the time went (ms; all but `v2v` as the server recorded
/// them, from the agent turn after the line's caller turn: paired by order, so on an overloaded run
/// where lines went unheard a row can show another answer's times).
#[derive(Debug, Clone, Serialize)]
pub struct AnswerRow {
    pub scenario: String,
    pub line: usize,
    /// By the caller: the line's last labelled voiced frame sent → first agent audio received.
    pub v2v: f64,
    pub endpoint: Option<i64>,
    pub stt: Option<i64>,
    pub llm_first_sentence: Option<i64>,
    pub tts_ttfb: Option<i64>,
    /// The end of speech confirmed → the answer's first audio handed to the socket.
    pub turnaround: Option<i64>,
    /// The part of `turnaround` spent waiting for STT (less than `stt` with eager transcription).
    pub stt_wait: Option<i64>,
    pub overhead: Option<f64>,
    /// On a line with labelled parts: answers that started while the caller was inside it.
    pub cut_ins: Option<usize>,
}

/// The per-turn samples gathered across calls.
#[derive(Default)]
struct Samples {
    v2v: Vec<f64>,
    endpoint: Vec<f64>,
    stt: Vec<f64>,
    llm_ttft: Vec<f64>,
    llm_first_sentence: Vec<f64>,
    tts_ttfb: Vec<f64>,
    overhead: Vec<f64>,
    greeting: Vec<f64>,
    barge_in: Vec<f64>,
    webhook: Vec<f64>,
    caller_send_lag: Vec<f64>,
    unanswered: usize,
    answers: Vec<AnswerRow>,
    labelled: LabelledEnds,
    waste: WasteCount,
}

pub fn build(run: &RunOutcome, server: ServerSide, context: RunContext) -> BenchReport {
    let mut samples = Samples::default();
    let mut error_samples = Vec::new();
    for call in &run.calls {
        match &call.trace {
            Ok(trace) => {
                let turns = server.turns.as_ref().and_then(|t| t.get(&call.call_sid));
                let events = server.events.as_ref().and_then(|e| e.get(&call.call_sid));
                collect(
                    &call.scenario,
                    trace,
                    turns.map(Vec::as_slice),
                    &mut samples,
                );
                let decisions = events.map(|events| labelled::decisions(events));
                samples
                    .labelled
                    .collect(trace, call.placed_at_unix_ms, decisions.as_deref());
                if let Some(events) = events {
                    samples.waste.collect(events);
                }
            }
            Err(error) if error_samples.len() < 5 => error_samples.push(error.clone()),
            Err(_) => {}
        }
    }
    let stage = |values: &[f64]| server.turns.as_ref().map(|_| Summary::of(values));
    let frames_sent = frames_sent(&run.calls);
    let frames_lost = server
        .frames_counted
        .map(|counted| frames_sent as i64 - counted as i64);
    let (cpu_pct_per_call, rss_kb_per_call) = per_call(run, server.usage);
    let labelled = (samples.labelled.utterances > 0).then_some(&samples.labelled);
    let records = server.turns.is_some() && server.events.is_some();
    let by_label = |values: &[f64]| labelled.filter(|_| records).map(|_| Summary::of(values));
    let mut report = BenchReport {
        calls: run.calls.len(),
        concurrency: context.concurrency,
        turns: samples.v2v.len(),
        errors: run.calls.iter().filter(|c| c.trace.is_err()).count(),
        unanswered_lines: samples.unanswered,
        frames_sent,
        frames_counted: server.frames_counted,
        frames_lost,
        v2v_ms: Summary::of(&samples.v2v),
        endpoint_ms: stage(&samples.endpoint),
        endpoint_ms_complete: by_label(&samples.labelled.complete),
        endpoint_ms_unfinished: by_label(&samples.labelled.unfinished),
        stt_ms: stage(&samples.stt),
        llm_ttft_ms: stage(&samples.llm_ttft),
        llm_first_sentence_ms: stage(&samples.llm_first_sentence),
        tts_ttfb_ms: stage(&samples.tts_ttfb),
        overhead_ms: stage(&samples.overhead),
        greeting_ms: Summary::of(&samples.greeting),
        barge_in_ms: Summary::of(&samples.barge_in),
        webhook_ms: Summary::of(&samples.webhook),
        wasted_requests_per_answer: records
            .then(|| samples.waste.per_answer(samples.v2v.len()))
            .flatten(),
        provider_requests: server.provider_requests,
        false_cut_ins: labelled.map(|l| l.false_cut_ins),
        labelled_utterances: samples.labelled.utterances,
        inbound_lag_ms: server.inbound_lag_ms,
        caller_send_lag_ms: Summary::of(&samples.caller_send_lag),
        cpu_pct_per_call,
        rss_kb_per_call,
        live_calls_peak: run.live_peak,
        live_calls_mean: round(run.live_mean),
        wall_secs: round(run.wall.as_secs_f64()),
        server: server.usage,
        bench_cpu_secs: server.bench_cpu_secs,
        targets: Vec::new(),
        error_samples,
        answers: std::mem::take(&mut samples.answers),
        context,
    };
    report.targets = targets(&report);
    report
}

/// Server CPU as a percentage of one core per live call, and peak memory growth per live call.
fn per_call(run: &RunOutcome, usage: Option<ServerUsage>) -> (Option<f64>, Option<f64>) {
    let Some(usage) = usage else {
        return (None, None);
    };
    let wall = run.wall.as_secs_f64();
    let cpu = (wall > 0.0 && run.live_mean > 0.0)
        .then(|| round(usage.cpu_secs / wall * 100.0 / run.live_mean));
    let rss = (run.live_peak > 0).then(|| {
        round(usage.rss_kb_peak.saturating_sub(usage.rss_kb_before) as f64 / run.live_peak as f64)
    });
    (cpu, rss)
}

fn ms(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Adds one call's samples: the caller's timings from its trace, the server's from its turns.
fn collect(scenario: &str, trace: &CallTrace, turns: Option<&[TimedTurn]>, into: &mut Samples) {
    if let Some(webhook) = trace
        .events
        .iter()
        .find(|e| matches!(e.kind, TraceKind::WebhookAnswered { .. }))
    {
        into.webhook.push(ms(webhook.at));
    }
    into.greeting.extend(trace.greeting_latency().map(ms));
    // A `clear` inside a labelled utterance is the server stopping an answer that cut in (counted
    // in `false_cut_ins`), not the caller barging in.
    let labelled = labelled::labelled_lines(trace);
    let cut_ins = labelled::cut_ins_by_line(trace, &labelled);
    into.barge_in.extend(
        trace
            .barge_ins()
            .iter()
            .filter(|b| !labelled.contains(&b.line))
            .map(|b| ms(b.latency)),
    );
    into.unanswered += trace.count(|k| matches!(k, TraceKind::NoAnswer { .. }));
    into.caller_send_lag
        .extend(trace.frames.iter().map(|f| f64::from(f.late_us) / 1000.0));
    let answers = turns.map(answers_by_line).unwrap_or_default();
    for (line, v2v) in trace.voice_to_voice_all().into_iter().enumerate() {
        let Some(v2v) = v2v.map(ms) else {
            continue;
        };
        into.v2v.push(v2v);
        let timed = answers.get(&line).copied();
        let sicha = timed.and_then(overhead);
        let turn = timed.map(|t| &t.turn);
        into.answers.push(AnswerRow {
            scenario: scenario.to_string(),
            line,
            v2v: stats::round(v2v),
            endpoint: turn.and_then(|t| t.endpoint_ms),
            stt: turn.and_then(|t| t.stt_ms),
            llm_first_sentence: turn.and_then(|t| t.llm_first_sentence_ms),
            tts_ttfb: turn.and_then(|t| t.tts_ttfb_ms),
            turnaround: timed.and_then(|t| t.span.turnaround_ms),
            stt_wait: timed.and_then(|t| t.span.stt_wait_ms),
            overhead: sicha,
            cut_ins: labelled
                .contains(&line)
                .then(|| cut_ins.get(&line).copied().unwrap_or(0)),
        });
    }
    // The server's figures count every answer it recorded once, whether or not it could be paired
    // with a caller line: on an overloaded run lines go unanswered or are answered late, and
    // pairing by order would drop or misplace answers.
    let value = |v: Option<i64>| v.map(|v| v as f64);
    for timed in turns.unwrap_or_default() {
        let turn = &timed.turn;
        if turn.role != ROLE_AGENT {
            continue;
        }
        into.endpoint.extend(value(turn.endpoint_ms));
        into.stt.extend(value(turn.stt_ms));
        into.llm_ttft.extend(value(turn.llm_ttft_ms));
        into.llm_first_sentence
            .extend(value(turn.llm_first_sentence_ms));
        into.tts_ttfb.extend(value(turn.tts_ttfb_ms));
        into.overhead.extend(overhead(timed));
    }
}

/// What sicha added to one answer, all on the server's own clock: its turnaround (the end of speech
/// confirmed → the first audio handed to the socket) minus the provider stages on that path: the
/// STT it still waited for, and what was left at the confirmation of the LLM's first sentence and
/// the TTS's first audio (all of them, unless the answer started ahead: a preemptive reply's head
/// start hides part or all of them). Where the fixture's labels and the VAD disagree on the last
/// syllable only the caller-side `v2v` moves, not this. Each term is whole milliseconds, so one
/// answer is exact to a few ms.
pub fn overhead(answer: &TimedTurn) -> Option<f64> {
    let turnaround = answer.span.turnaround_ms?;
    let stt_wait = answer.span.stt_wait_ms?;
    let first_sentence = answer.turn.llm_first_sentence_ms?;
    let tts = answer.turn.tts_ttfb_ms?;
    let head_start = answer.span.head_start_ms.unwrap_or(0);
    let providers_left = (first_sentence + tts - head_start).max(0);
    Some((turnaround - stt_wait - providers_left) as f64)
}

/// The agent turn answering each caller line, by line index: the agent turn that follows the
/// line's own caller turn (agent turns before any caller turn are the greeting).
fn answers_by_line(turns: &[TimedTurn]) -> HashMap<usize, &TimedTurn> {
    let mut answers = HashMap::new();
    let mut caller_lines = 0usize;
    for timed in turns {
        if timed.turn.role == ROLE_CALLER {
            caller_lines += 1;
        } else if timed.turn.role == ROLE_AGENT && caller_lines > 0 {
            answers.entry(caller_lines - 1).or_insert(timed);
        }
    }
    answers
}

/// Model and speech requests thrown away per answer, at most.
const WASTED_PER_ANSWER_LIMIT: f64 = 0.3;
/// The median endpoint of a finished utterance on the labelled fixtures, at most.
const ENDPOINT_COMPLETE_P50_LIMIT: f64 = 300.0;

/// The targets this run is held to.
fn targets(report: &BenchReport) -> Vec<TargetCheck> {
    let check = |name: &str, limit: f64, value: Option<f64>, below: bool| TargetCheck {
        name: name.to_string(),
        limit,
        value,
        met: value.map(|v| if below { v < limit } else { v <= limit }),
    };
    let overhead_limit = if report.concurrency <= 1 { 10.0 } else { 25.0 };
    let vad_start = report.context.vad.start_ms.map_or(120.0, f64::from);
    let mut targets = vec![
        check(
            "overhead_ms p95",
            overhead_limit,
            report.overhead_ms.and_then(|s| s.p95),
            false,
        ),
        check(
            "frames_lost",
            0.0,
            report.frames_lost.map(|f| f as f64),
            false,
        ),
        check(
            "inbound_lag_ms p99 (below)",
            20.0,
            report.inbound_lag_ms.and_then(|s| s.p99),
            true,
        ),
        check("rss_kb_per_call", 1024.0, report.rss_kb_per_call, false),
        check("greeting_ms p95", 30.0, report.greeting_ms.p95, false),
        check(
            "barge_in_ms p95",
            vad_start + 30.0,
            report.barge_in_ms.p95,
            false,
        ),
    ];
    // Issue 15's: answering early costs little, and on the pause fixtures never cuts in.
    if report.context.levers.is_some() {
        let wasted = report
            .wasted_requests_per_answer
            .map(|w| stats::round(w.model + w.tts));
        targets.push(check(
            "wasted model+TTS per answer",
            WASTED_PER_ANSWER_LIMIT,
            wasted,
            false,
        ));
    }
    if report.false_cut_ins.is_some() {
        targets.push(check(
            "false_cut_ins",
            0.0,
            report.false_cut_ins.map(|c| c as f64),
            false,
        ));
        targets.push(check(
            "endpoint_ms complete p50",
            ENDPOINT_COMPLETE_P50_LIMIT,
            report.endpoint_ms_complete.and_then(|s| s.p50),
            false,
        ));
    }
    targets
}

#[cfg(test)]
mod tests;
