//! `sicha bench`: whole-call latency, per-stage breakdown and capacity. N simulated Twilio callers,
//! C at a time, play the fixtures' scripts against a real sicha server — by default one the bench
//! starts as a child process with simulated providers, so its CPU and memory can be read apart from
//! the callers' — and the run is written out as `report.json`, a terminal table and two SVG plots.
//!
//! - [`scenarios`] what the callers say, one call in four barging in.
//! - [`target`] the child server: started, watched through `/proc`, stopped with SIGTERM.
//! - [`runner`] the calls, C at a time, with a progress bar.
//! - [`scrape`] frames counted and inbound lag, from the server's `/metrics`.
//! - [`probe`] `/proc`: process CPU and memory, the machine, the open-file limit.
//! - [`stats`], [`report`], [`table`], [`plot`] the results.

pub mod plot;
pub mod probe;
pub mod report;
pub mod runner;
pub mod scenarios;
pub mod scrape;
pub mod stats;
pub mod table;
pub mod target;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use url::Url;

use crate::sim::openai::SimProfile;
use crate::sim::scenario::{Scenario, demo_business};
use crate::sim::world::SimWorld;
use crate::store::Store;
use report::{BenchReport, RunContext, ServerSide, ServerUsage, VadSettings};
use runner::{CallPlan, RunOutcome};
use scenarios::ScenarioSet;
use scrape::{MetricsReading, read_metrics};
use target::ChildServer;

/// Eager transcription's threshold when the bench turns it on.
pub const EAGER_STT_MS: u32 = 250;
/// The server's listening defaults, which the child server is given explicitly.
pub const VAD_START_MS: u32 = 120;
pub const VAD_HANGOVER_MS: u32 = 600;
/// How long the bench waits for the server to finish its calls' records after the last hang-up.
const SETTLE_WAIT: Duration = Duration::from_secs(10);
/// The phrase warm-up is over when no speech request has come for this long.
const WARM_QUIET: Duration = Duration::from_millis(1500);
const WARM_WAIT: Duration = Duration::from_secs(20);
/// The warm-up call hears the greeting in a time-lapse: it only has to be synthesised, not heard.
const WARM_UP_SPEED: f64 = 4.0;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("fixture {path}: {source}")]
    Fixture {
        path: String,
        source: crate::sim::scenario::ScenarioError,
    },
    #[error("no labelled fixtures (*.wav with a .json beside it) in {0}")]
    NoFixtures(String),
    #[error("the server exited before it was ready (exit code {0:?}); see server.log")]
    ServerExited(Option<i32>),
    #[error("the server was not ready within {0:?}; see server.log")]
    NotReady(Duration),
    #[error("the server's database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("report.json: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

impl BenchError {
    fn io(what: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.as_ref().display().to_string();
        move |source| Self::Io { what, source }
    }
}

/// Which server the calls go to.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start `exe serve` as a child process with the bench's simulated providers.
    Child { exe: PathBuf },
    /// A running sicha; its provider stage times and process figures are not readable.
    Remote {
        url: Url,
        auth_token: Option<String>,
        to: String,
    },
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub calls: usize,
    pub concurrency: usize,
    pub fixtures: PathBuf,
    pub profile_name: String,
    pub eager: bool,
    pub target: Target,
    pub out: PathBuf,
    /// 1.0 is real time; tests play a time-lapse.
    pub speed: f64,
    /// The first wave's starts are spread over this.
    pub ramp: Duration,
    pub answer_timeout: Duration,
    pub show_progress: bool,
}

