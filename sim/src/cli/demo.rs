//! `sicha demo`: one whole phone call on this machine, with no credentials and no network. The real
//! server runs in-process on a free port with a temporary SQLite database and a demo business; the
//! providers it calls (speech-to-text, the chat model, text-to-speech, Twilio's REST API) are local
//! SIMULATED stand-ins; a simulated Twilio caller plays a five-line Hebrew booking call in real
//! time, cutting in on one answer. The conversation is printed as it happens, then the per-turn
//! timings from the records, and what the caller heard is written to a WAV file.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use super::call::{CallerView, ms, print_summary};
use crate::bench::levers::Stt;
use crate::booking_api::{Booking, BookingApiSim};
use crate::caller::{CallTrace, CallerOptions, new_call_sid, run_call};
use crate::openai::{OpenAiSim, SimProfile};
use crate::scenario::{Scenario, demo_business};
use crate::twilio_api::TwilioApiSim;
use sicha::call::session::AgentMode;
use sicha::config::Settings;
use sicha::startup::{Application, ServeOptions};
use sicha::store::turns::{ROLE_AGENT, ROLE_CALLER};
use sicha::store::{Store, Turn};

const DEMO_ACCOUNT_SID: &str = "ACdemo000000000000000000000000000";
/// How often the view looks for newly committed turns.
const TURN_POLL: Duration = Duration::from_millis(250);
/// How long to wait for the call's end to be committed after hanging up.
const RECORDS_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Latency of the simulated providers: instant, typical or slow.
    #[arg(long, default_value = "typical", value_parser = profile_name)]
    pub profile: String,
    /// Speech to text: each utterance uploaded when it ends (batch, the server's default), or
    /// streamed while the caller speaks (realtime, over the Realtime API's stand-in).
    #[arg(long, value_enum, default_value = "batch")]
    pub stt: Stt,
    /// Where to write what the caller heard: 8 kHz mono WAV, both sides of the call mixed.
    #[arg(long, default_value = "demo-call.wav", value_name = "FILE")]
    pub out: PathBuf,
    /// Keep the call records: the SQLite database goes into DIR (created if needed).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Server log filter; warnings only by default (and not the one about the web pages being off),
    /// so the conversation stays readable.
    #[arg(long, default_value = "warn,sicha::web=error", value_name = "FILTER")]
    pub log: String,
}

fn profile_name(name: &str) -> Result<String, String> {
    SimProfile::by_name(name)
        .map(|_| name.trim().to_ascii_lowercase())
        .ok_or_else(|| format!("expected one of {}", SimProfile::NAMES.join(", ")))
}

