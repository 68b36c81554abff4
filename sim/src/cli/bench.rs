//! `sicha bench`: N simulated calls, C at a time, against a sicha server this command starts (or any
//! running one with `--server`); prints a table and writes report.json and plots.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use url::Url;

use crate::bench::levers::{self, EndOfTurn, Levers, Stt};
use crate::bench::pinning;
use crate::bench::{BenchOptions, EAGER_STT_MS, Target};
use crate::openai::SimProfile;
use crate::scenario::demo_business;
use sicha::cli::business::e164;

/// How long a caller waits for an answer before it goes on without one.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// The first wave's starts are spread over this much per call (10 s for 1000 calls).
const RAMP_PER_CALL: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// How many calls to place in all.
    #[arg(long, default_value_t = 10)]
    pub calls: usize,
    /// How many calls are live at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Directory of labelled fixture scripts (*.wav with a .json sidecar) the callers play in turn.
    #[arg(long, default_value = "fixtures/scripts", value_name = "DIR")]
    pub fixtures: PathBuf,
    /// Latency of the simulated providers: instant, typical, side-by-side or slow (only with the
    /// bench's own server). side-by-side also implies --hangover-ms 500.
    #[arg(long, default_value = "typical", value_parser = profile_name)]
    pub profile: String,
    /// Drive a running sicha instead of starting one; its stage times and CPU are then not known.
    #[arg(long, value_name = "URL")]
    pub server: Option<Url>,
    /// The running server's TWILIO_AUTH_TOKEN, to sign as Twilio does (with --server).
    #[arg(long, value_name = "T", requires = "server")]
    pub auth_token: Option<String>,
    /// The running server's SICHA_METRICS_TOKEN, to read its /metrics (with --server).
    #[arg(long, value_name = "T", requires = "server")]
    pub metrics_token: Option<String>,
    /// The business number to call (with --server; the bench's own server has the demo business).
    #[arg(long, default_value = demo_business::NUMBER, value_parser = e164)]
    pub to: String,
    /// Eager transcription on the bench's own server (SICHA_EAGER_STT_MS=150, the server's default) or off.
    #[arg(long, value_enum, default_value = "on")]
    pub eager: Switch,
    /// Eager transcription's threshold in ms of silence (with --eager on).
    #[arg(long, value_name = "MS", conflicts_with = "server")]
    pub eager_ms: Option<u32>,
    /// Speech to text on the bench's own server: batch uploads or the Realtime API's stream.
    #[arg(long, value_enum, default_value = "batch", conflicts_with = "server")]
    pub stt: Stt,
    /// Preemptive replies of the bench's own demo business.
    #[arg(long, value_enum, default_value = "on", conflicts_with = "server")]
    pub preemptive: Switch,
    /// How the bench's own server ends a caller's turn (hebrew needs --eager on).
    #[arg(long, value_enum, default_value = "hebrew", conflicts_with = "server")]
    pub end_of_turn: EndOfTurn,
    /// The bench's own server's hangover in ms (default 600, or the profile's: side-by-side 500).
    #[arg(long, value_name = "MS", conflicts_with = "server")]
    pub hangover_ms: Option<u32>,
    /// Where report.json, the plots and the server's log go (default target/bench/<UTC time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run the bench's own server on these CPUs (`0`, `0,2`, `0-1`) and the bench itself on the
    /// others, so the server's figures are not the callers' load.
    #[arg(long, value_name = "LIST", value_parser = pinning::parse_cpu_list, conflicts_with = "server")]
    pub server_cpus: Option<pinning::CpuList>,
    /// Seconds over which the first wave of calls starts (default 10 ms per concurrent call).
    #[arg(long, value_name = "SECS")]
    pub ramp: Option<f64>,
    /// Play calls faster than real time (tests); 1 is real time.
    #[arg(long, default_value_t = 1.0, hide = true)]
    pub speed: f64,
}

fn profile_name(name: &str) -> Result<String, String> {
    SimProfile::by_name(name)
        .map(|_| name.trim().to_ascii_lowercase())
        .ok_or_else(|| format!("expected one of {}", SimProfile::NAMES.join(", ")))
}

