//! A business's tool server on an ephemeral port: it checks each request's signature the way the
//! README tells businesses to, records what it received, and answers as each path says.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

/// One request as the tool server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub signature_valid: bool,
    pub body: serde_json::Value,
}

struct ReceiverState {
    secret: String,
    received: Mutex<Vec<Received>>,
}

/// The tool server; it stops when dropped.
pub(crate) struct ToolServer {
    pub base: String,
    state: Arc<ReceiverState>,
    server: JoinHandle<()>,
}

impl Drop for ToolServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ToolServer {
    /// A server that verifies signatures with `secret` (the hex text `business show` reveals).
    pub(crate) async fn start(secret: &str) -> Self {
        let state = Arc::new(ReceiverState {
            secret: secret.to_string(),
            received: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/{answer}", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base,
            state,
            server,
        }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

/// HMAC-SHA256 as RFC 2104 defines it, written out here so the check does not share code with
/// what it checks.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block_key.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    Path(answer): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let expected = format!(
        "sha256={}",
        hex(&hmac_sha256(state.secret.as_bytes(), &body))
    );
    let signature_valid = header_text("x-sicha-signature").as_deref() == Some(expected.as_str());
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    state.received.lock().unwrap().push(Received {
        path: answer.clone(),
        idempotency_key: header_text("idempotency-key"),
        signature_valid,
        body: request.clone(),
    });
    if !signature_valid {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let json = |status: StatusCode, value: serde_json::Value| {
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response()
    };
    match answer.as_str() {
        "ok" => json(
            StatusCode::OK,
            serde_json::json!({"booked": true, "for": request["arguments"]}),
        ),
        "empty" => StatusCode::NO_CONTENT.into_response(),
        "refuse" => json(
            StatusCode::CONFLICT,
            serde_json::json!({"reason": "the slot is taken"}),
        ),
        "fail" => (StatusCode::INTERNAL_SERVER_ERROR, "database down").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            json(StatusCode::OK, serde_json::json!({"late": true}))
        }
        "redirect" => (StatusCode::FOUND, [(header::LOCATION, "/ok")]).into_response(),
        "text" => (StatusCode::OK, "booked!").into_response(),
        "large" => json(
            StatusCode::OK,
            serde_json::json!({"padding": "x".repeat(100 * 1024)}),
        ),
        "endless" => {
            // A JSON string that never ends, without a length: only reading it shows its size.
            let opening =
                futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from("{\"a\": \"")) });
            let forever = futures::stream::repeat_with(|| Ok(Bytes::from(vec![b'x'; 8192])));
            Response::new(Body::from_stream(futures::StreamExt::chain(
                opening, forever,
            )))
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
