//! A CRM webhook receiver on an ephemeral port that answers as scripted: a status, never, or late.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sicha::deliveries::CrmWebhook;
use tokio::task::JoinHandle;
use url::Url;

/// How the CRM receiver answers one request.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reply {
    Status(u16),
    /// Never answers: a delivery stuck in flight.
    Hang,
    /// Answers 200 after a while: long enough for two workers to overlap.
    SlowOk(Duration),
}

#[derive(Debug, Clone)]
pub(super) struct Received {
    pub idempotency_key: Option<String>,
    pub content_type: Option<String>,
    pub body: serde_json::Value,
}

#[derive(Default)]
struct ReceiverState {
    script: Mutex<VecDeque<Reply>>,
    /// Answer once the script runs out.
    otherwise: Mutex<Option<Reply>>,
    received: Mutex<Vec<Received>>,
}

/// A CRM webhook receiver on an ephemeral port; the server stops when this is dropped.
pub(super) struct CrmReceiver {
    url: Url,
    state: Arc<ReceiverState>,
    server: JoinHandle<()>,
}

impl Drop for CrmReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl CrmReceiver {
    /// Answers with `script` in order, then with 200.
    pub(super) async fn start(script: &[Reply]) -> Self {
        let state = Arc::new(ReceiverState::default());
        state.script.lock().unwrap().extend(script.iter().copied());
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let url = Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, state, server }
    }

    pub(super) fn answer_otherwise(&self, reply: Reply) {
        *self.state.otherwise.lock().unwrap() = Some(reply);
    }

    pub(super) fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub(super) fn webhook(&self) -> CrmWebhook {
        CrmWebhook::with_timeout(self.url.clone(), Duration::from_secs(2)).unwrap()
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    state.received.lock().unwrap().push(Received {
        idempotency_key: header("idempotency-key"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    });
    let scripted = state.script.lock().unwrap().pop_front();
    let reply = scripted
        .or(*state.otherwise.lock().unwrap())
        .unwrap_or(Reply::Status(200));
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap(),
        Reply::Hang => std::future::pending().await,
        Reply::SlowOk(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK
        }
    }
}
