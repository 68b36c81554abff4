//! `sicha callbacks list`: the call-backs the agent promised, pending ones first by when they are
//! due (Israel time), with the business, the number to call, attempts so far, the last result and
//! what the call-back is about.

use std::io::Write;

use super::business::e164;
use crate::clock;
use crate::deliveries::{CallbackRequest, KIND_CALLBACK};
use crate::store::{OutboxEntry, Store};

#[derive(Debug, clap::Subcommand)]
pub enum CallbacksCommand {
    /// List promised call-backs: those still to be made, or with --all the done and given-up too.
    List {
        /// Include call-backs already answered or given up.
        #[arg(long)]
        all: bool,
        /// Only call-backs of this business number, E.164.
        #[arg(long, value_name = "NUMBER", value_parser = e164)]
        business: Option<String>,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
    },
}

pub async fn run(cmd: CallbacksCommand, store: &Store, out: &mut impl Write) -> anyhow::Result<()> {
    match cmd {
        CallbacksCommand::List {
            all,
            business,
            limit,
        } => {
            let entries = store.deliveries_of_kind(KIND_CALLBACK, all, limit).await?;
            let rows: Vec<Row> = entries
                .iter()
                .filter_map(Row::of)
                .filter(|row| business.as_deref().is_none_or(|b| row.business == b))
                .collect();
            list(&rows, all, out)
        }
    }
}

/// One call-back as the list shows it.
struct Row {
    business: String,
    customer: String,
    state: &'static str,
    /// When it is due (pending), or when it was settled.
    when: String,
    attempts: i64,
    last: String,
    parent: String,
    /// Why it was promised, and when the caller would like it.
    reason: String,
}

/// What of a reason fits the list's line.
const REASON_CHARS: usize = 40;

impl Row {
    fn of(entry: &OutboxEntry) -> Option<Row> {
        let request: CallbackRequest = serde_json::from_value(entry.item.payload.clone()).ok()?;
        let (state, when) = match entry.status.as_str() {
            "pending" => ("pending", Some(entry.item.next_attempt_at_ms)),
            "delivered" => ("answered", entry.delivered_at_ms),
            _ => ("given up", None),
        };
        Some(Row {
            reason: reason(&request),
            business: request.business_number,
            customer: request.customer_phone,
            state,
            when: when.map_or_else(|| "-".to_string(), israel_time),
            attempts: entry.item.attempts,
            last: entry.item.last_error.clone().unwrap_or_else(|| "-".into()),
            parent: request.parent_call_sid,
        })
    }
}

/// `loop`, `dtmf`, or the caller's own words with their preferred time: `צבע לשיער (מחר בבוקר)`.
fn reason(request: &CallbackRequest) -> String {
    let text = match &request.when {
        Some(when) => format!("{} ({when})", request.reason),
        None => request.reason.clone(),
    };
    // Kept to one line: the list is read a row per line.
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > REASON_CHARS {
        text.chars().take(REASON_CHARS - 1).chain(['…']).collect()
    } else {
        text
    }
}

/// `2025-06-22 09:00 IDT`: Israel's wall clock with its zone's abbreviation.
fn israel_time(epoch_ms: i64) -> String {
    clock::format_in_israel(epoch_ms, "%Y-%m-%d %H:%M %Z")
}

fn list(rows: &[Row], all: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if rows.is_empty() {
        let what = if all {
            "no call-backs"
        } else {
            "no pending call-backs"
        };
        writeln!(out, "{what}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<10}  {:<20}  {:<16}  {:<16}  {:>8}  {:<34}  {:<REASON_CHARS$}  LAST RESULT",
        "STATE", "DUE (ISRAEL)", "BUSINESS", "CUSTOMER", "ATTEMPTS", "ASKED IN CALL", "REASON"
    )?;
    for row in rows {
        writeln!(
            out,
            "{:<10}  {:<20}  {:<16}  {:<16}  {:>8}  {:<34}  {:<REASON_CHARS$}  {}",
            row.state,
            row.when,
            row.business,
            row.customer,
            row.attempts,
            row.parent,
            row.reason,
            row.last
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_are_israeli_wall_clock_with_the_zone() {
        // 2025-06-22 06:00 UTC is 09:00 summer time; 2025-12-21 07:00 UTC is 09:00 winter time.
        assert_eq!(israel_time(1_750_572_000_000), "2025-06-22 09:00 IDT");
        assert_eq!(israel_time(1_766_300_400_000), "2025-12-21 09:00 IST");
    }

    #[test]
    fn a_reason_is_one_short_line_with_the_preferred_time() {
        let mut request = CallbackRequest {
            business_id: "b1".into(),
            business_number: "+97231234567".into(),
            customer_phone: "+972501234567".into(),
            parent_call_sid: "CA1".into(),
            reason: "loop".into(),
            when: None,
            public_base: None,
        };
        assert_eq!(reason(&request), "loop");
        request.reason = "לקבוע\nצבע".into();
        request.when = Some("מחר בבוקר".into());
        assert_eq!(reason(&request), "לקבוע צבע (מחר בבוקר)");
        request.reason = "א".repeat(100);
        assert_eq!(reason(&request).chars().count(), REASON_CHARS);
        assert!(reason(&request).ends_with('…'));
    }
}
