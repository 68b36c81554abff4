//! Businesses: the list and one business with its recent calls.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;

use super::auth::SignedIn;
use super::calls::CallRow;
use super::{WebError, WebState, format, render};
use crate::store::web_queries::CallQuery;

/// Recent calls shown on a business's page.
const RECENT_CALLS: i64 = 20;

struct BusinessRow {
    id: String,
    name: String,
    number: String,
    calls: String,
}

#[derive(Template)]
#[template(path = "businesses.html")]
struct BusinessesPage {
    user: String,
    nav: &'static str,
    businesses: Vec<BusinessRow>,
}

pub async fn list(
    signed_in: SignedIn,
    State(state): State<WebState>,
) -> Result<Html<String>, WebError> {
    let store = &state.app.store;
    let counts: HashMap<String, i64> = store.call_counts_by_business().await?.into_iter().collect();
    let businesses = store
        .list_businesses()
        .await?
        .into_iter()
        .map(|b| BusinessRow {
            calls: format::calls_count(counts.get(&b.id).copied().unwrap_or(0)),
            id: b.id,
            name: b.name,
            number: b.number,
        })
        .collect();
    render(BusinessesPage {
        user: signed_in.user,
        nav: "businesses",
        businesses,
    })
}

#[derive(Template)]
#[template(path = "business.html")]
struct BusinessPage {
    user: String,
    nav: &'static str,
    id: String,
    name: String,
    number: String,
    greeting: String,
    system_prompt: String,
    voice: Option<String>,
    transfer_to: Option<String>,
    updated: String,
    calls: Vec<CallRow>,
}

pub async fn show(
    signed_in: SignedIn,
    State(state): State<WebState>,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let store = &state.app.store;
    let business = store.business_by_id(&id).await?.ok_or(WebError::NotFound)?;
    let calls = store
        .call_summaries(&CallQuery {
            business_id: Some(business.id.clone()),
            limit: RECENT_CALLS,
            ..CallQuery::default()
        })
        .await?
        .into_iter()
        .map(CallRow::from)
        .collect();
    render(BusinessPage {
        user: signed_in.user,
        nav: "businesses",
        updated: format::time(business.updated_at_ms),
        id: business.id,
        name: business.name,
        number: business.number,
        greeting: business.greeting,
        system_prompt: business.system_prompt,
        voice: business.voice,
        transfer_to: business.transfer_to,
        calls,
    })
}
