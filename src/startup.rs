//! Building and running the app. [`Application::build`] opens the store (creating and migrating it),
//! ends the calls a crash left open with their records ([`reconcile`]), starts synthesising the agent's fixed phrases (`/readyz` waits
//! for them, up to `SICHA_WARM_UP_WAIT_SECS`), binds the listeners (port 0 picks a free one, as tests
//! do) and assembles the router; [`Application::run_until`] serves until the shutdown future resolves, then
//! shuts down in order:
//! 1. draining: new calls hear a busy message, `/readyz` says 503, live calls go on;
//! 2. live calls get up to `SICHA_SHUTDOWN_GRACE_SECS` to end by themselves;
//! 3. the rest are ended (their sessions finalise their records and close their sockets), and the
//!    record writer commits what is still queued;
//! 4. the HTTP server stops once in-flight requests finish.

mod reconcile;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use tokio_util::sync::CancellationToken;

use crate::call::Registry;
use crate::call::agent::Agent;
use crate::call::context::{CallPolicies, CallServices};
use crate::call::session::AgentMode;
use crate::cli::ServeArgs;
use crate::clock::now_ms;
use crate::config::Settings;
use crate::deliveries::Deliverers;
use crate::deliveries::worker::{OutboxWorker, RetryPolicy};
use crate::http::health::WarmUp;
use crate::http::{self, AppInner, AppState};
use crate::store::{RecordWriter, Store};
use crate::twilio::token::StreamTokenKey;

/// How the server runs, beyond settings: the command line's choices.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub allow_unsigned: bool,
    pub agent: AgentMode,
}

impl From<ServeArgs> for ServeOptions {
    fn from(args: ServeArgs) -> Self {
        Self {
            allow_unsigned: args.allow_unsigned,
            agent: args.agent,
        }
    }
}

pub struct Application {
    listener: TcpListener,
    /// `SICHA_METRICS_BIND`: `/metrics` on an address of its own.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    /// Started with the server, stopped after the last call has queued its deliveries.
    outbox: OutboxWorker,
}

impl Application {
    pub async fn build(settings: Settings, options: ServeOptions) -> anyhow::Result<Self> {
        // First of all: a handle taken from the `metrics` macros before a recorder is installed
        // records into nothing for good (the record writer's were, in a fresh process).
        let metrics = crate::telemetry::metrics_handle();
        let store = Store::connect(&settings.database_url)
            .await
            .context("opening the database")?;
        let reconciled = reconcile::end_calls_left_open(&store, &settings)
            .await
            .context("reconciling calls left open by a previous run")?;
        if reconciled > 0 {
            tracing::warn!(calls = reconciled, instance = %settings.instance_id, "calls left open by a previous run ended as interrupted");
        }
        if settings.twilio.auth_token.is_none() {
            if options.allow_unsigned {
                tracing::warn!(
                    "!!! --allow-unsigned: Twilio routes accept UNSIGNED requests. Development only; never expose this server. !!!"
                );
            } else {
                tracing::warn!(
                    "TWILIO_AUTH_TOKEN is not set: Twilio routes will answer 403 (use --allow-unsigned for local development)"
                );
            }
        }
        let token_key = stream_token_key(&settings);
        let (agent, warm_up) = match options.agent {
            AgentMode::Ai => {
                let agent = Arc::new(
                    Agent::from_settings(&settings).context("configuring the AI providers")?,
                );
                let warm_up = WarmUp::pending();
                warm_phrases(
                    &store,
                    agent.clone(),
                    warm_up.clone(),
                    settings.warm_up_wait,
                );
                (Some(agent), warm_up)
            }
            AgentMode::Echo | AgentMode::Silent => (None, WarmUp::not_needed()),
        };
        let deliverers = Deliverers::from_settings(&settings, &store)
            .context("configuring after-call deliveries")?;
        let outbox = OutboxWorker::new(store.clone(), deliverers, RetryPolicy::default());
        let outbox_notifier = outbox.notifier();
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("binding {}", settings.bind))?;
        let metrics_listener = match settings.metrics.bind {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding the metrics listener {address}"))?,
            ),
            None => None,
        };
        let calls = CallServices {
            store: store.clone(),
            records: RecordWriter::spawn(store.clone()),
            registry: Registry::with_limit(settings.limits.max_calls),
            mode: options.agent,
            agent,
            token_key,
            policies: CallPolicies::from_settings(&settings),
            outbox: Some(outbox_notifier),
        };
        let state = AppState(Arc::new(AppInner {
            store,
            calls,
            allow_unsigned: options.allow_unsigned,
            metrics,
            draining: AtomicBool::new(false),
            warm_up,
            settings,
        }));
        Ok(Self {
            listener,
            metrics_listener,
            state,
            outbox,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The metrics listener's address, when `SICHA_METRICS_BIND` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|listener| {
            listener
                .local_addr()
                .expect("a bound listener has an address")
        })
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully (see the module docs).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        tracing::info!(address = %self.local_addr(), database = %state.store.display_url(), "sicha is serving");
        // Metrics are read until the main server has stopped: shutdown itself is worth watching.
        let metrics_stop = CancellationToken::new();
        let metrics_server = self.metrics_listener.map(|listener| {
            tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "serving /metrics");
            let router = http::metrics_router(state.clone());
            let stop = metrics_stop.clone();
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
            })
        });
        // The outbox worker runs until the calls are drained; what it has not delivered by then stays
        // queued in the database for the next start (or another instance).
        let outbox_stop = CancellationToken::new();
        let outbox = self.outbox.spawn(outbox_stop.clone());
        // Used stream-token nonces are only needed while a token could still be presented.
        let pruner = prune_used_tokens(
            state.store.clone(),
            state.settings.stream_token_ttl,
            outbox_stop.clone(),
        );
        let graceful = async move {
            shutdown.await;
            drain_calls(&state).await;
            outbox_stop.cancel();
            let _ = outbox.await;
            let _ = pruner.await;
        };
        axum::serve(
            http::without_nagle(self.listener),
            http::router(self.state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(graceful)
        .await
        .context("serving HTTP")?;
        metrics_stop.cancel();
        if let Some(server) = metrics_server
            && let Ok(Err(error)) = server.await
        {
            tracing::warn!(%error, "the metrics listener failed");
        }
        tracing::info!("sicha stopped");
        Ok(())
    }
}

