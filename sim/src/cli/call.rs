//! `sicha call`: plays one fixture as a Twilio caller against any running sicha (a deployment, or
//! `sicha serve` here) and prints the call from the caller's side: what it sent, when it heard
//! answers, marks, clears, and voice-to-voice per line.
//!
//! The caller-side view ([`CallerView`], [`print_summary`]) is shared with `sicha demo`. Hebrew
//! lines are printed alone on their line, labels on the line before, so the terminal's bidi lays them
//! out right to left.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use url::Url;

use crate::caller::{CallTrace, CallerOptions, TraceEvent, TraceKind, new_call_sid, run_call};
use crate::playback::SAMPLE_RATE;
use crate::scenario::Scenario;
use sicha::cli::business::e164;

/// The number the README's `business add` example uses.
const DEFAULT_TO: &str = "+97231234567";
const DEFAULT_FROM: &str = "+972501234567";
/// `--fast` plays the call at this multiple of real time.
const FAST_SPEED: f64 = 2.0;

#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// The sicha server's origin, e.g. http://127.0.0.1:8080 or https://voice.example.com.
    #[arg(long, value_name = "URL")]
    pub server: Url,
    /// A fixture WAV (8 kHz μ-law or PCM) with its JSON sidecar beside it: a script or one utterance.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "replay",
        conflicts_with = "replay"
    )]
    pub fixture: Option<PathBuf>,
    /// A recorded session (`sicha serve --record-streams`): its messages are sent again at their
    /// recorded times, as a new call.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Signs the webhook and the stream as Twilio would (the server's TWILIO_AUTH_TOKEN); unsigned
    /// when absent, which only a server started with --allow-unsigned accepts.
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// The business number called (E.164).
    #[arg(long, default_value = DEFAULT_TO, value_parser = e164)]
    pub to: String,
    /// The caller's number (E.164).
    #[arg(long, default_value = DEFAULT_FROM, value_parser = e164)]
    pub from: String,
    /// Twice real time, both the caller's audio and the emulated playback (the server's
    /// SICHA_MAX_WS_MESSAGES_PER_SEC must allow about 100 messages a second).
    #[arg(long)]
    pub fast: bool,
    /// Also write what the caller heard (both sides mixed) as a WAV file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(args: CallArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if let Some(path) = &args.replay {
        return replay(&args, path, out).await;
    }
    let fixture = args
        .fixture
        .as_ref()
        .context("--fixture or --replay is required")?;
    let scenario = Scenario::from_fixture(fixture)
        .with_context(|| format!("loading the fixture {}", fixture.display()))?;
    let mut options =
        CallerOptions::new(args.server.clone(), &new_call_sid(), &args.from, &args.to);
    options.auth_token = args.auth_token;
    options.speed = if args.fast { FAST_SPEED } else { 1.0 };
    writeln!(
        out,
        "calling {} at {} from {} as {} ({} line(s) of {}, {}signed, {})",
        options.to,
        options.server,
        options.from,
        options.call_sid,
        scenario.lines.len(),
        scenario.name,
        if options.auth_token.is_some() {
            ""
        } else {
            "un"
        },
        if args.fast {
            "twice real time"
        } else {
            "real time"
        },
    )?;
    let mut view = CallerView::new(true);
    let trace = play_with_view(&options, &scenario, &mut view, out).await?;
    print_summary(&trace, out)?;
    if let Some(path) = &args.out {
        std::fs::write(path, trace.mixed_wav())
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "what the caller heard: {}", path.display())?;
    }
    Ok(())
}

/// `--replay`: sends a recorded session's messages again, at their recorded times, as a new call.
async fn replay(
    args: &CallArgs,
    path: &std::path::Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let log = sicha::twilio::stream_log::read_stream_log(std::io::BufReader::new(file))
        .map_err(|error| anyhow::anyhow!("reading {}: {error}", path.display()))?;
    let call_sid = new_call_sid();
    let last = log.last().map_or(0, |m| m.at_ms);
    writeln!(
        out,
        "replaying {} ({} messages over {:.1} s) to {} as {call_sid}",
        path.display(),
        log.len(),
        last as f64 / 1000.0,
        args.server
    )?;
    let http = reqwest::Client::new();
    let report = crate::replay::replay(
        &http,
        &args.server,
        args.auth_token.as_deref(),
        &args.from,
        &args.to,
        &call_sid,
        &log,
    )
    .await
    .context("the replay failed")?;
    writeln!(
        out,
        "sent {} messages (left out {} recorded mark echoes); received {} ms of audio, {} marks, {} clears; {}",
        report.sent,
        report.marks_skipped,
        report.audio_received_ms,
        report.marks_echoed,
        report.clears,
        match report.closed {
            Some(Some(code)) => format!("the server closed the socket ({code})"),
            Some(None) => "the server closed the socket".to_string(),
            None => "the socket was still open at the end".to_string(),
        }
    )?;
    Ok(())
}

