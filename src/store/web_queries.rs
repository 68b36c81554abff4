//! Read models for the web pages: calls and customers joined with the names and counts a list
//! shows, so a page is one query instead of one per row.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::customers::contains_pattern;
use super::{CallStatus, Store, StoreError};

/// Event kinds the call list can filter on. The kinds are the ones the call session records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMark {
    /// The caller spoke over the agent.
    BargeIn,
    /// A repetition loop was detected.
    Loop,
    /// A provider failed over, or the `<Say>` fallback was used.
    Fallback,
}

const BARGE_IN_KINDS: [&str; 3] = ["barge_in", "barge_in", "barge_in"];
const LOOP_KINDS: [&str; 3] = ["loop_detected", "loop_detected", "loop_detected"];
const FALLBACK_KINDS: [&str; 3] = ["tts_fallback", "fallback_say", "fallback_failed"];

impl EventMark {
    pub const ALL: [EventMark; 3] = [EventMark::BargeIn, EventMark::Loop, EventMark::Fallback];

    /// The event kinds this mark stands for, padded to three so one statement binds them all.
    fn kinds(self) -> [&'static str; 3] {
        match self {
            EventMark::BargeIn => BARGE_IN_KINDS,
            EventMark::Loop => LOOP_KINDS,
            EventMark::Fallback => FALLBACK_KINDS,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventMark::BargeIn => "barge_in",
            EventMark::Loop => "loop",
            EventMark::Fallback => "fallback",
        }
    }

    pub fn parse(text: &str) -> Option<EventMark> {
        EventMark::ALL
            .into_iter()
            .find(|mark| mark.as_str() == text)
    }
}

/// Which calls [`Store::call_summaries`] returns; every `None` matches all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallQuery {
    pub business_id: Option<String>,
    pub customer_id: Option<String>,
    pub status: Option<CallStatus>,
    /// Calls started at or after this time.
    pub from_ms: Option<i64>,
    /// Calls started before this time.
    pub until_ms: Option<i64>,
    /// Calls with at least one event of this mark.
    pub with_event: Option<EventMark>,
    pub limit: i64,
}

impl Default for CallQuery {
    fn default() -> Self {
        CallQuery {
            business_id: None,
            customer_id: None,
            status: None,
            from_ms: None,
            until_ms: None,
            with_event: None,
            limit: 100,
        }
    }
}

/// A call as a list row shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSummary {
    pub call_sid: String,
    pub business_id: Option<String>,
    pub business_name: Option<String>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub from_number: String,
    pub to_number: String,
    pub status: CallStatus,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub end_reason: Option<String>,
    pub has_recording: bool,
    pub direction: super::CallDirection,
    /// For a call-back: the call that asked for it.
    pub parent_call_sid: Option<String>,
    pub barge_ins: i64,
    pub loops: i64,
    pub fallbacks: i64,
}

/// A customer as a list row shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSummary {
    pub id: String,
    pub business_id: String,
    pub business_name: String,
    pub phone: String,
    pub name: Option<String>,
    pub last_contact_ms: i64,
    pub calls: i64,
}

/// What [`Store::customer_summaries`] looks for: a part of the name, a part of the phone number,
/// or either (a search box fills both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerQuery {
    pub business_id: Option<String>,
    pub name_contains: Option<String>,
    /// Digits only; matched against the digits of the stored E.164 number.
    pub phone_digits: Option<String>,
    pub limit: i64,
}

fn call_summary_from_row(row: &AnyRow) -> Result<CallSummary, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(CallSummary {
        call_sid: row.try_get("call_sid")?,
        business_id: row.try_get("business_id")?,
        business_name: row.try_get("business_name")?,
        customer_id: row.try_get("customer_id")?,
        customer_name: row.try_get("customer_name")?,
        from_number: row.try_get("from_number")?,
        to_number: row.try_get("to_number")?,
        status: super::calls::parse_status(&status)?,
        started_at_ms: row.try_get("started_at_ms")?,
        ended_at_ms: row.try_get("ended_at_ms")?,
        end_reason: row.try_get("end_reason")?,
        has_recording: super::flag(row.try_get("has_recording")?),
        direction: super::calls::parse_direction(&row.try_get::<String, _>("direction")?)?,
        parent_call_sid: row.try_get("parent_call_sid")?,
        barge_ins: row.try_get("barge_ins")?,
        loops: row.try_get("loops")?,
        fallbacks: row.try_get("fallbacks")?,
    })
}

fn customer_summary_from_row(row: &AnyRow) -> Result<CustomerSummary, sqlx::Error> {
    Ok(CustomerSummary {
        id: row.try_get("id")?,
        business_id: row.try_get("business_id")?,
        business_name: row.try_get("business_name")?,
        phone: row.try_get("phone")?,
        name: row.try_get("name")?,
        last_contact_ms: row.try_get("last_contact_ms")?,
        calls: row.try_get("calls")?,
    })
}