async fn drain_calls(state: &AppState) {
    state.draining.store(true, Ordering::Relaxed);
    let grace = state.settings.shutdown_grace;
    let live = state.calls.registry.live_calls();
    tracing::info!(
        live_calls = live,
        grace_secs = grace.as_secs(),
        "shutting down: draining live calls"
    );
    let left = state
        .calls
        .registry
        .drain(tokio::time::Instant::now() + grace)
        .await;
    if left > 0 {
        tracing::warn!(
            calls = left,
            "grace period over: ending the remaining calls"
        );
    }
    state.calls.registry.end_all();
    state.calls.registry.wait_finished().await;
    // Each call flushed its own records as it ended; this catches any written after.
    if !state.calls.records.flush(RECORDS_FINAL_WAIT).await {
        tracing::error!(
            "call records were still waiting for the database at shutdown; they are lost"
        );
    }
}

/// How long shutdown waits for the last call records to be committed.
const RECORDS_FINAL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Every few minutes, forgets used stream-token nonces older than any token could live, and ended
/// web sessions and failed sign-ins past their window. Stops with `stop` (cancelled at shutdown by
/// `run_until`).
fn prune_used_tokens(
    store: Store,
    ttl: std::time::Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = std::time::Duration::from_secs(300);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let cutoff = now_ms() - 2 * ttl.as_millis() as i64 - every.as_millis() as i64;
            match store.prune_stream_tokens(cutoff).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "old stream-token nonces pruned"),
                Err(error) => tracing::warn!(%error, "could not prune old stream-token nonces"),
            }
            crate::web::prune_expired(&store).await;
        }
    })
}

/// Synthesises the fixed phrases and every business's greeting in the background, so the first
/// caller hears the greeting at once, then looks again every minute so a greeting changed with
/// `sicha business update` (another process) is ready before its next call. Cached phrases cost
/// nothing to look at again; failures are logged and the phrase is synthesised on demand instead.
///
/// `warm_up` is finished after the first pass, so the instance reports ready only then; or after
/// `wait`, with a warning, so a TTS that hangs or is down cannot keep it out for good.
fn warm_phrases(store: &Store, agent: Arc<Agent>, warm_up: WarmUp, wait: std::time::Duration) {
    let waited = warm_up.clone();
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        if !waited.is_over() {
            tracing::warn!(
                wait_secs = wait.as_secs_f64(),
                "the fixed phrases are not all synthesised yet (the TTS is slow or failing): \
                 reporting ready anyway; an early call may wait for its greeting"
            );
            waited.finish();
        }
    });
    let store = store.clone();
    // Runs for the life of the server; it holds no call state, so it simply ends with the runtime.
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let greetings = match store.list_businesses().await {
                Ok(businesses) => businesses
                    .into_iter()
                    .map(|b| (b.greeting, b.voice))
                    .collect(),
                Err(error) => {
                    tracing::warn!(%error, "could not list businesses to warm their greetings");
                    Vec::new()
                }
            };
            let failed = agent.warm(&greetings).await;
            if first {
                warm_up.finish();
                if failed > 0 {
                    tracing::warn!(
                        failed,
                        "some phrases could not be synthesised ahead; each is tried again when needed"
                    );
                }
            }
            first = false;
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
    });
}

/// The stream token key: `SICHA_STREAM_SECRET`, else derived from the Twilio auth token (so instances
/// that share a Twilio account agree), else random for this process (development without Twilio).
fn stream_token_key(settings: &Settings) -> StreamTokenKey {
    if let Some(secret) = &settings.stream_secret {
        return StreamTokenKey::new(secret.expose().as_bytes());
    }
    if let Some(token) = &settings.twilio.auth_token {
        let mut derived = Sha256::new();
        derived.update(b"sicha stream token key v1\0");
        derived.update(token.expose().as_bytes());
        return StreamTokenKey::new(&derived.finalize());
    }
    StreamTokenKey::new(uuid::Uuid::new_v4().as_bytes())
}

/// `sicha serve`: build, then run until SIGTERM or Ctrl-C.
pub async fn serve(settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    let app = Application::build(settings, args.into()).await?;
    app.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received"),
        _ = terminate => tracing::info!("SIGTERM received"),
    }
}
