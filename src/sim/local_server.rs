//! How every stand-in runs: an axum app on an ephemeral port of 127.0.0.1, served by a task of its own
//! until its guard is dropped (the stand-in's handles share the guard, so the last clone stops it).

use std::net::SocketAddr;

use axum::Router;
use tokio::sync::oneshot;

/// Stops the server when dropped.
pub(crate) struct ServerGuard(Option<oneshot::Sender<()>>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `app` on an ephemeral local port until the guard is dropped; `name` labels its log line.
pub(crate) async fn serve(
    app: Router,
    name: &'static str,
) -> std::io::Result<(SocketAddr, ServerGuard)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(%error, "{name} stand-in stopped");
        }
    });
    Ok((address, ServerGuard(Some(stop))))
}
