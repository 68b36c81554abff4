//! The outbox worker: one task that claims due deliveries, delivers them, and records the result.
//!
//! Concurrency:
//! - The task is spawned by [`OutboxWorker::spawn`]; the caller owns its `JoinHandle` and stops it
//!   with the `CancellationToken` it passed in. Dropping the handle detaches the task, which then
//!   runs until that token is cancelled.
//! - [`OutboxNotifier`] (a shared `Notify`, cloned by producers) wakes the task early. A notify
//!   while it is busy is remembered as one permit, so a fresh enqueue is never missed.
//! - Each delivery runs as a task of its own in the worker's `JoinSet`, at most `in_flight` at
//!   once, each attempt bounded by its deliverer's timeout. The worker claims due rows whenever a
//!   slot is free (woken by a finished delivery, a notify or its timer), so a receiver that hangs
//!   holds only its own row and its slot, never a row that comes due meanwhile. On shutdown the
//!   deliveries in flight get `in_flight_grace` to finish; whatever is still running is then
//!   aborted, which cancels its request. An abandoned item keeps its lease and comes due again
//!   when the lease ends, here or on another instance: at least once. The CRM receiver may see a
//!   repeat (same idempotency key); an SMS attempt after the first asks Twilio whether the text is
//!   already there before sending it.
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

use tokio::sync::{Notify, broadcast};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::{
    CallbackRequest, CrmInteraction, Deliverers, DeliveryFailure, DeliveryOutcome, DeliveryReport,
    Handover, KIND_CALLBACK, KIND_CRM_WEBHOOK, KIND_SMS, SmsMessage,
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
            callback = self.deliverers.callback.is_some(),
            "outbox worker started"
        );
        let this = Arc::new(self);
        let slots = usize::try_from(this.options.in_flight.max(1)).unwrap_or(1);
        let mut in_flight: JoinSet<DeliveryOutcome> = JoinSet::new();
        // The earliest retry this worker scheduled and has not yet claimed again. Kept across
        // claims: a wake-up that claims nothing (a stale notify) must not forget it.
        let mut next_retry_at_ms: Option<i64> = None;
        loop {
            let free = slots.saturating_sub(in_flight.len());
            if free > 0 {
                let claim_started_ms = clock::now_ms();
                let items = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break,
                    items = this.claim(claim_started_ms, free as i64) => items,
                };
                for item in items {
                    let worker = this.clone();
                    in_flight.spawn(async move { worker.handle(item).await });
                }
                this.report_pending().await;
                // A retry due before this claim started was claimable by it (here or elsewhere).
                next_retry_at_ms = next_retry_at_ms.filter(|at_ms| *at_ms > claim_started_ms);
            }
            // Wait for a reason to look again: a slot freed, a notify, a retry due, the poll. With
            // every slot taken only a freed slot helps, so a retry already due must not spin us.
            let retry_due = next_retry_at_ms.filter(|_| in_flight.len() < slots);
            let sleep = retry_due.map_or(this.options.poll_interval, |at_ms| {
                let wait = u64::try_from(at_ms - clock::now_ms()).unwrap_or(0);
                Duration::from_millis(wait).min(this.options.poll_interval)
            });
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    match done {
                        Ok(outcome) => {
                            next_retry_at_ms = earliest(next_retry_at_ms, retry_at(&outcome));
                        }
                        // Its lease brings the row back.
                        Err(error) => tracing::error!(%error, "outbox: a delivery task failed"),
                    }
                }
                () = this.wake.0.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        // Let the deliveries in flight finish briefly; past the grace their leases bring them back.
        let _ = tokio::time::timeout(this.options.in_flight_grace, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        in_flight.shutdown().await;
        tracing::info!("outbox worker stopped");
    }

    /// Claims up to `limit` rows due at `now_ms`; none when the store cannot be reached.
    async fn claim(&self, now_ms: i64, limit: i64) -> Vec<OutboxItem> {
        let lease_ms = duration_ms(self.policy.lease);
        match self.store.claim_due(now_ms, limit, lease_ms).await {
            Ok(items) => items,
            Err(error) => {
                tracing::warn!(%error, "outbox: cannot claim due deliveries");
                Vec::new()
            }
        }
    }

    /// Delivers one claimed item and records the result; never fails (errors become outcomes).
    async fn handle(&self, item: OutboxItem) -> DeliveryOutcome {
        let (outcome, reference) = match self.deliver(&item).await {
            Ok(Handover::Delivered(reference)) => (DeliveryOutcome::Delivered, reference),
            Ok(Handover::Awaiting {
                reference,
                until_ms,
            }) => (DeliveryOutcome::Awaiting { until_ms }, Some(reference)),
            Ok(Handover::NotYet { at_ms, reason }) => {
                (DeliveryOutcome::Deferred { at_ms, reason }, None)
            }
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

    /// One attempt.
    async fn deliver(&self, item: &OutboxItem) -> Result<Handover, DeliveryFailure> {
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
                Ok(Handover::Delivered(None))
            }
            KIND_SMS => {
                let sms = self.deliverers.sms.as_ref().ok_or_else(not_configured)?;
                let message: SmsMessage =
                    serde_json::from_value(item.payload.clone()).map_err(undecodable)?;
                sms.deliver(&message, item).await.map(Handover::Delivered)
            }
            KIND_CALLBACK => {
                let placer = self
                    .deliverers
                    .callback
                    .as_ref()
                    .ok_or_else(not_configured)?;
                let request: CallbackRequest =
                    serde_json::from_value(item.payload.clone()).map_err(undecodable)?;
                placer.deliver(&request, item).await
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
            DeliveryOutcome::Awaiting { until_ms } => {
                let reference = reference.as_deref().unwrap_or("-");
                tracing::info!(id = %item.id, kind = %item.kind, attempt = item.attempts,
                    reference, until_ms, "outbox: handed over; awaiting the result");
                let note = format!(
                    "attempt {}: {reference}, awaiting its result",
                    item.attempts
                );
                // The claim's attempt and lease end tell its row from one a result already settled.
                self.store.await_outcome(item, &note, *until_ms).await
            }
            DeliveryOutcome::Deferred { at_ms, reason } => {
                tracing::info!(id = %item.id, kind = %item.kind, at_ms, %reason,
                    "outbox: not attempted yet");
                self.store.defer(item, reason, *at_ms).await
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

/// When a row this worker handled comes due again (a failure's retry, a deferred row, a result
/// that may never come).
fn retry_at(outcome: &DeliveryOutcome) -> Option<i64> {
    match outcome {
        DeliveryOutcome::WillRetry { at_ms, .. } | DeliveryOutcome::Deferred { at_ms, .. } => {
            Some(*at_ms)
        }
        DeliveryOutcome::Awaiting { until_ms } => Some(*until_ms),
        DeliveryOutcome::Delivered | DeliveryOutcome::GaveUp { .. } => None,
    }
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.into_iter().chain(b).min()
}

/// Known kinds only, so a corrupt row cannot grow the metric's label set.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        KIND_CRM_WEBHOOK => KIND_CRM_WEBHOOK,
        KIND_SMS => KIND_SMS,
        KIND_CALLBACK => KIND_CALLBACK,
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
        assert_eq!(kind_label("callback"), "callback");
        assert_eq!(kind_label("fax"), "unknown");
    }
}