impl Store {
    /// Calls matching `query`, newest first, with business and customer names and event counts.
    pub async fn call_summaries(&self, query: &CallQuery) -> Result<Vec<CallSummary>, StoreError> {
        let kinds = query.with_event.map(EventMark::kinds);
        let kind = |i: usize| kinds.map(|k| k[i]);
        let rows = sqlx::query(concat!(
            "SELECT c.call_sid, c.business_id, b.name AS business_name, c.customer_id, ",
            "cu.name AS customer_name, c.from_number, c.to_number, c.status, c.started_at_ms, ",
            "c.ended_at_ms, c.end_reason, c.direction, c.parent_call_sid, ",
            "CAST(CASE WHEN c.recording_path IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_recording, ",
            "(SELECT COUNT(*) FROM events e WHERE e.call_sid = c.call_sid ",
            "AND e.kind = 'barge_in') AS barge_ins, ",
            "(SELECT COUNT(*) FROM events e WHERE e.call_sid = c.call_sid ",
            "AND e.kind = 'loop_detected') AS loops, ",
            "(SELECT COUNT(*) FROM events e WHERE e.call_sid = c.call_sid ",
            "AND e.kind IN ('tts_fallback', 'fallback_say', 'fallback_failed')) AS fallbacks ",
            "FROM calls c LEFT JOIN businesses b ON b.id = c.business_id ",
            "LEFT JOIN customers cu ON cu.id = c.customer_id ",
            "WHERE ($1 IS NULL OR c.business_id = $1) AND ($2 IS NULL OR c.customer_id = $2) ",
            "AND ($3 IS NULL OR c.status = $3) ",
            "AND ($4 IS NULL OR c.started_at_ms >= $4) AND ($5 IS NULL OR c.started_at_ms < $5) ",
            "AND ($6 IS NULL OR EXISTS (SELECT 1 FROM events e WHERE e.call_sid = c.call_sid ",
            "AND e.kind IN ($6, $7, $8))) ",
            "ORDER BY c.started_at_ms DESC, c.call_sid DESC LIMIT $9"
        ))
        .bind(query.business_id.as_deref())
        .bind(query.customer_id.as_deref())
        .bind(query.status.map(CallStatus::as_str))
        .bind(query.from_ms)
        .bind(query.until_ms)
        .bind(kind(0))
        .bind(kind(1))
        .bind(kind(2))
        .bind(query.limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(call_summary_from_row).collect()
    }

    /// Customers, most recently in contact first, with their business's name and number of calls.
    /// With both a name part and phone digits, a customer matching either is returned.
    pub async fn customer_summaries(
        &self,
        query: &CustomerQuery,
    ) -> Result<Vec<CustomerSummary>, StoreError> {
        let searching = query.name_contains.is_some() || query.phone_digits.is_some();
        let rows = sqlx::query(concat!(
            "SELECT cu.id, cu.business_id, b.name AS business_name, cu.phone, cu.name, ",
            "cu.last_contact_ms, (SELECT COUNT(*) FROM calls c WHERE c.customer_id = cu.id) AS calls ",
            "FROM customers cu JOIN businesses b ON b.id = cu.business_id ",
            "WHERE ($1 IS NULL OR cu.business_id = $1) AND ($2 = 0 ",
            "OR ($3 IS NOT NULL AND LOWER(cu.name) LIKE $3 ESCAPE '\\') ",
            "OR ($4 IS NOT NULL AND cu.phone LIKE $4 ESCAPE '\\')) ",
            "ORDER BY cu.last_contact_ms DESC, cu.id LIMIT $5"
        ))
        .bind(query.business_id.as_deref())
        .bind(i64::from(searching))
        .bind(query.name_contains.as_deref().map(contains_pattern))
        .bind(query.phone_digits.as_deref().map(contains_pattern))
        .bind(query.limit)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .iter()
            .map(customer_summary_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// How many calls each business has had, by business id.
    pub async fn call_counts_by_business(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT business_id, COUNT(*) AS calls FROM calls WHERE business_id IS NOT NULL \
             GROUP BY business_id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("business_id")?, row.try_get("calls")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_marks_round_trip_through_their_names() {
        for mark in EventMark::ALL {
            assert_eq!(EventMark::parse(mark.as_str()), Some(mark));
        }
        assert_eq!(EventMark::parse("nonsense"), None);
    }

    #[test]
    fn search_pattern_takes_wildcards_literally() {
        assert_eq!(contains_pattern("50%_x"), "%50\\%\\_x%");
    }
}
