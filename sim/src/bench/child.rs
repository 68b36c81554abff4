//! A run against the server the bench starts itself: simulated providers in the bench process, the
//! server as a child with the listening settings the report names, a warm-up call so it starts
//! measured like a server that has been up a while, and afterwards the server's own records of every call.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::ProgressBar;

use super::levers::Levers;
use super::report::{ProviderRequests, ServerSide, ServerUsage, VadSettings};
use super::runner::{self, CallPlan, RunOutcome};
use super::scenarios::ScenarioSet;
use super::scrape::read_metrics;
use super::target::ChildServer;
use super::{BenchError, BenchOptions, Served, VAD_START_MS};
use super::{pinning, probe};
use crate::openai::{SimEndpoint, SimProfile};
use crate::scenario::{Scenario, demo_business};
use crate::world::SimWorld;
use sicha::store::turns::TimedTurn;
use sicha::store::{Event, Store};

/// How long the bench waits for the server to finish its calls' records after the last hang-up.
const SETTLE_WAIT: Duration = Duration::from_secs(10);
/// The phrase warm-up is over when no speech request has come for this long.
const WARM_QUIET: Duration = Duration::from_millis(1500);
const WARM_WAIT: Duration = Duration::from_secs(20);
/// The warm-up call plays in a time-lapse: what it warms has to happen, not to be heard.
const WARM_UP_SPEED: f64 = 4.0;

/// Starts the stand-ins and the child server, plays the calls, and reads the server's side.
pub(super) async fn run(
    options: &BenchOptions,
    exe: &std::path::Path,
    server_cpus: Option<&[usize]>,
    scenarios: &ScenarioSet,
    progress: &ProgressBar,
) -> Result<(RunOutcome, ServerSide, Served), BenchError> {
    // Before the stand-ins start, so every thread of the bench is moved off the server's CPUs.
    let cpus = server_cpus.map(pinning::split).transpose()?;
    let http = reqwest::Client::new();
    let profile = SimProfile::by_name(&options.profile_name).unwrap_or_else(SimProfile::typical);
    let world = SimWorld::start(profile)
        .await
        .map_err(BenchError::io("the stand-ins"))?;
    for rule in Scenario::demo().chat_rules {
        world.openai.add_chat_rule(rule);
    }
    scenarios.teach(&world.openai);
    let levers = options.levers.effective();
    let extra = child_settings(options, &levers);
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let business = sicha::store::NewBusiness {
        preemptive_replies: Some(levers.preemptive),
        ..demo_business::spec()
    };
    let log = options.out.join("server.log");
    let server = ChildServer::start(
        exe,
        &world,
        &business,
        &extra,
        cpus.as_ref().map(|split| split.server.as_slice()),
        &log,
    )
    .await?;
    let plan = super::plan(
        options,
        server.url().clone(),
        Some(world.auth_token.clone()),
        demo_business::NUMBER,
    );
    wait_for_warm_up(&world, &plan, &scenarios.for_call(0)).await;
    let before = read_metrics(&http, server.url(), Some(server.metrics_token())).await;
    let usage_before = server.reading();
    let bench_before = probe::read_process(std::process::id());
    let requests_before = provider_requests(&world);
    let run = runner::run_calls(&plan, scenarios, Some(&world), progress).await;
    progress.finish_and_clear();
    let bench_cpu_secs = bench_before
        .zip(probe::read_process(std::process::id()))
        .map(|(before, after)| after.cpu_secs_since(&before));
    settle(server.database_url(), &run).await;
    let requests = provider_requests(&world).since(requests_before);
    let after = read_metrics(&http, server.url(), Some(server.metrics_token())).await;
    let usage_after = server.reading();
    if before.is_none() || after.is_none() || usage_after.is_none() {
        eprintln!(
            "warning: the server's /metrics or /proc could not be read after the run; see server.log"
        );
    }
    let usage = usage_before
        .zip(usage_after)
        .map(|(before, after)| ServerUsage {
            cpu_secs: after.cpu_secs_since(&before),
            rss_kb_before: before.rss_kb,
            rss_kb_peak: after.peak_rss_kb,
        });
    let url = server.url().to_string();
    let database_url = server.database_url().to_string();
    let scratch = server.stop().await?;
    let (turns, events) = read_records(&database_url, &run).await?;
    drop(scratch);
    let mut side = super::server_side(before, after);
    side.events = Some(events);
    side.turns = Some(turns);
    side.provider_requests = Some(requests);
    side.usage = usage;
    side.bench_cpu_secs = bench_cpu_secs;
    let served = Served {
        target: "child",
        url,
        profile: Some(options.profile_name.clone()),
        levers: Some(levers),
        cpus,
        vad: VadSettings {
            start_ms: Some(VAD_START_MS),
            hangover_ms: Some(levers.hangover_ms),
            eager_stt_ms: levers.eager_stt_ms,
        },
    };
    Ok((run, side, served))
}

/// Settings the child server gets on top of the world's: enough room for every call, a message
/// rate that allows a time-lapse, and the listening settings and levers the report names.
fn child_settings(options: &BenchOptions, levers: &Levers) -> Vec<(&'static str, String)> {
    let messages_per_sec = (60.0 * options.speed.max(WARM_UP_SPEED)).ceil().max(200.0) as u32;
    let mut settings = vec![
        ("SICHA_MAX_CALLS", (options.concurrency + 16).to_string()),
        (
            "SICHA_MAX_WS_MESSAGES_PER_SEC",
            messages_per_sec.to_string(),
        ),
        ("SICHA_VAD_START_MS", VAD_START_MS.to_string()),
        // Warnings, and the server's own account of starting and stopping.
        ("SICHA_LOG", "warn,sicha::startup=info".to_string()),
    ];
    settings.extend(levers.child_settings());
    settings
}

/// A server that has been up a while has taken calls: its greeting and fixed phrases are
/// synthesised, its connections to the providers and its database are open, its allocator's heaps
/// have grown. The bench's has just started, so it first takes one unmeasured call of the first
/// script in a time-lapse, then waits until speech requests stop coming. The memory that first call
/// leaves behind is the server's, not any later call's.
async fn wait_for_warm_up(world: &SimWorld, plan: &CallPlan, scenario: &Scenario) {
    use crate::caller::{CallerOptions, new_call_sid, run_call};
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
    if let Err(error) = run_call(&options, scenario, None).await {
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

/// Every call's turns and events, by CallSid.
async fn read_records(database_url: &str, run: &RunOutcome) -> Result<Records, BenchError> {
    let store = Store::connect(database_url).await?;
    let mut turns = HashMap::new();
    let mut events = HashMap::new();
    for call in &run.calls {
        let sid = &call.call_sid;
        turns.insert(sid.clone(), store.timed_turns_for_call(sid).await?);
        events.insert(sid.clone(), store.events_for_call(sid).await?);
    }
    store.close().await;
    Ok((turns, events))
}

type Records = (HashMap<String, Vec<TimedTurn>>, HashMap<String, Vec<Event>>);

/// What the stand-ins have served so far, by endpoint.
fn provider_requests(world: &SimWorld) -> ProviderRequests {
    let count = |endpoint| world.openai.count(endpoint) as u64;
    ProviderRequests {
        transcriptions: count(SimEndpoint::Transcriptions),
        realtime_commits: count(SimEndpoint::RealtimeCommit),
        chat: count(SimEndpoint::ChatCompletions),
        speech: count(SimEndpoint::Speech),
        cancelled_streams: world.openai.cancelled_streams() as u64,
    }
}