pub async fn run(args: BenchArgs, out: &mut impl Write) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.calls > 0 && args.concurrency > 0,
        "--calls and --concurrency must be at least 1"
    );
    anyhow::ensure!(
        args.speed.is_finite() && args.speed > 0.0,
        "--speed must be positive"
    );
    let target = match &args.server {
        Some(url) => Target::Remote {
            url: url.clone(),
            auth_token: args.auth_token.clone(),
            metrics_token: args.metrics_token.clone(),
            to: args.to.clone(),
        },
        None => Target::Child {
            exe: std::env::current_exe().context("finding the sicha executable")?,
            server_cpus: args.server_cpus.clone().map(|list| list.0),
        },
    };
    let out_dir = args.out.clone().unwrap_or_else(default_out_dir);
    let concurrency = args.concurrency.min(args.calls);
    let ramp = match args.ramp {
        Some(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Some(_) => anyhow::bail!("--ramp must be a number of seconds"),
        None => RAMP_PER_CALL * concurrency as u32,
    };
    let levers = levers_of(&args)?;
    if levers.effective() != levers && args.server.is_none() {
        writeln!(
            out,
            "note: without eager transcription the server ends turns on silence"
        )?;
    }
    let options = BenchOptions {
        calls: args.calls,
        concurrency,
        fixtures: args.fixtures,
        profile_name: args.profile,
        levers,
        target,
        out: out_dir.clone(),
        speed: args.speed,
        ramp,
        answer_timeout: ANSWER_TIMEOUT,
        show_progress: true,
    };
    writeln!(
        out,
        "sicha bench: {} calls, {} at a time; writing to {}",
        options.calls,
        options.concurrency,
        out_dir.display()
    )?;
    out.flush()?;
    let report = crate::bench::run(&options).await?;
    crate::bench::table::print(&report, out)?;
    writeln!(out)?;
    writeln!(
        out,
        "report: {}  plots: {}, {}",
        out_dir.join("report.json").display(),
        out_dir.join(crate::bench::plot::V2V_CDF_FILE).display(),
        out_dir.join(crate::bench::plot::STAGES_FILE).display()
    )?;
    if let Some((before, after)) = Some(report.context.open_files_limit).filter(|(b, a)| b != a) {
        writeln!(
            out,
            "open-file limit raised from {before} to {after} for this run"
        )?;
    }
    Ok(())
}

/// The levers the switches ask for, with the profile's hangover unless one is given.
fn levers_of(args: &BenchArgs) -> anyhow::Result<Levers> {
    let eager_stt_ms = match (args.eager, args.eager_ms) {
        (Switch::On, ms) => Some(ms.unwrap_or(EAGER_STT_MS)),
        (Switch::Off, None) => None,
        (Switch::Off, Some(_)) => anyhow::bail!("--eager-ms needs --eager on"),
    };
    let hangover_ms = args
        .hangover_ms
        .unwrap_or_else(|| levers::implied_hangover_ms(&args.profile));
    anyhow::ensure!(hangover_ms > 0, "--hangover-ms must be at least 1");
    Ok(Levers {
        stt: args.stt,
        preemptive: args.preemptive == Switch::On,
        end_of_turn: args.end_of_turn,
        eager_stt_ms,
        hangover_ms,
    })
}

/// `target/bench/20250615-150640`, in UTC.
fn default_out_dir() -> PathBuf {
    let secs = sicha::clock::now_ms().div_euclid(1000);
    let (year, month, day) = civil_date(secs.div_euclid(86_400));
    let second = secs.rem_euclid(86_400);
    PathBuf::from("target/bench").join(format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        second / 3600,
        second / 60 % 60,
        second % 60
    ))
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn levers(args: &[&str]) -> anyhow::Result<Levers> {
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))?;
        levers_of(&cli.bench)
    }

    #[test]
    fn the_levers_default_to_the_servers_and_the_profiles_hangover() {
        let defaults = levers(&[]).unwrap();
        assert_eq!(defaults, Levers::defaults_for("typical"));
        assert_eq!(defaults.eager_stt_ms, Some(EAGER_STT_MS));
        assert_eq!(
            levers(&["--profile", "side-by-side"]).unwrap().hangover_ms,
            500
        );
        let given = levers(&[
            "--profile",
            "side-by-side",
            "--hangover-ms",
            "700",
            "--eager-ms",
            "120",
            "--stt",
            "realtime",
            "--preemptive",
            "off",
            "--end-of-turn",
            "silence",
        ])
        .unwrap();
        assert_eq!(
            given,
            Levers {
                stt: Stt::Realtime,
                preemptive: false,
                end_of_turn: EndOfTurn::Silence,
                eager_stt_ms: Some(120),
                hangover_ms: 700,
            }
        );
    }

    #[test]
    fn the_servers_cpus_are_read_as_taskset_writes_them() {
        let cli = Cli::try_parse_from(["bench", "--server-cpus", "0-1,3"]).unwrap();
        assert_eq!(cli.bench.server_cpus, Some(pinning::CpuList(vec![0, 1, 3])));
        assert!(Cli::try_parse_from(["bench", "--server-cpus", "x"]).is_err());
    }

    #[test]
    fn levers_that_cannot_apply_are_refused() {
        assert!(levers(&["--eager", "off", "--eager-ms", "120"]).is_err());
        assert_eq!(
            levers(&["--eager", "off"]).unwrap().eager_stt_ms,
            None,
            "eager off"
        );
        assert!(levers(&["--hangover-ms", "0"]).is_err());
        // A running server has its own settings.
        assert!(levers(&["--server", "http://127.0.0.1:1/", "--stt", "realtime"]).is_err());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_000), (2022, 1, 8));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
    }
}
