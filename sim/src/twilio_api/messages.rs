//! The Messages resource of the stand-in: create a message, and list messages with Twilio's filters
//! (`To`, `From`, `DateSent`, `DateSent<`, `DateSent>`) and paging (`PageSize`, `Page`, `PageToken`;
//! `uri`, `first_page_uri`, `next_page_uri`, `previous_page_uri`, `start`, `end`).
//!
//! Order, as Twilio documents it: most recently sent first. Messages still waiting in the queue
//! (no `date_sent`) come before those, newest first; Twilio does not say where it puts them, and a
//! client should not rely on it. Any `DateSent` filter leaves them out, as they have no send date.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::routes::{field, twilio_error};
use super::{API_VERSION, LostAnswer, SimMessage, SimState, now_secs, rfc2822};

const MAX_SMS_CHARS: usize = 1600;
const DEFAULT_PAGE_SIZE: usize = 50;

/// What a message creation answers with, and how long it takes to answer.
pub(super) struct Created {
    pub response: Response,
    pub delay: Option<Duration>,
}

pub(super) fn create(state: &mut SimState, account: &str, form: &[(String, String)]) -> Created {
    let answer = |response| Created {
        response,
        delay: None,
    };
    let (Some(to), Some(from), Some(body)) =
        (field(form, "To"), field(form, "From"), field(form, "Body"))
    else {
        return answer(twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To', 'From' and 'Body' are required.",
        ));
    };
    if body.chars().count() > MAX_SMS_CHARS {
        return answer(twilio_error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    let now = now_secs();
    let mut message = SimMessage {
        sid: format!("SM{}", uuid::Uuid::new_v4().simple()),
        to: to.into(),
        from: from.into(),
        body: body.into(),
        status: "queued".into(),
        created_at_secs: now,
        sent_at_secs: None,
    };
    // Twilio answers while the message is still queued.
    let json = message_json(account, &message);
    if !state.hold_in_queue {
        message.status = "sent".into();
        message.sent_at_secs = Some(now);
    }
    state.messages.push(message);
    if state.lost_answers_left > 0
        && let Some(lost) = state.lost_answer
    {
        state.lost_answers_left -= 1;
        return match lost {
            LostAnswer::Status(status) => {
                let status = StatusCode::from_u16(status).expect("an HTTP status code");
                let reason = status.canonical_reason().unwrap_or("Error").to_string();
                answer(twilio_error(
                    status,
                    20_000 + u32::from(status.as_u16()),
                    &reason,
                ))
            }
            LostAnswer::Delay(delay) => Created {
                response: (StatusCode::CREATED, axum::Json(json)).into_response(),
                delay: Some(delay),
            },
        };
    }
    answer((StatusCode::CREATED, axum::Json(json)).into_response())
}

pub(super) fn list(state: &SimState, account: &str, query: &[(String, String)]) -> Response {
    let filters = match Filters::parse(query) {
        Ok(filters) => filters,
        Err(message) => return twilio_error(StatusCode::BAD_REQUEST, 20001, &message),
    };
    let mut listed: Vec<(usize, &SimMessage)> = state
        .messages
        .iter()
        .enumerate()
        .filter(|(_, message)| filters.admit(message))
        .collect();
    // Unsent first, then by send time; newest first within each, creation order breaking ties.
    listed.sort_by_key(|(index, message)| {
        std::cmp::Reverse((message.sent_at_secs.is_none(), message.sent_at_secs, *index))
    });
    let listed: Vec<&SimMessage> = listed.into_iter().map(|(_, message)| message).collect();

    let size = filters.page_size;
    let position = |sid: &str| listed.iter().position(|message| message.sid == sid);
    let (start, count) = match &filters.token {
        None => (filters.page * size, size),
        Some(Token::After(sid)) => match position(sid) {
            Some(at) => (at + 1, size),
            None => return twilio_error(StatusCode::BAD_REQUEST, 20001, "Invalid PageToken"),
        },
        // The page that ends just before that message.
        Some(Token::Before(sid)) => match position(sid) {
            Some(at) => (at.saturating_sub(size), at.min(size)),
            None => return twilio_error(StatusCode::BAD_REQUEST, 20001, "Invalid PageToken"),
        },
    };
    let page: Vec<&SimMessage> = listed.iter().skip(start).take(count).copied().collect();
    let path = format!("/{API_VERSION}/Accounts/{account}/Messages.json");
    let link = |page: usize, token: Option<String>| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &filters.kept {
            query.append_pair(name, value);
        }
        query.append_pair("PageSize", &size.to_string());
        query.append_pair("Page", &page.to_string());
        if let Some(token) = token {
            query.append_pair("PageToken", &token);
        }
        format!("{path}?{}", query.finish())
    };
    let more = start + page.len() < listed.len();
    let next = match page.last() {
        Some(last) if more => Value::from(link(filters.page + 1, Some(format!("PA{}", last.sid)))),
        _ => Value::Null,
    };
    let previous = match page.first() {
        Some(first) if filters.page > 0 && start > 0 => {
            Value::from(link(filters.page - 1, Some(format!("PB{}", first.sid))))
        }
        _ => Value::Null,
    };
    let uri = link(filters.page, filters.token.as_ref().map(Token::to_string));
    let body = json!({
        "end": start + page.len().saturating_sub(1),
        "first_page_uri": link(0, None),
        "messages": page.iter().map(|m| message_json(account, m)).collect::<Vec<_>>(),
        "next_page_uri": next,
        "page": filters.page,
        "page_size": size,
        "previous_page_uri": previous,
        "start": start,
        "uri": uri,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// A list request's filters and paging, as parsed from its query.
struct Filters {
    to: Option<String>,
    from: Option<String>,
    /// (on or after, on or before) as `YYYY-MM-DD`; both set for an exact day.
    sent_on_or_after: Option<String>,
    sent_on_or_before: Option<String>,
    page: usize,
    page_size: usize,
    token: Option<Token>,
    /// The filters as given, to repeat in the page links.
    kept: Vec<(String, String)>,
}

enum Token {
    After(String),
    Before(String),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::After(sid) => write!(f, "PA{sid}"),
            Token::Before(sid) => write!(f, "PB{sid}"),
        }
    }
}

impl Filters {
    fn parse(query: &[(String, String)]) -> Result<Self, String> {
        let mut filters = Filters {
            to: None,
            from: None,
            sent_on_or_after: None,
            sent_on_or_before: None,
            page: 0,
            page_size: DEFAULT_PAGE_SIZE,
            token: None,
            kept: Vec::new(),
        };
        for (name, value) in query {
            let date = || {
                sicha::clock::parse_date_start_ms(value)
                    .map(|_| value.clone())
                    .ok_or_else(|| format!("Invalid {name}: expected YYYY-MM-DD"))
            };
            // `DateSent>=2024-01-01` in a query string is the name `DateSent>` with that value.
            match name.as_str() {
                "To" => filters.to = Some(value.clone()),
                "From" => filters.from = Some(value.clone()),
                "DateSent" => {
                    filters.sent_on_or_after = Some(date()?);
                    filters.sent_on_or_before = Some(date()?);
                }
                "DateSent>" => filters.sent_on_or_after = Some(date()?),
                "DateSent<" => filters.sent_on_or_before = Some(date()?),
                "PageSize" => {
                    filters.page_size = value
                        .parse::<usize>()
                        .ok()
                        .filter(|size| (1..=1_000).contains(size))
                        .ok_or("Invalid PageSize: 1 to 1000")?;
                    continue;
                }
                "Page" => {
                    filters.page = value.parse().map_err(|_| "Invalid Page".to_string())?;
                    continue;
                }
                "PageToken" => {
                    filters.token = Some(match value.get(..2) {
                        Some("PA") => Token::After(value[2..].to_string()),
                        Some("PB") => Token::Before(value[2..].to_string()),
                        _ => return Err("Invalid PageToken".into()),
                    });
                    continue;
                }
                _ => continue,
            }
            filters.kept.push((name.clone(), value.clone()));
        }
        Ok(filters)
    }

    fn admit(&self, message: &SimMessage) -> bool {
        let day = message
            .sent_at_secs
            .map(|secs| sicha::clock::format_utc(secs as i64 * 1_000, "%Y-%m-%d"));
        let dated = self.sent_on_or_after.is_some() || self.sent_on_or_before.is_some();
        let in_range = match &day {
            // Same-width ISO dates compare as text.
            Some(day) => {
                self.sent_on_or_after
                    .as_ref()
                    .is_none_or(|after| day >= after)
                    && self
                        .sent_on_or_before
                        .as_ref()
                        .is_none_or(|before| day <= before)
            }
            None => !dated,
        };
        self.to.as_ref().is_none_or(|to| *to == message.to)
            && self.from.as_ref().is_none_or(|from| *from == message.from)
            && in_range
    }
}

pub(super) fn message_json(account: &str, message: &SimMessage) -> Value {
    let uri = format!(
        "/{API_VERSION}/Accounts/{account}/Messages/{}.json",
        message.sid
    );
    let updated = message.sent_at_secs.unwrap_or(message.created_at_secs);
    json!({
        "account_sid": account, "api_version": API_VERSION, "body": message.body,
        "date_created": rfc2822(message.created_at_secs),
        "date_sent": message.sent_at_secs.map(rfc2822),
        "date_updated": rfc2822(updated),
        "direction": "outbound-api", "error_code": null, "error_message": null,
        "from": message.from, "messaging_service_sid": null, "num_media": "0", "num_segments": "1",
        "price": null, "price_unit": "USD", "sid": message.sid, "status": message.status,
        "subresource_uris": { "media": uri.replace(".json", "/Media.json") },
        "to": message.to, "uri": uri,
    })
}
