//! The outbox worker: one task that claims due deliveries, delivers them, and records the result.
//!
//! Concurrency:
//! - The task is spawned by [`OutboxWorker::spawn`]; the caller owns its `JoinHandle` and stops it
//!   with the `CancellationToken` it passed in. Dropping the handle detaches the task, which then
//!   runs until that token is cancelled.
//! - [`OutboxNotifier`] (a shared `Notify`, cloned by producers) wakes the task early. A notify
//!   while it is busy is remembered as one permit, so a fresh enqueue is never missed.
//! - A claimed batch is delivered concurrently within the task (no extra tasks), each attempt
//!   bounded by its deliverer's timeout. On shutdown the batch gets `in_flight_grace` to finish;
//!   whatever is still running is then dropped, which cancels its request. An abandoned item
//!   keeps its lease and comes due again when the lease ends, here or on another instance: at
//!   least once. The CRM receiver may see a repeat (same idempotency key); an SMS attempt after
//!   the first asks Twilio whether the text is already there before sending it.
//! - Many workers, in one process or many, may share a database: a claim's lease keeps others
//!   off an item until it ends, so the lease must outlast one attempt (see [`RetryPolicy`]).
//!
//! A kind with no deliverer configured here (or a payload that no longer decodes) is given up at
//! once, with a clear error, rather than left pending: producers only queue what is configured,
//! so such a row means the configuration changed or a bug, and a pending row would be claimed and
//! pushed back on every pass forever. The dead row keeps its payload for an operator to requeue.

mod policy;

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    CrmInteraction, Deliverers, DeliveryFailure, DeliveryOutcome, DeliveryReport, KIND_CRM_WEBHOOK,
    KIND_SMS, SmsMessage,
};
use crate::clock;
use crate::store::{OutboxItem, Store};

pub use policy::{RetryPolicy, WorkerOptions};

/// Wakes a worker so a fresh enqueue is delivered now rather than at the next poll. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OutboxNotifier(Arc<Notify>);

impl OutboxNotifier {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Delivers the outbox until shut down.
pub struct OutboxWorker {
    store: Store,
    deliverers: Deliverers,
    policy: RetryPolicy,
    options: WorkerOptions,
    wake: OutboxNotifier,
    /// Sends are ignored when nobody listens; a slow listener misses old reports, never blocks us.
    reports: broadcast::Sender<DeliveryReport>,
}

impl OutboxWorker {
    pub fn new(store: Store, deliverers: Deliverers, policy: RetryPolicy) -> Self {
        Self {
            store,
            deliverers,
            policy,
            options: WorkerOptions::default(),
            wake: OutboxNotifier::default(),
            reports: broadcast::channel(256).0,
        }
    }

    pub fn with_options(mut self, options: WorkerOptions) -> Self {
        self.options = options;
        self
    }

    /// A handle for producers; keep it before spawning.
    pub fn notifier(&self) -> OutboxNotifier {
        self.wake.clone()
    }

    /// Wakes the worker now.
    pub fn notify(&self) {
        self.wake.notify();
    }

    /// Every attempt's result from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DeliveryReport> {
        self.reports.subscribe()
    }

