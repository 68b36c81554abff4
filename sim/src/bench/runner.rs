//! Runs the calls: `calls` simulated Twilio callers, at most `concurrency` at a time, each playing
//! a scenario over the real protocol and returning its trace. The first wave's starts are spread
//! over a ramp, as real calls do not all ring in the same millisecond (and so their 20 ms frame
//! clocks do not all tick at once); each later call starts as soon as one ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::ProgressBar;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use super::scenarios::ScenarioSet;
use crate::caller::{CallTrace, CallerOptions, new_call_sid, run_call};
use crate::world::SimWorld;

/// Where and how the calls are placed.
#[derive(Debug, Clone)]
pub struct CallPlan {
    pub server: Url,
    pub auth_token: Option<String>,
    /// The business number dialled.
    pub to: String,
    pub calls: usize,
    pub concurrency: usize,
    /// The first wave's starts are spread evenly over this.
    pub ramp: Duration,
    /// 1.0 is real time; above it, a time-lapse (tests).
    pub speed: f64,
    pub answer_timeout: Duration,
}

/// One call's result.
#[derive(Debug)]
pub struct CallOutcome {
    pub call_sid: String,
    pub scenario: String,
    /// The trace, or why the call failed.
    pub trace: Result<CallTrace, String>,
    /// How long the call lasted, webhook to hang-up.
    pub duration: Duration,
    /// The wall clock when the call was placed, in ms since the Unix epoch: the trace's times are
    /// after this, and the server's records are on this clock.
    pub placed_at_unix_ms: f64,
}

/// All calls' results, with how many were live at once.
#[derive(Debug)]
pub struct RunOutcome {
    pub calls: Vec<CallOutcome>,
    pub wall: Duration,
    pub live_peak: usize,
    /// The time-average of live calls over the run: Σ call durations / wall time.
    pub live_mean: f64,
}

/// Counts live calls for the progress bar and the peak.
#[derive(Default)]
struct Live {
    now: AtomicUsize,
    peak: AtomicUsize,
    errors: AtomicUsize,
}

/// Plays `plan.calls` calls, each the scenario `scenarios` picks for it. With `world`, the call is
/// known to the Twilio stand-in and its lines to the speech-to-text stand-in, which hears each
/// upload by its audio: a queue of transcripts shared by concurrent calls would hand one call's
/// lines to another.
pub async fn run_calls(
    plan: &CallPlan,
    scenarios: &ScenarioSet,
    world: Option<&SimWorld>,
    progress: &ProgressBar,
) -> RunOutcome {
    let started = Instant::now();
    let concurrency = plan.concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let live = Arc::new(Live::default());
    let mut tasks = Vec::with_capacity(plan.calls);
    for index in 0..plan.calls {
        let scenario = scenarios.for_call(index);
        let options = caller_options(plan, index);
        if let Some(world) = world {
            world
                .twilio
                .add_call(&options.call_sid, &options.from, &options.to);
        }
        let delay = if index < concurrency {
            plan.ramp.mul_f64(index as f64 / concurrency as f64)
        } else {
            Duration::ZERO
        };
        let (permits, live, progress) = (permits.clone(), live.clone(), progress.clone());
        // One task per call, so calls run on every core; each holds a permit while it plays.
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _permit = permits.acquire_owned().await.expect("never closed");
            let now_live = live.now.fetch_add(1, Ordering::SeqCst) + 1;
            live.peak.fetch_max(now_live, Ordering::SeqCst);
            let call_started = Instant::now();
            let placed_at_unix_ms = unix_ms_now();
            let trace = run_call(&options, &scenario, None)
                .await
                .map_err(|e| e.to_string());
            let duration = call_started.elapsed();
            live.now.fetch_sub(1, Ordering::SeqCst);
            if trace.is_err() {
                live.errors.fetch_add(1, Ordering::SeqCst);
            }
            progress.inc(1);
            progress.set_message(format!(
                "{} live, {} failed",
                live.now.load(Ordering::SeqCst),
                live.errors.load(Ordering::SeqCst)
            ));
            CallOutcome {
                call_sid: options.call_sid,
                scenario: scenario.name.clone(),
                trace,
                duration,
                placed_at_unix_ms,
            }
        }));
    }
    let mut calls = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(outcome) => calls.push(outcome),
            Err(error) => calls.push(CallOutcome {
                call_sid: String::new(),
                scenario: String::new(),
                trace: Err(format!("the call task failed: {error}")),
                duration: Duration::ZERO,
                placed_at_unix_ms: 0.0,
            }),
        }
    }
    let wall = started.elapsed();
    let busy: f64 = calls.iter().map(|c| c.duration.as_secs_f64()).sum();
    RunOutcome {
        calls,
        wall,
        live_peak: live.peak.load(Ordering::SeqCst),
        live_mean: busy / wall.as_secs_f64().max(f64::EPSILON),
    }
}

/// Call `index`'s caller: its own CallSid and caller number, so every call has its own customer.
fn caller_options(plan: &CallPlan, index: usize) -> CallerOptions {
    let from = format!("+97254{:07}", index % 10_000_000);
    let mut options = CallerOptions::new(plan.server.clone(), &new_call_sid(), &from, &plan.to);
    options.auth_token = plan.auth_token.clone();
    options.speed = plan.speed;
    options.answer_timeout = plan.answer_timeout;
    options.keep_audio = false;
    options
}

/// The wall clock now, in fractional ms since the Unix epoch.
fn unix_ms_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Media frames the caller sent, over every trace.
pub fn frames_sent(calls: &[CallOutcome]) -> u64 {
    calls
        .iter()
        .filter_map(|c| c.trace.as_ref().ok())
        .map(|t| t.frames.len() as u64)
        .sum()
}