pub async fn run(args: DemoArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let began = Instant::now();
    let profile = SimProfile::by_name(&args.profile).expect("validated by the parser");
    let records = RecordsDir::create(args.keep.as_deref())?;
    let db_path = records.dir.join("sicha-demo.db");
    let database_url = format!("sqlite://{}", db_path.display());

    // The stand-ins live as long as these handles: until the end of this function.
    let scenario = Scenario::demo();
    let openai = OpenAiSim::start(profile)
        .await
        .context("starting the simulated OpenAI API")?;
    scenario.teach(&openai);
    let auth_token = uuid::Uuid::new_v4().simple().to_string();
    let twilio = TwilioApiSim::start_with(DEMO_ACCOUNT_SID, &auth_token)
        .await
        .context("starting the simulated Twilio API")?;
    let call_sid = new_call_sid();
    twilio.add_call(&call_sid, demo_business::CALLER, demo_business::NUMBER);

    let settings = demo_settings(
        &database_url,
        &openai.base_url(),
        &twilio.base_url(),
        &auth_token,
        &args.log,
        args.stt,
    )?;
    sicha::telemetry::init(&settings)?;
    crate::world::ensure_demo_business(&database_url).await?;
    // The shop's booking system, which the agent reaches through the business's tools.
    let booking = BookingApiSim::start()
        .await
        .context("starting the simulated booking system")?;
    crate::world::give_demo_business_its_tools(&database_url, &booking).await?;
    let app = Application::build(
        settings,
        ServeOptions {
            allow_unsigned: false,
            agent: AgentMode::Ai,
        },
    )
    .await
    .context("starting the server")?;
    let server_url = Url::parse(&format!("http://{}/", app.local_addr()))?;
    let store = app.state().store.clone();
    // A server that has been up a while has its greeting synthesised already; the demo's has just
    // started, so it makes sure of that first (the background warm-up may still be going).
    if let Some(agent) = &app.state().calls.agent
        && let Err(error) = agent.phrase(demo_business::GREETING, None).await
    {
        tracing::warn!(%error, "the greeting could not be synthesised ahead");
    }
    // The server task: owned here, told to stop through `stop` once the call is over, and awaited
    // so the records are complete before the summary and cleanup.
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    let providers = format!(
        "latency profile `{}`, speech to text {}",
        args.profile,
        args.stt.name()
    );
    print_header(out, &server_url, &providers, &db_path, records.temporary)?;
    let mut options = CallerOptions::new(
        server_url,
        &call_sid,
        demo_business::CALLER,
        demo_business::NUMBER,
    );
    options.auth_token = Some(auth_token);
    let played = play_and_watch(&options, &scenario, &store, out).await;

    let _ = stop.send(());
    let stopped = server.await;
    let trace = played?;
    stopped.context("the server task")?.context("the server")?;
    let turns = store.turns_for_call(&call_sid).await?;
    print_summary(&trace, out)?;
    print_bookings(&booking.bookings(), out)?;
    print_turn_timings(&turns, &trace, out)?;
    std::fs::write(&args.out, trace.mixed_wav())
        .with_context(|| format!("writing {}", args.out.display()))?;
    writeln!(out)?;
    writeln!(
        out,
        "what the caller heard (both sides, {:.1} s): {}",
        trace.mixed_pcm().len() as f64 / 8000.0,
        args.out.display()
    )?;
    store.close().await;
    if records.temporary {
        writeln!(
            out,
            "records: {} was temporary and is now removed (--keep DIR keeps it)",
            db_path.display()
        )?;
    } else {
        writeln!(out, "records: {}", db_path.display())?;
        writeln!(
            out,
            "  see them with: SICHA_DATABASE_URL={database_url} sicha calls show {call_sid}"
        )?;
    }
    writeln!(
        out,
        "demo finished in {:.1} s",
        began.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// Settings for the in-process server: every provider pointed at a local stand-in, nothing read
/// from the environment (a real key there must not be used, or shown).
fn demo_settings(
    database_url: &str,
    openai: &Url,
    twilio: &Url,
    auth_token: &str,
    log: &str,
    stt: Stt,
) -> anyhow::Result<Settings> {
    let values = [
        ("SICHA_BIND", "127.0.0.1:0"),
        ("SICHA_DATABASE_URL", database_url),
        ("SICHA_INSTANCE_ID", "demo"),
        ("TWILIO_ACCOUNT_SID", DEMO_ACCOUNT_SID),
        ("TWILIO_AUTH_TOKEN", auth_token),
        ("TWILIO_API_BASE", twilio.as_str()),
        ("OPENAI_BASE_URL", openai.as_str()),
        ("SICHA_TTS", "openai,espeak"),
        ("SICHA_SHUTDOWN_GRACE_SECS", "2"),
        ("SICHA_LOG", log),
        ("SICHA_STT", stt.name()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Ok(Settings::from_values(&values)?)
}

fn print_header(
    out: &mut impl Write,
    server: &Url,
    providers: &str,
    db_path: &Path,
    temporary: bool,
) -> std::io::Result<()> {
    let speech = if espeak_installed() {
        "espeak-ng's Hebrew voice"
    } else {
        "a tone in place of speech (install espeak-ng to hear Hebrew)"
    };
    writeln!(
        out,
        "sicha demo: one phone call, end to end, on this machine"
    )?;
    writeln!(
        out,
        "  server     the real sicha server at {server} (in-process)"
    )?;
    writeln!(
        out,
        "  providers  SIMULATED: speech-to-text, chat model and text-to-speech are local stand-ins ({providers}); their audio is {speech}"
    )?;
    writeln!(
        out,
        "  Twilio     SIMULATED: a caller on the real Media Streams protocol, and a REST stand-in"
    )?;
    writeln!(
        out,
        "  records    SQLite {}{}",
        db_path.display(),
        if temporary { " (temporary)" } else { "" }
    )?;
    writeln!(
        out,
        "  business   {} {}",
        demo_business::NUMBER,
        demo_business::NAME
    )?;
    writeln!(out)?;
    out.flush()
}

fn espeak_installed() -> bool {
    std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Plays the call, printing the caller's events as they happen and the agent's turns as their
/// records are committed.
async fn play_and_watch(
    options: &CallerOptions,
    scenario: &Scenario,
    store: &Store,
    out: &mut impl Write,
) -> anyhow::Result<CallTrace> {
    // Events from the caller, as it records them; dropped with this function.
    let (events, mut received) = mpsc::unbounded_channel();
    let call = run_call(options, scenario, Some(events));
    tokio::pin!(call);
    let mut view = CallerView::new(false);
    let mut shown = HashSet::new();
    let mut poll = tokio::time::interval(TURN_POLL);
    let trace = loop {
        tokio::select! {
            result = &mut call => break result.context("the simulated call failed")?,
            Some(event) = received.recv() => view.show(&event, out)?,
            _ = poll.tick() => show_new_turns(store, &options.call_sid, &mut shown, out).await?,
        }
    };
    while let Ok(event) = received.try_recv() {
        view.show(&event, out)?;
    }
    // The last turns are committed as the session ends, just after the caller hangs up.
    let deadline = Instant::now() + RECORDS_WAIT;
    while Instant::now() < deadline {
        let ended = store
            .call_by_sid(&options.call_sid)
            .await?
            .is_some_and(|c| c.ended_at_ms.is_some());
        if ended {
            break;
        }
        tokio::time::sleep(TURN_POLL).await;
    }
    show_new_turns(store, &options.call_sid, &mut shown, out).await?;
    Ok(trace)
}

/// Prints agent turns not shown yet: what was said, or for a cut-off answer what was heard of it.
async fn show_new_turns(
    store: &Store,
    call_sid: &str,
    shown: &mut HashSet<i64>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for turn in store.turns_for_call(call_sid).await? {
        if turn.role != ROLE_AGENT || !shown.insert(turn.seq) {
            continue;
        }
        if turn.interrupted {
            writeln!(
                out,
                "           agent, cut off by the caller; what was heard of it:"
            )?;
            writeln!(out, "{}", turn.heard_text.as_deref().unwrap_or_default())?;
        } else {
            writeln!(out, "           agent:")?;
            writeln!(out, "{}", turn.text)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The server's own stage timings per answer, next to what the caller measured.
fn print_turn_timings(
    turns: &[Turn],
    trace: &CallTrace,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let caller_v2v = trace.voice_to_voice_all();
    let cell = |value: Option<i64>| value.map_or("—".to_string(), |v| v.to_string());
    writeln!(out)?;
    writeln!(
        out,
        "per answer, from the turn records (ms; voice-to-voice also as the caller measured it):"
    )?;
    writeln!(
        out,
        "  {:<6} {:>9} {:>6} {:>10} {:>11} {:>9} {:>12}",
        "answer", "endpoint", "STT", "LLM first", "TTS first", "v2v", "v2v caller"
    )?;
    let mut caller_lines = 0usize;
    for turn in turns {
        if turn.role == ROLE_CALLER {
            caller_lines += 1;
            continue;
        }
        if caller_lines == 0 {
            continue; // the greeting answers no one
        }
        let line = caller_lines - 1;
        let measured = caller_v2v.get(line).copied().flatten();
        writeln!(
            out,
            "  {:<6} {:>9} {:>6} {:>10} {:>11} {:>9} {:>12}{}",
            line + 1,
            cell(turn.endpoint_ms),
            cell(turn.stt_ms),
            cell(turn.llm_ttft_ms),
            cell(turn.tts_ttfb_ms),
            cell(turn.v2v_ms),
            ms(measured).trim_end_matches(" ms"),
            if turn.interrupted { "  (cut off)" } else { "" },
        )?;
    }
    Ok(())
}

/// Where the demo's database lives: a directory of its own, removed when dropped unless kept.
struct RecordsDir {
    dir: PathBuf,
    temporary: bool,
}

impl RecordsDir {
    fn create(keep: Option<&Path>) -> anyhow::Result<Self> {
        let (dir, temporary) = match keep {
            Some(dir) => (dir.to_path_buf(), false),
            None => (
                std::env::temp_dir().join(format!("sicha-demo-{}", uuid::Uuid::new_v4().simple())),
                true,
            ),
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir, temporary })
    }
}

impl Drop for RecordsDir {
    /// A temporary directory goes however the demo ends, failures included.
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// What the booking system holds after the call: what the agent booked, for real.
fn print_bookings(bookings: &[Booking], out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out)?;
    if bookings.is_empty() {
        writeln!(out, "booked: nothing")?;
    }
    for booking in bookings {
        writeln!(
            out,
            "booked: {} at {} for {} ({}, confirmation {})",
            booking.day, booking.time, booking.name, booking.caller, booking.confirmation
        )?;
    }
    Ok(())
}