/// Runs the bench and writes report.json and the plots into `options.out`.
pub async fn run(options: &BenchOptions) -> Result<BenchReport, BenchError> {
    std::fs::create_dir_all(&options.out).map_err(BenchError::io(&options.out))?;
    let scenarios = ScenarioSet::load(&options.fixtures)?;
    // Per call: the caller's socket and HTTP connection, the server's two, its provider requests.
    let open_files_limit = probe::raise_open_files(options.concurrency as u64 * 8 + 256);
    let started_at_unix_ms = crate::clock::now_ms();
    let progress = progress_bar(options);
    let http = reqwest::Client::new();

    let (run, server_side, context) = match &options.target {
        Target::Child { exe } => {
            let profile =
                SimProfile::by_name(&options.profile_name).unwrap_or_else(SimProfile::typical);
            let world = SimWorld::start(profile)
                .await
                .map_err(BenchError::io("the stand-ins"))?;
            for rule in Scenario::demo().chat_rules {
                world.openai.add_chat_rule(rule);
            }
            let extra = child_settings(options);
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let server =
                ChildServer::start(exe, &world, &extra, &options.out.join("server.log")).await?;
            let plan = plan(
                options,
                server.url().clone(),
                Some(world.auth_token.clone()),
                demo_business::NUMBER,
            );
            wait_for_warm_up(&world, &plan).await;
            let before = read_metrics(&http, server.url()).await;
            let usage_before = server.reading();
            let run = runner::run_calls(&plan, &scenarios, Some(&world), &progress).await;
            progress.finish_and_clear();
            settle(server.database_url(), &run).await;
            let after = read_metrics(&http, server.url()).await;
            if before.is_none() || after.is_none() || server.reading().is_none() {
                eprintln!(
                    "warning: the server's /metrics or /proc could not be read after the run; see server.log"
                );
            }
            let usage = usage_before
                .zip(server.reading())
                .map(|(b, a)| ServerUsage {
                    cpu_secs: stats::round(
                        a.cpu_ticks.saturating_sub(b.cpu_ticks) as f64 / probe::ticks_per_second(),
                    ),
                    rss_kb_before: b.rss_kb,
                    rss_kb_peak: a.peak_rss_kb,
                });
            let url = server.url().to_string();
            let database_url = server.database_url().to_string();
            let scratch = server.stop().await?;
            let turns = read_turns(&database_url, &run).await?;
            drop(scratch);
            let mut side = server_side(before, after);
            side.turns = Some(turns);
            side.usage = usage;
            let vad = VadSettings {
                start_ms: Some(VAD_START_MS),
                hangover_ms: Some(VAD_HANGOVER_MS),
                eager_stt_ms: options.eager.then_some(EAGER_STT_MS),
            };
            let context = context(
                options,
                "child",
                url,
                Some(options.profile_name.clone()),
                vad,
                &scenarios,
                open_files_limit,
                started_at_unix_ms,
            );
            (run, side, context)
        }
        Target::Remote {
            url,
            auth_token,
            to,
        } => {
            let plan = plan(options, url.clone(), auth_token.clone(), to);
            let before = read_metrics(&http, url).await;
            let run = runner::run_calls(&plan, &scenarios, None, &progress).await;
            progress.finish_and_clear();
            let after = read_metrics(&http, url).await;
            let vad = VadSettings {
                start_ms: None,
                hangover_ms: None,
                eager_stt_ms: None,
            };
            let context = context(
                options,
                "remote",
                url.to_string(),
                None,
                vad,
                &scenarios,
                open_files_limit,
                started_at_unix_ms,
            );
            (run, server_side(before, after), context)
        }
    };
    let report = report::build(&run, server_side, context);
    write_outputs(&report, &run, &options.out)?;
    Ok(report)
}

/// Settings the child server gets on top of the world's: enough room for every call, a message
/// rate that allows a time-lapse, and the listening settings the report names.
fn child_settings(options: &BenchOptions) -> Vec<(&'static str, String)> {
    let messages_per_sec = (60.0 * options.speed.max(WARM_UP_SPEED)).ceil().max(200.0) as u32;
    vec![
        ("SICHA_MAX_CALLS", (options.concurrency + 16).to_string()),
        (
            "SICHA_MAX_WS_MESSAGES_PER_SEC",
            messages_per_sec.to_string(),
        ),
        ("SICHA_VAD_START_MS", VAD_START_MS.to_string()),
        ("SICHA_VAD_HANGOVER_MS", VAD_HANGOVER_MS.to_string()),
        (
            "SICHA_EAGER_STT_MS",
            if options.eager {
                EAGER_STT_MS.to_string()
            } else {
                "off".to_string()
            },
        ),
        // Warnings, and the server's own account of starting and stopping.
        ("SICHA_LOG", "warn,sicha::startup=info".to_string()),
    ]
}

fn plan(options: &BenchOptions, server: Url, auth_token: Option<String>, to: &str) -> CallPlan {
    CallPlan {
        server,
        auth_token,
        to: to.to_string(),
        calls: options.calls,
        concurrency: options.concurrency,
        ramp: options.ramp,
        speed: options.speed,
        answer_timeout: options.answer_timeout,
    }
}

