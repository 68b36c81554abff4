//! `sicha bench`: whole-call latency, per-stage breakdown and capacity. N simulated Twilio callers,
//! C at a time, play the fixtures' scripts against a real sicha server — by default one the bench
//! starts as a child process with simulated providers, so its CPU and memory can be read apart from
//! the callers' — and the run is written out as `report.json`, a terminal table and two SVG plots.
//!
//! - [`scenarios`] what the callers say, one call in four barging in.
//! - [`levers`] the child server's settings a run measures (STT, preemptive replies, end of turn,
//!   eager threshold, hangover).
//! - [`child`] a run against the child server: stand-ins, warm-up, the server's records after.
//! - [`target`] the child server: started, watched through `/proc`, stopped with SIGTERM.
//! - [`pinning`] `--server-cpus`: the server and the bench on separate CPUs.
//! - [`runner`] the calls, C at a time, with a progress bar.
//! - [`scrape`] frames counted and inbound lag, from the server's `/metrics`.
//! - [`probe`] `/proc`: process CPU and memory, the machine, the open-file limit.
//! - [`stats`], [`report`], [`table`], [`plot`], [`output`] the results.

mod child;
pub mod levers;
mod output;
pub mod pinning;
pub mod plot;
pub mod probe;
pub mod report;
pub mod runner;
pub mod scenarios;
pub mod scrape;
pub mod stats;
pub mod table;
pub mod target;

use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use url::Url;

use levers::Levers;
use report::{BenchReport, RunContext, ServerSide, VadSettings};
use runner::CallPlan;
use scenarios::ScenarioSet;
use scrape::{MetricsReading, read_metrics};

/// Eager transcription's threshold when the bench turns it on (and `--eager-ms` does not say).
pub const EAGER_STT_MS: u32 = 150;
/// The server's listening defaults, which the child server is given explicitly (a profile may
/// imply another hangover, see [`levers::implied_hangover_ms`]).
pub const VAD_START_MS: u32 = 120;
pub const VAD_HANGOVER_MS: u32 = 600;

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
        source: crate::scenario::ScenarioError,
    },
    #[error("no labelled fixtures (*.wav with a .json beside it) in {0}")]
    NoFixtures(String),
    #[error("the server exited before it was ready (exit code {0:?}); see server.log")]
    ServerExited(Option<i32>),
    #[error("the server was not ready within {0:?}; see server.log")]
    NotReady(Duration),
    #[error("the server's database: {0}")]
    Store(#[from] sicha::store::StoreError),
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
    Child {
        exe: PathBuf,
        /// `--server-cpus`: the server runs on these, the bench on the rest.
        server_cpus: Option<Vec<usize>>,
    },
    /// A running sicha; its provider stage times and process figures are not readable.
    Remote {
        url: Url,
        auth_token: Option<String>,
        /// Its `SICHA_METRICS_TOKEN`, to read `/metrics`.
        metrics_token: Option<String>,
        to: String,
    },
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub calls: usize,
    pub concurrency: usize,
    pub fixtures: PathBuf,
    pub profile_name: String,
    /// Applied to the bench's own server only; a remote server has its own.
    pub levers: Levers,
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
    let started_at_unix_ms = sicha::clock::now_ms();
    // Read before `--server-cpus` narrows what this process may use.
    let machine = probe::machine();
    let progress = progress_bar(options);
    let (run, server_side, served) = match &options.target {
        Target::Child { exe, server_cpus } => {
            child::run(options, exe, server_cpus.as_deref(), &scenarios, &progress).await?
        }
        Target::Remote {
            url,
            auth_token,
            metrics_token,
            to,
        } => {
            let http = reqwest::Client::new();
            let plan = plan(options, url.clone(), auth_token.clone(), to);
            let before = read_metrics(&http, url, metrics_token.as_deref()).await;
            let run = runner::run_calls(&plan, &scenarios, None, &progress).await;
            progress.finish_and_clear();
            let after = read_metrics(&http, url, metrics_token.as_deref()).await;
            let served = Served {
                target: "remote",
                url: url.to_string(),
                profile: None,
                levers: None,
                cpus: None,
                vad: VadSettings {
                    start_ms: None,
                    hangover_ms: None,
                    eager_stt_ms: None,
                },
            };
            (run, server_side(before, after), served)
        }
    };
    let context = context(
        options,
        served,
        &scenarios,
        machine,
        open_files_limit,
        started_at_unix_ms,
    );
    let report = report::build(&run, server_side, context);
    output::write(&report, &run, &options.out)?;
    Ok(report)
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

/// What the run knows of the server it called.
struct Served {
    /// `child` or `remote`.
    target: &'static str,
    url: String,
    profile: Option<String>,
    /// As the server applies them; `None` for a remote server.
    levers: Option<Levers>,
    /// The CPUs each side ran on, when split.
    cpus: Option<pinning::CpuSplit>,
    vad: VadSettings,
}

fn context(
    options: &BenchOptions,
    served: Served,
    scenarios: &ScenarioSet,
    machine: probe::Machine,
    open_files_limit: (u64, u64),
    started_at_unix_ms: i64,
) -> RunContext {
    RunContext {
        target: served.target.to_string(),
        server_url: served.url,
        profile: served.profile,
        eager: options.levers.eager_stt_ms.is_some(),
        levers: served.levers,
        vad: served.vad,
        speed: options.speed,
        concurrency: options.concurrency,
        scripts: scenarios.scripts(),
        git_commit: probe::git_commit(),
        machine,
        cpus: served.cpus,
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
