//! `sicha calls …`: list calls, or show one with its events and transcript.
//!
//! Transcript lines are Hebrew: each is printed alone on its line with its label (speaker, times)
//! on the line before, so the terminal's bidi lays it out right to left without mixing in labels.

use std::io::Write;

use anyhow::bail;

use super::business::e164;
use crate::clock;
use crate::store::events::AGENT_SPEAKING;
use crate::store::{Call, CallFilter, CallStatus, Event, Store, Turn};

#[derive(Debug, clap::Subcommand)]
pub enum CallsCommand {
    /// List calls, newest first.
    List {
        /// Only calls to this business number, E.164.
        #[arg(long, value_name = "NUMBER", value_parser = e164)]
        business: Option<String>,
        /// Only calls in this state.
        #[arg(long, value_parser = call_status)]
        status: Option<CallStatus>,
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
    },
    /// Show one call: details, events with times, and the transcript.
    Show {
        #[arg(value_name = "CALLSID")]
        call_sid: String,
    },
}

fn call_status(text: &str) -> Result<CallStatus, String> {
    text.parse().map_err(|_| {
        let known: Vec<&str> = CallStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("expected one of {}", known.join(", "))
    })
}

pub async fn run(cmd: CallsCommand, store: &Store, out: &mut impl Write) -> anyhow::Result<()> {
    match cmd {
        CallsCommand::List {
            business,
            status,
            limit,
        } => {
            let calls = store
                .list_calls(&CallFilter {
                    business_number: business,
                    status,
                    limit,
                })
                .await?;
            list(&calls, out)
        }
        CallsCommand::Show { call_sid } => {
            let Some(call) = store.call_by_sid(&call_sid).await? else {
                bail!("no call {call_sid}")
            };
            let business = match &call.business_id {
                Some(id) => store.business_by_id(id).await?,
                None => None,
            };
            let mut events = store.events_for_call(&call_sid).await?;
            // The sentences sent to the line are in the transcript; their events are for crash recovery.
            events.retain(|event| event.kind != AGENT_SPEAKING);
            let turns = store.turns_for_call(&call_sid).await?;
            show_call(&call, business.as_ref().map(|b| b.name.as_str()), out)?;
            show_events(&call, &events, out)?;
            show_transcript(&call, &turns, out)
        }
    }
}

fn list(calls: &[Call], out: &mut impl Write) -> anyhow::Result<()> {
    if calls.is_empty() {
        writeln!(out, "no calls")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<19}  {:<34}  {:<16}  {:<16}  {:<11}  {:>7}  END",
        "STARTED (UTC)", "CALLSID", "FROM", "TO", "STATUS", "LENGTH"
    )?;
    for call in calls {
        let length = match call.ended_at_ms {
            Some(ended) => minutes_seconds(ended - call.started_at_ms),
            None => "-".to_string(),
        };
        writeln!(
            out,
            "{:<19}  {:<34}  {:<16}  {:<16}  {:<11}  {:>7}  {}",
            utc_to_the_second(call.started_at_ms),
            call.call_sid,
            call.from_number,
            call.to_number,
            call.status.as_str(),
            length,
            call.end_reason.as_deref().unwrap_or("-"),
        )?;
    }
    Ok(())
}

