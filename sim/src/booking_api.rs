//! A barber shop's booking system, as the business's own tools would reach it: `POST /availability`
//! answers the free times of a day, `POST /book` books one and keeps it. Every request must carry a
//! valid `X-Sicha-Signature` for the business's tools secret; a booking repeated with the same
//! idempotency key is the same booking. `sicha demo` books through it, so what the agent says it
//! booked is what was booked.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use sicha::business_tools::{
    BusinessTools, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, ToolsFileFormat, ToolsSecret,
};

use super::local_server::LocalServer;

/// The free times the shop offers on any day.
pub const FREE_TIMES: [&str; 4] = ["13:30", "15:00", "16:30", "18:00"];

/// One booking the shop received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub day: String,
    pub time: String,
    pub name: String,
    pub caller: String,
    pub idempotency_key: String,
    pub confirmation: String,
}

#[derive(Default)]
struct Shared {
    secret: Mutex<Option<ToolsSecret>>,
    bookings: Mutex<Vec<Booking>>,
}

/// The running booking system; it stops when the last clone is dropped.
#[derive(Clone)]
pub struct BookingApiSim {
    server: LocalServer<Shared>,
}

impl BookingApiSim {
    pub async fn start() -> std::io::Result<Self> {
        let routes = Router::new()
            .route("/availability", post(availability))
            .route("/book", post(book));
        let server = LocalServer::start(Shared::default(), routes, "booking API", "").await?;
        Ok(Self { server })
    }

    /// The business's tools secret, which every request must be signed with.
    pub fn trust(&self, secret: &ToolsSecret) {
        *self.server.secret.lock().unwrap() = Some(secret.clone());
    }

    pub fn bookings(&self) -> Vec<Booking> {
        self.server.bookings.lock().unwrap().clone()
    }

    /// The shop's tools file: a look-up of free times and a booking, both against this system.
    pub fn tools(&self) -> BusinessTools {
        let base = self.server.base_url();
        let base = base.as_str().trim_end_matches('/');
        let text = format!(
            r#"[[tools]]
name = "check_availability"
description = "לבדוק ביומן אילו תורים פנויים ביום מסוים"
url = "{base}/availability"
timeout_ms = 3000
waiting_phrase = "רגע, אני בודקת ביומן"
parameters = {{ type = "object", properties = {{ day = {{ type = "string" }} }}, required = ["day"] }}

[[tools]]
name = "book_appointment"
description = "לקבוע תור ביומן ביום ובשעה שהלקוח בחר, על שמו"
url = "{base}/book"
timeout_ms = 3000
max_per_call = 2
parameters = {{ type = "object", properties = {{ day = {{ type = "string" }}, time = {{ type = "string" }}, name = {{ type = "string", minLength = 1 }} }}, required = ["day", "time", "name"] }}
"#
        );
        BusinessTools::parse(&text, ToolsFileFormat::Toml).expect("the shop's tools file is valid")
    }
}

/// The request's JSON when its signature is right; the refusal otherwise.
fn verified(
    shared: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, (StatusCode, &'static str)> {
    let secret = shared.secret.lock().unwrap().clone();
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let valid = secret.is_some_and(|secret| secret.sign(body) == signature);
    if !valid {
        return Err((StatusCode::UNAUTHORIZED, "bad signature"));
    }
    serde_json::from_slice(body).map_err(|_| (StatusCode::BAD_REQUEST, "not JSON"))
}

async fn availability(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match verified(&shared, &headers, &body) {
        Ok(request) => axum::Json(json!({
            "day": request["arguments"]["day"],
            "free": FREE_TIMES,
        }))
        .into_response(),
        Err(refused) => refused.into_response(),
    }
}

async fn book(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request = match verified(&shared, &headers, &body) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let key = headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let arguments = &request["arguments"];
    let text = |name: &str| arguments[name].as_str().unwrap_or_default().to_string();
    let mut bookings = shared.bookings.lock().unwrap();
    let booking = match bookings.iter().find(|b| b.idempotency_key == key) {
        Some(same) => same.clone(),
        None => {
            let time = text("time");
            if !FREE_TIMES.contains(&time.as_str()) {
                let refusal = json!({ "error": "not_free", "free": FREE_TIMES });
                return (StatusCode::CONFLICT, axum::Json(refusal)).into_response();
            }
            let booking = Booking {
                day: text("day"),
                time,
                name: text("name"),
                caller: request["caller"].as_str().unwrap_or_default().to_string(),
                idempotency_key: key,
                confirmation: format!("B-{}", bookings.len() + 1),
            };
            bookings.push(booking.clone());
            booking
        }
    };
    axum::Json(json!({
        "booked": true,
        "confirmation": booking.confirmation,
        "day": booking.day,
        "time": booking.time,
        "name": booking.name,
    }))
    .into_response()
}
