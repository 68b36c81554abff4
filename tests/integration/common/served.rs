//! The real `sicha serve` as a child process: a fresh process, as in production, for what only shows
//! there (process-wide state such as the metrics recorder). Killed when dropped.

use std::process::Stdio;
use std::time::{Duration, Instant};

use url::Url;

use sicha_sim::twilio_caller::MediaStreamClient;

use super::{AUTH_TOKEN, connect_call_at, sicha_binary};

pub struct ServedBinary {
    child: tokio::process::Child,
    pub base: Url,
}

impl ServedBinary {
    /// `sicha serve --agent echo` on a free port of 127.0.0.1 and `database_url`, signed Twilio
    /// traffic, `extra` settings on top; returns once `/readyz` answers 200.
    pub async fn start(database_url: &str, extra: &[(&str, &str)]) -> ServedBinary {
        Self::start_with("echo", database_url, extra).await
    }

    /// [`ServedBinary::start`] with the agent `agent` (`echo` or `ai`).
    pub async fn start_with(
        agent: &str,
        database_url: &str,
        extra: &[(&str, &str)],
    ) -> ServedBinary {
        let addr = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap();
        let mut command = tokio::process::Command::from(sicha_binary());
        command
            .args(["serve", "--agent", agent])
            .env("SICHA_BIND", addr.to_string())
            .env("SICHA_DATABASE_URL", database_url)
            .env("SICHA_INSTANCE_ID", "served-binary")
            .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("SICHA_LOG", "warn")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the sicha binary starts");
        let base = Url::parse(&format!("http://{addr}/")).unwrap();
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                child.try_wait().unwrap().is_none(),
                "sicha serve exited at start"
            );
            let ready = http.get(base.join("/readyz").unwrap()).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "sicha serve never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ServedBinary { child, base }
    }

    /// The voice webhook, then the signed stream socket with `connected` and `start`.
    pub async fn connect_call(&self, call_sid: &str) -> MediaStreamClient {
        connect_call_at(
            &reqwest::Client::new(),
            &self.base,
            Some(AUTH_TOKEN),
            call_sid,
        )
        .await
    }

    /// SIGKILL, as a crash or an out-of-memory kill ends a process: nothing is flushed, no call is
    /// ended.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("the server is running");
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then waits for the process to finish its shutdown.
    pub async fn stop(mut self) {
        if let Some(pid) = self
            .child
            .id()
            .and_then(|pid| rustix::process::Pid::from_raw(pid as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}