#[allow(clippy::too_many_arguments)]
fn context(
    options: &BenchOptions,
    target: &str,
    server_url: String,
    profile: Option<String>,
    vad: VadSettings,
    scenarios: &ScenarioSet,
    open_files_limit: (u64, u64),
    started_at_unix_ms: i64,
) -> RunContext {
    RunContext {
        target: target.to_string(),
        server_url,
        profile,
        eager: options.eager,
        vad,
        speed: options.speed,
        concurrency: options.concurrency,
        scripts: scenarios.scripts(),
        git_commit: probe::git_commit(),
        machine: probe::machine(),
        open_files_limit,
        started_at_unix_ms,
    }
}

fn server_side(before: Option<MetricsReading>, after: Option<MetricsReading>) -> ServerSide {
    let (frames_counted, inbound_lag_ms) = match (&before, &after) {
        (Some(before), Some(after)) => (
            Some(after.frames_since(before).max(0.0) as u64),
            Some(after.lag_since(before)),
        ),
        _ => (None, None),
    };
    ServerSide {
        frames_counted,
        inbound_lag_ms,
        ..ServerSide::default()
    }
}

fn progress_bar(options: &BenchOptions) -> ProgressBar {
    if !options.show_progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(options.calls as u64);
    let style =
        ProgressStyle::with_template("{bar:40} {pos}/{len} calls  {msg}  [{elapsed_precise}]")
            .expect("a valid template");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// A server that has been up a while has its greeting and fixed phrases synthesised; the bench's
/// has just started, so it waits for that warm-up: one unmeasured call that only hears the
/// greeting, then until speech requests stop coming.
async fn wait_for_warm_up(world: &SimWorld, plan: &CallPlan) {
    use crate::sim::caller::{CallerOptions, new_call_sid, run_call};
    use crate::sim::openai::SimEndpoint;
    let listen_only = Scenario {
        name: "warm-up".into(),
        lines: Vec::new(),
        transcripts: Vec::new(),
        chat_rules: Vec::new(),
    };
    let mut options = CallerOptions::new(
        plan.server.clone(),
        &new_call_sid(),
        demo_business::CALLER,
        &plan.to,
    );
    options.auth_token = plan.auth_token.clone();
    options.speed = WARM_UP_SPEED;
    world
        .twilio
        .add_call(&options.call_sid, &options.from, &options.to);
    if let Err(error) = run_call(&options, &listen_only, None).await {
        tracing::warn!(%error, "the warm-up call failed");
    }
    let deadline = tokio::time::Instant::now() + WARM_WAIT;
    let mut seen = world.openai.count(SimEndpoint::Speech);
    let mut quiet_since = tokio::time::Instant::now();
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = world.openai.count(SimEndpoint::Speech);
        if now != seen {
            seen = now;
            quiet_since = tokio::time::Instant::now();
        } else if quiet_since.elapsed() >= WARM_QUIET {
            return;
        }
    }
}

/// Waits (bounded) until the server has marked every call ended, so its CPU and records are complete.
async fn settle(database_url: &str, run: &RunOutcome) {
    let store = match Store::connect(database_url).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!(
                "warning: could not open the server's database to see its calls end: {error}"
            );
            return;
        }
    };
    let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
    for call in run.calls.iter().filter(|c| c.trace.is_ok()) {
        loop {
            let ended = store
                .call_by_sid(&call.call_sid)
                .await
                .ok()
                .flatten()
                .is_some_and(|c| c.ended_at_ms.is_some());
            if ended || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    store.close().await;
}

async fn read_turns(
    database_url: &str,
    run: &RunOutcome,
) -> Result<HashMap<String, Vec<crate::store::Turn>>, BenchError> {
    let store = Store::connect(database_url).await?;
    let mut turns = HashMap::new();
    for call in &run.calls {
        turns.insert(
            call.call_sid.clone(),
            store.turns_for_call(&call.call_sid).await?,
        );
    }
    store.close().await;
    Ok(turns)
}

/// report.json and the plots.
fn write_outputs(report: &BenchReport, run: &RunOutcome, out: &Path) -> Result<(), BenchError> {
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
