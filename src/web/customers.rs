//! Customers: the searchable list and one customer's interactions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::auth::SignedIn;
use super::calls::{CallRow, LIST_LIMIT};
use super::{WebError, WebState, format, render};
use crate::store::web_queries::{CallQuery, CustomerQuery};

/// How much of a transcript stands in for a missing summary.
const GIST_CHARS: usize = 220;

#[derive(Debug, Default, Deserialize)]
pub struct CustomerSearch {
    q: Option<String>,
    business: Option<String>,
}

/// A search box serves both names and phone numbers: digits typed in local form (`050…`) find
/// the stored E.164 number (`+97250…`).
fn customer_query(search: &CustomerSearch) -> CustomerQuery {
    let text = search.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let digits: Option<String> = text.map(|q| q.chars().filter(char::is_ascii_digit).collect());
    let phone_digits = digits
        .filter(|d| d.len() >= 3)
        .map(|d| d.strip_prefix('0').map(str::to_string).unwrap_or(d));
    CustomerQuery {
        business_id: search
            .business
            .as_deref()
            .filter(|b| !b.is_empty())
            .map(str::to_string),
        name_contains: text.map(str::to_string),
        phone_digits,
        limit: LIST_LIMIT,
    }
}

struct CustomerRow {
    id: String,
    name: Option<String>,
    phone: String,
    business_name: String,
    last_contact: String,
    calls: String,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    user: String,
    nav: &'static str,
    q: String,
    customers: Vec<CustomerRow>,
}

pub async fn list(
    signed_in: SignedIn,
    State(state): State<WebState>,
    Query(search): Query<CustomerSearch>,
) -> Result<Html<String>, WebError> {
    let customers = state
        .app
        .store
        .customer_summaries(&customer_query(&search))
        .await?
        .into_iter()
        .map(|c| CustomerRow {
            last_contact: format::time(c.last_contact_ms),
            id: c.id,
            name: c.name,
            phone: c.phone,
            business_name: c.business_name,
            calls: format::calls_count(c.calls),
        })
        .collect();
    render(CustomersPage {
        user: signed_in.user,
        nav: "customers",
        q: search.q.unwrap_or_default(),
        customers,
    })
}

struct InteractionRow {
    started: String,
    length: String,
    outcome: Option<String>,
    gist: String,
    call_sid: Option<String>,
}

#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerPage {
    user: String,
    nav: &'static str,
    title: String,
    name: Option<String>,
    phone: String,
    business_id: String,
    business_name: String,
    created: String,
    last_contact: String,
    interactions: Vec<InteractionRow>,
    calls: Vec<CallRow>,
}

pub async fn show(
    signed_in: SignedIn,
    State(state): State<WebState>,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let store = &state.app.store;
    let customer = store.customer_by_id(&id).await?.ok_or(WebError::NotFound)?;
    let business = store.business_by_id(&customer.business_id).await?;
    let interactions = store
        .interactions_for_customer(&customer.id)
        .await?
        .into_iter()
        .map(|i| InteractionRow {
            started: format::time(i.started_at_ms),
            length: i
                .duration_ms
                .map(format::duration)
                .unwrap_or_else(|| "—".to_string()),
            outcome: i.outcome,
            gist: match i.summary.filter(|s| !s.trim().is_empty()) {
                Some(summary) => summary,
                None => format::excerpt(&i.transcript, GIST_CHARS),
            },
            call_sid: i.call_sid,
        })
        .collect();
    let calls = store
        .call_summaries(&CallQuery {
            customer_id: Some(customer.id.clone()),
            ..CallQuery::default()
        })
        .await?
        .into_iter()
        .map(CallRow::from)
        .collect();
    render(CustomerPage {
        user: signed_in.user,
        nav: "customers",
        title: customer
            .name
            .clone()
            .unwrap_or_else(|| customer.phone.clone()),
        business_name: business.map(|b| b.name).unwrap_or_default(),
        business_id: customer.business_id,
        created: format::time(customer.created_at_ms),
        last_contact: format::time(customer.last_contact_ms),
        name: customer.name,
        phone: customer.phone,
        interactions,
        calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_phone_digits_find_international_numbers() {
        let query = customer_query(&CustomerSearch {
            q: Some("050-123".into()),
            business: None,
        });
        assert_eq!(query.phone_digits.as_deref(), Some("50123"));
        let by_name = customer_query(&CustomerSearch {
            q: Some(" דנה ".into()),
            business: Some(String::new()),
        });
        assert_eq!(by_name.name_contains.as_deref(), Some("דנה"));
        assert_eq!(by_name.phone_digits, None);
        assert_eq!(by_name.business_id, None);
    }
}