/// Plays the call, printing each event through `view` as it happens.
pub(super) async fn play_with_view(
    options: &CallerOptions,
    scenario: &Scenario,
    view: &mut CallerView,
    out: &mut impl Write,
) -> anyhow::Result<CallTrace> {
    // The caller sends every event here as it records it; the receiver lives only as long as this
    // function, and the caller ignores a closed channel.
    let (events, mut received) = mpsc::unbounded_channel();
    let call = run_call(options, scenario, Some(events));
    tokio::pin!(call);
    let trace = loop {
        tokio::select! {
            result = &mut call => break result.context("the simulated call failed")?,
            Some(event) = received.recv() => view.show(&event, out)?,
        }
    };
    while let Ok(event) = received.try_recv() {
        view.show(&event, out)?;
    }
    Ok(trace)
}

/// Prints a trace's events as lines a person can follow.
pub(super) struct CallerView {
    /// Show every mark received and echoed (the `call` view), not only clears (the `demo` view).
    show_marks: bool,
    line_ended: HashMap<usize, Duration>,
    start_sent: Option<Duration>,
    last_onset: Option<Duration>,
}

impl CallerView {
    pub(super) fn new(show_marks: bool) -> Self {
        Self {
            show_marks,
            line_ended: HashMap::new(),
            start_sent: None,
            last_onset: None,
        }
    }

    pub(super) fn show(&mut self, event: &TraceEvent, out: &mut impl Write) -> std::io::Result<()> {
        let at = format!("[{:>6.2}s]", event.at.as_secs_f64());
        match &event.kind {
            TraceKind::WebhookAnswered { status } => {
                writeln!(out, "{at} voice webhook answered {status}")?
            }
            TraceKind::StartSent => {
                self.start_sent = Some(event.at);
                writeln!(
                    out,
                    "{at} stream open: `connected` and `start` (with the stream token) sent"
                )?
            }
            TraceKind::LineStarted { line, text } => {
                self.last_onset = Some(event.at);
                writeln!(out, "{at} caller, line {}:", line + 1)?;
                writeln!(out, "{text}")?
            }
            TraceKind::LineEnded { line } => {
                self.line_ended.insert(*line, event.at);
                if self.show_marks {
                    writeln!(out, "{at} caller stops speaking (line {})", line + 1)?
                }
            }
            TraceKind::AgentAudio { after_line: None } => {
                let after = self.start_sent.map(|s| event.at.saturating_sub(s));
                writeln!(
                    out,
                    "{at} agent speaks: the greeting, {} after `start`",
                    ms(after)
                )?
            }
            TraceKind::AgentAudio {
                after_line: Some(line),
            } => {
                let v2v = self
                    .line_ended
                    .get(line)
                    .map(|e| event.at.saturating_sub(*e));
                writeln!(out, "{at} agent speaks: voice-to-voice {}", ms(v2v))?
            }
            TraceKind::MarkReceived { name } if self.show_marks => {
                writeln!(out, "{at} mark {name} received")?
            }
            TraceKind::MarkEchoed { name } if self.show_marks => {
                writeln!(out, "{at} mark {name} echoed (its audio has played)")?
            }
            TraceKind::Clear {
                dropped_samples,
                marks_echoed,
            } => {
                let after = self.last_onset.map(|s| event.at.saturating_sub(s));
                writeln!(
                    out,
                    "{at} barge-in: `clear` {} after the caller began; {:.1} s of agent audio never played, {marks_echoed} mark(s) echoed",
                    ms(after),
                    *dropped_samples as f64 / f64::from(SAMPLE_RATE),
                )?
            }
            TraceKind::NoAnswer { after_line } => writeln!(
                out,
                "{at} no answer came{}",
                after_line.map_or(String::new(), |l| format!(" to line {}", l + 1))
            )?,
            TraceKind::StopSent => writeln!(out, "{at} caller hangs up: `stop` sent")?,
            TraceKind::Closed { code } => writeln!(
                out,
                "{at} socket closed{}",
                code.map_or(String::new(), |c| format!(" ({c})"))
            )?,
            _ => return Ok(()),
        }
        out.flush()
    }
}

/// Milliseconds, or a dash when unknown.
pub(super) fn ms(duration: Option<Duration>) -> String {
    duration.map_or("—".to_string(), |d| format!("{} ms", d.as_millis()))
}

/// The caller-side numbers of a finished call.
pub(super) fn print_summary(trace: &CallTrace, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "measured at the caller (wall time):")?;
    writeln!(
        out,
        "  greeting latency      {}",
        ms(trace.greeting_latency())
    )?;
    for (line, v2v) in trace.voice_to_voice_all().into_iter().enumerate() {
        writeln!(out, "  line {:<2} voice-to-voice {}", line + 1, ms(v2v))?;
    }
    for barge_in in trace.barge_ins() {
        writeln!(
            out,
            "  barge-in on line {}: speech onset → clear {}",
            barge_in.line + 1,
            ms(Some(barge_in.latency))
        )?;
    }
    let count = |want: fn(&TraceKind) -> bool| trace.count(want);
    let (frames, voiced) = trace.frames_sent();
    writeln!(
        out,
        "  frames sent {frames} ({voiced} voiced); marks received {}, echoed {}; clears {}; agent audio heard {:.1} s",
        count(|k| matches!(k, TraceKind::MarkReceived { .. })),
        count(|k| matches!(k, TraceKind::MarkEchoed { .. })),
        count(|k| matches!(k, TraceKind::Clear { .. })),
        trace.agent_seconds_heard(),
    )
}
