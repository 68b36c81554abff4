//! The call list with its filters, and the call rows other pages reuse.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::auth::SignedIn;
use super::{WebError, WebState, format, render};
use crate::store::web_queries::{CallQuery, CallSummary, EventMark};
use crate::store::{CallDirection, CallStatus};

/// How many calls a list shows at most.
pub const LIST_LIMIT: i64 = 200;

/// One call as a row of a list.
pub struct CallRow {
    pub sid: String,
    pub started: String,
    pub customer_name: Option<String>,
    /// Who called in, or who was called back.
    pub customer_number: String,
    pub business_name: String,
    /// A call-back sicha placed.
    pub outbound: bool,
    /// For a call-back: the call that asked for it.
    pub parent_sid: Option<String>,
    pub status: &'static str,
    pub status_label: &'static str,
    pub length: String,
    pub marks: Vec<&'static str>,
    pub has_recording: bool,
}

impl From<CallSummary> for CallRow {
    fn from(call: CallSummary) -> CallRow {
        let mut marks = Vec::new();
        if call.barge_ins > 0 {
            marks.push(mark_label(EventMark::BargeIn));
        }
        if call.loops > 0 {
            marks.push(mark_label(EventMark::Loop));
        }
        if call.fallbacks > 0 {
            marks.push(mark_label(EventMark::Fallback));
        }
        CallRow {
            started: format::time(call.started_at_ms),
            length: format::call_length(call.started_at_ms, call.ended_at_ms, None),
            business_name: call.business_name.unwrap_or_else(|| call.to_number.clone()),
            status: call.status.as_str(),
            status_label: format::status_label(call.status),
            sid: call.call_sid,
            customer_name: call.customer_name,
            customer_number: match call.direction {
                CallDirection::Inbound => call.from_number,
                CallDirection::Outbound => call.to_number,
            },
            outbound: call.direction == CallDirection::Outbound,
            parent_sid: call.parent_call_sid,
            marks,
            has_recording: call.has_recording,
        }
    }
}

pub fn mark_label(mark: EventMark) -> &'static str {
    match mark {
        EventMark::BargeIn => "קטיעה",
        EventMark::Loop => "חזרה",
        EventMark::Fallback => "גיבוי",
    }
}

/// An `<option>` of a filter.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct CallFilters {
    business: Option<String>,
    status: Option<String>,
    event: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// An empty form field means "any".
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl CallFilters {
    fn query(&self) -> CallQuery {
        CallQuery {
            business_id: given(&self.business).map(str::to_string),
            customer_id: None,
            status: given(&self.status).and_then(|s| s.parse::<CallStatus>().ok()),
            from_ms: given(&self.from).and_then(format::day_start),
            // The "to" date is included: calls before the next midnight.
            until_ms: given(&self.to).and_then(format::day_end),
            with_event: given(&self.event).and_then(EventMark::parse),
            limit: LIST_LIMIT,
        }
    }
}

#[derive(Template)]
#[template(path = "calls.html")]
struct CallsPage {
    user: String,
    nav: &'static str,
    businesses: Vec<Choice>,
    statuses: Vec<Choice>,
    events: Vec<Choice>,
    from: String,
    to: String,
    limit: i64,
    calls: Vec<CallRow>,
}

pub async fn list(
    signed_in: SignedIn,
    State(state): State<WebState>,
    Query(filters): Query<CallFilters>,
) -> Result<Html<String>, WebError> {
    let store = &state.app.store;
    let query = filters.query();
    let calls = store.call_summaries(&query).await?;
    let businesses = store
        .list_businesses()
        .await?
        .into_iter()
        .map(|b| Choice {
            selected: query.business_id.as_deref() == Some(b.id.as_str()),
            label: b.name,
            value: b.id,
        })
        .collect();
    let statuses = CallStatus::ALL
        .into_iter()
        .map(|status| Choice {
            value: status.as_str().to_string(),
            label: format::status_label(status).to_string(),
            selected: query.status == Some(status),
        })
        .collect();
    let events = EventMark::ALL
        .into_iter()
        .map(|mark| Choice {
            value: mark.as_str().to_string(),
            label: mark_label(mark).to_string(),
            selected: query.with_event == Some(mark),
        })
        .collect();
    render(CallsPage {
        user: signed_in.user,
        nav: "calls",
        businesses,
        statuses,
        events,
        from: given(&filters.from).unwrap_or_default().to_string(),
        to: given(&filters.to).unwrap_or_default().to_string(),
        limit: LIST_LIMIT,
        calls: calls.into_iter().map(CallRow::from).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_filters_match_everything_and_dates_cover_whole_days() {
        let any = CallFilters::default().query();
        assert_eq!(
            any,
            CallQuery {
                limit: LIST_LIMIT,
                ..CallQuery::default()
            }
        );
        let filters = CallFilters {
            business: Some(" ".into()),
            status: Some("completed".into()),
            event: Some("barge_in".into()),
            from: Some("2025-06-15".into()),
            to: Some("2025-06-15".into()),
        };
        let query = filters.query();
        assert_eq!(query.business_id, None);
        assert_eq!(query.status, Some(CallStatus::Completed));
        assert_eq!(query.with_event, Some(EventMark::BargeIn));
        assert_eq!(query.until_ms.unwrap() - query.from_ms.unwrap(), 86_400_000);
    }
}