fn show_call(call: &Call, business_name: Option<&str>, out: &mut impl Write) -> anyhow::Result<()> {
    let since_start = |at: i64| format!("{} ({})", format_utc(at), offset(at - call.started_at_ms));
    writeln!(out, "call {}", call.call_sid)?;
    writeln!(out, "from:      {}", call.from_number)?;
    writeln!(out, "to:        {}", call.to_number)?;
    writeln!(out, "direction: {}", call.direction)?;
    if let Some(parent) = &call.parent_call_sid {
        writeln!(out, "call-back of: {parent}")?;
    }
    writeln!(out, "status:    {}", call.status)?;
    if let Some(reason) = &call.end_reason {
        writeln!(out, "ended by:  {reason}")?;
    }
    writeln!(out, "started:   {}", format_utc(call.started_at_ms))?;
    if let Some(at) = call.stream_started_at_ms {
        writeln!(out, "streaming: {}", since_start(at))?;
    }
    if let Some(at) = call.ended_at_ms {
        writeln!(out, "ended:     {}", since_start(at))?;
    }
    if let Some(status) = &call.twilio_status {
        let duration = call
            .twilio_duration_secs
            .map(|s| format!(", {s} s"))
            .unwrap_or_default();
        writeln!(out, "twilio:    {status}{duration}")?;
    }
    writeln!(out, "instance:  {}", call.instance_id)?;
    if let Some(path) = &call.recording_path {
        writeln!(out, "recording: {path}")?;
    }
    if let Some(name) = business_name {
        writeln!(out, "business:")?;
        writeln!(out, "{name}")?;
    }
    Ok(())
}

fn show_events(call: &Call, events: &[Event], out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out)?;
    writeln!(out, "events ({})", events.len())?;
    for event in events {
        let detail = event
            .detail
            .as_ref()
            .map(|d| format!("  {d}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:>10}  {}{detail}",
            offset(event.at_ms - call.started_at_ms),
            event.kind
        )?;
    }
    Ok(())
}

fn show_transcript(call: &Call, turns: &[Turn], out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out)?;
    writeln!(out, "transcript ({} turns)", turns.len())?;
    for turn in turns {
        writeln!(out)?;
        let mut label = format!(
            "#{} {} {}",
            turn.seq,
            turn.role,
            offset(turn.started_at_ms - call.started_at_ms)
        );
        for (name, value) in [
            ("endpoint", turn.endpoint_ms),
            ("stt", turn.stt_ms),
            ("llm first token", turn.llm_ttft_ms),
            ("llm first sentence", turn.llm_first_sentence_ms),
            ("tts first audio", turn.tts_ttfb_ms),
            ("voice to voice", turn.v2v_ms),
        ] {
            if let Some(ms) = value {
                label.push_str(&format!(", {name} {ms} ms"));
            }
        }
        if turn.interrupted {
            label.push_str(" [INTERRUPTED]");
        }
        writeln!(out, "{label}")?;
        writeln!(out, "{}", turn.text)?;
        if let Some(heard) = &turn.heard_text {
            writeln!(out, "heard by the caller:")?;
            writeln!(out, "{heard}")?;
        }
    }
    Ok(())
}

/// `+12.345 s` after the call started (or `-…` for a clock that disagreed).
fn offset(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    let ms = ms.unsigned_abs();
    format!("{sign}{}.{:03} s", ms / 1000, ms % 1000)
}

/// `m:ss`.
fn minutes_seconds(ms: i64) -> String {
    let total = ms.max(0) / 1000;
    format!("{}:{:02}", total / 60, total % 60)
}

/// `2025-06-15 15:06:40.000 UTC` from epoch milliseconds.
pub fn format_utc(epoch_ms: i64) -> String {
    clock::format_utc(epoch_ms, "%Y-%m-%d %H:%M:%S%.3f UTC")
}

/// `2025-06-15 15:06:40`, UTC, for table columns.
fn utc_to_the_second(epoch_ms: i64) -> String {
    clock::format_utc(epoch_ms, "%Y-%m-%d %H:%M:%S")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_across_epochs_leap_days_and_year_ends() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00:00.000 UTC");
        assert_eq!(format_utc(1_709_251_199_999), "2024-02-29 23:59:59.999 UTC");
        assert_eq!(format_utc(1_735_689_599_000), "2024-12-31 23:59:59.000 UTC");
        assert_eq!(format_utc(1_750_000_000_123), "2025-06-15 15:06:40.123 UTC");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59.999 UTC");
    }

    #[test]
    fn durations_read_plainly() {
        assert_eq!(offset(1234), "+1.234 s");
        assert_eq!(offset(65), "+0.065 s");
        assert_eq!(offset(-500), "-0.500 s");
        assert_eq!(minutes_seconds(65_900), "1:05");
    }
}