    /// Runs the worker until `shutdown` is cancelled (see the module notes on what happens to
    /// deliveries in flight then).
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    async fn run(self, shutdown: CancellationToken) {
        tracing::info!(
            crm = self.deliverers.crm.is_some(),
            sms = self.deliverers.sms.is_some(),
            "outbox worker started"
        );
        // The earliest retry this worker scheduled and has not yet claimed again. Kept across
        // passes: a pass woken early (a stale notify) claims nothing and must not forget it.
        let mut next_retry_at_ms: Option<i64> = None;
        while !shutdown.is_cancelled() {
            let pass_started_ms = clock::now_ms();
            let (claimed, scheduled) = {
                let pass = self.run_once(pass_started_ms);
                tokio::pin!(pass);
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => {
                        // Let the batch finish briefly; past the grace its leases bring it back.
                        let _ = tokio::time::timeout(self.options.in_flight_grace, &mut pass).await;
                        break;
                    }
                    done = &mut pass => done,
                }
            };
            self.report_pending().await;
            // A retry due before this pass started was claimable by it (here or elsewhere).
            next_retry_at_ms = next_retry_at_ms
                .filter(|at_ms| *at_ms > pass_started_ms)
                .into_iter()
                .chain(scheduled)
                .min();
            if claimed >= self.options.batch_size {
                // A full batch: more may be due right now.
                continue;
            }
            let sleep = next_retry_at_ms.map_or(self.options.poll_interval, |at_ms| {
                let wait = u64::try_from(at_ms - clock::now_ms()).unwrap_or(0);
                Duration::from_millis(wait).min(self.options.poll_interval)
            });
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.0.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// One pass: claim a batch due at `now_ms` and deliver it. Returns how many were claimed and
    /// when the earliest retry this pass scheduled is due, so the task sleeps just that long.
    async fn run_once(&self, now_ms: i64) -> (i64, Option<i64>) {
        let lease_ms = duration_ms(self.policy.lease);
        let items = match self
            .store
            .claim_due(now_ms, self.options.batch_size, lease_ms)
            .await
        {
            Ok(items) => items,
            Err(error) => {
                tracing::warn!(%error, "outbox: cannot claim due deliveries");
                return (0, None);
            }
        };
        let claimed = items.len() as i64;
        let outcomes = join_all(items.into_iter().map(|item| self.handle(item))).await;
        let next_retry_at_ms = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                DeliveryOutcome::WillRetry { at_ms, .. } => Some(*at_ms),
                _ => None,
            })
            .min();
        (claimed, next_retry_at_ms)
    }

    /// Delivers one claimed item and records the result; never fails (errors become outcomes).
    async fn handle(&self, item: OutboxItem) -> DeliveryOutcome {
        let (outcome, reference) = match self.deliver(&item).await {
            Ok(reference) => (DeliveryOutcome::Delivered, reference),
            Err(failure) => (self.after_failure(&item, failure), None),
        };
        self.record(&item, &outcome, reference).await;
        outcome
    }

    fn after_failure(&self, item: &OutboxItem, failure: DeliveryFailure) -> DeliveryOutcome {
        match failure {
            DeliveryFailure::Permanent { reason } => DeliveryOutcome::GaveUp { reason },
            DeliveryFailure::Retryable { reason, .. }
                if item.attempts >= i64::from(self.policy.max_attempts) =>
            {
                DeliveryOutcome::GaveUp {
                    reason: format!("gave up after {} attempts: {reason}", item.attempts),
                }
            }
            DeliveryFailure::Retryable {
                reason,
                retry_after,
            } => {
                let attempt = u32::try_from(item.attempts).unwrap_or(u32::MAX);
                let wait = self.policy.wait_after(attempt, retry_after);
                DeliveryOutcome::WillRetry {
                    at_ms: clock::now_ms().saturating_add(duration_ms(wait)),
                    reason,
                }
            }
        }
    }

    /// One attempt; `Ok` holds the receiver's id for what it got, when it gave one.
    async fn deliver(&self, item: &OutboxItem) -> Result<Option<String>, DeliveryFailure> {
        let undecodable = |error: serde_json::Error| {
            DeliveryFailure::permanent(format!("payload does not decode: {error}"))
        };
        let not_configured = || {
            DeliveryFailure::permanent(format!(
                "no {} deliverer is configured on this instance",
                item.kind
            ))
        };
        match item.kind.as_str() {
            KIND_CRM_WEBHOOK => {
                let crm = self.deliverers.crm.as_ref().ok_or_else(not_configured)?;
                let interaction: CrmInteraction =
                    serde_json::from_value(item.payload.clone()).map_err(undecodable)?;
                crm.deliver(&item.idempotency_key, &interaction).await?;
                Ok(None)
            }
            KIND_SMS => {
                let sms = self.deliverers.sms.as_ref().ok_or_else(not_configured)?;
                let message: SmsMessage =
                    serde_json::from_value(item.payload.clone()).map_err(undecodable)?;
                sms.deliver(&message, item).await
            }
            other => Err(DeliveryFailure::permanent(format!(
                "unknown delivery kind `{other}`"
            ))),
        }
    }

    /// Writes the outcome to the row, counts it and announces it. Payloads (phone numbers,
    /// transcripts) never reach the logs; ids, kinds and errors do.
    async fn record(
        &self,
        item: &OutboxItem,
        outcome: &DeliveryOutcome,
        reference: Option<String>,
    ) {
        let written = match outcome {
            DeliveryOutcome::Delivered => {
                tracing::info!(id = %item.id, kind = %item.kind, attempt = item.attempts,
                    reference = reference.as_deref().unwrap_or("-"), "outbox: delivered");
                self.store.mark_delivered(&item.id, clock::now_ms()).await
            }
            DeliveryOutcome::WillRetry { at_ms, reason } => {
                tracing::warn!(id = %item.id, kind = %item.kind, attempt = item.attempts,
                    retry_at_ms = at_ms, error = %reason, "outbox: delivery failed; will retry");
                self.store.mark_failed(&item.id, reason, *at_ms).await
            }
            DeliveryOutcome::GaveUp { reason } => {
                tracing::error!(id = %item.id, kind = %item.kind, attempt = item.attempts,
                    error = %reason, "outbox: delivery given up");
                self.store.give_up(&item.id, reason).await
            }
        };
        // If the row cannot be updated, its lease runs out and it is tried again: a repeat the
        // idempotency key absorbs, never a loss.
        if let Err(error) = written {
            tracing::warn!(id = %item.id, %error, "outbox: cannot record a delivery outcome");
        }
        metrics::counter!("sicha_outbox_deliveries_total",
            "kind" => kind_label(&item.kind), "outcome" => outcome.label())
        .increment(1);
        let _ = self.reports.send(DeliveryReport {
            id: item.id.clone(),
            kind: item.kind.clone(),
            idempotency_key: item.idempotency_key.clone(),
            attempt: item.attempts,
            outcome: outcome.clone(),
            reference,
        });
    }

    async fn report_pending(&self) {
        match self.store.pending_outbox_count().await {
            Ok(pending) => metrics::gauge!("sicha_outbox_pending").set(pending as f64),
            Err(error) => tracing::debug!(%error, "outbox: cannot count pending deliveries"),
        }
    }
}

/// Known kinds only, so a corrupt row cannot grow the metric's label set.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        KIND_CRM_WEBHOOK => KIND_CRM_WEBHOOK,
        KIND_SMS => KIND_SMS,
        _ => "unknown",
    }
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kinds_share_one_metric_label() {
        assert_eq!(kind_label("sms"), "sms");
        assert_eq!(kind_label("crm_webhook"), "crm_webhook");
        assert_eq!(kind_label("fax"), "unknown");
    }
}
