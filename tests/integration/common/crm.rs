//! A CRM webhook receiver for tests: answers 200 and keeps what it got.

use std::sync::Arc;

/// A CRM receiver that answers 200 and counts what it got, by idempotency key.
pub struct CountingCrm {
    pub url: String,
    keys: Arc<std::sync::Mutex<Vec<String>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl CountingCrm {
    pub async fn start() -> CountingCrm {
        let keys = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = keys.clone();
        let app = axum::Router::new().route(
            "/crm",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let seen = seen.clone();
                async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    seen.lock().unwrap().push(key);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let url = format!("http://{}/crm", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        CountingCrm {
            url,
            keys,
            _server: server,
        }
    }

    /// The idempotency keys received, in order.
    pub fn keys(&self) -> Vec<String> {
        self.keys.lock().unwrap().clone()
    }
}
