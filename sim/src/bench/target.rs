//! The server under test when the bench starts its own: the real `sicha serve` as a child process,
//! on a free port of 127.0.0.1, with a temporary SQLite database, the bench's stand-ins as its
//! providers and a generated auth token. A separate process keeps the simulated callers' load out
//! of the server's CPU and memory, which are then read from `/proc/<pid>`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use url::Url;

use super::BenchError;
use super::probe::{ProcessReading, read_process};
use crate::world::{SimWorld, add_business_unless_there, origin_url};
use sicha::store::NewBusiness;

/// How long the server may take to answer `/readyz` after it was started.
const READY_WAIT: Duration = Duration::from_secs(30);
const READY_POLL: Duration = Duration::from_millis(50);
/// How long the server may take to shut down after SIGTERM before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(20);
/// Environment prefixes the child must not inherit: a real key or URL there must never be used.
const FOREIGN_PREFIXES: [&str; 6] = [
    "SICHA_",
    "TWILIO_",
    "OPENAI_",
    "GOOGLE_",
    "ELEVENLABS_",
    "RUST_LOG",
];

/// A running child server; killed if dropped without [`ChildServer::stop`].
pub struct ChildServer {
    child: Child,
    pid: u32,
    url: Url,
    database_url: String,
    /// The child's `SICHA_METRICS_TOKEN`, made up for this run.
    metrics_token: String,
    scratch: ScratchDir,
}

impl ChildServer {
    /// Starts `exe serve` against `world` with `business` to call, `extra` settings on top of the
    /// world's, on `cpus` if given, logging to `log_path`, and waits until it is ready.
    pub async fn start(
        exe: &Path,
        world: &SimWorld,
        business: &NewBusiness,
        extra: &[(&str, &str)],
        cpus: Option<&[usize]>,
        log_path: &Path,
    ) -> Result<Self, BenchError> {
        let scratch = ScratchDir::create()?;
        let database_url = format!("sqlite://{}", scratch.path.join("bench.db").display());
        add_business_unless_there(&database_url, business).await?;
        let address = free_local_address()?;
        let bind = address.to_string();
        let metrics_token = uuid::Uuid::new_v4().simple().to_string();
        let mut settings: Vec<(&str, &str)> = vec![
            ("SICHA_BIND", &bind),
            ("SICHA_METRICS_TOKEN", &metrics_token),
        ];
        settings.extend_from_slice(extra);
        let values = world.server_values(&database_url, "bench", &settings);

        let log = std::fs::File::create(log_path).map_err(BenchError::io(log_path))?;
        let mut command = Command::new(exe);
        command.arg("serve");
        for (name, _) in std::env::vars() {
            if FOREIGN_PREFIXES.iter().any(|p| name.starts_with(p)) {
                command.env_remove(name);
            }
        }
        command
            .envs(&values)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(BenchError::io(log_path))?)
            .stderr(log)
            .kill_on_drop(true);
        if let Some(cpus) = cpus {
            let set = super::pinning::cpu_set(cpus);
            // SAFETY: between fork and exec the closure makes one system call and allocates nothing.
            unsafe {
                command.pre_exec(move || {
                    rustix::thread::sched_setaffinity(None, &set).map_err(std::io::Error::from)
                });
            }
        }
        let child = command.spawn().map_err(BenchError::io(exe))?;
        let pid = child.id().ok_or(BenchError::ServerExited(None))?;
        let mut server = Self {
            child,
            pid,
            url: origin_url(address),
            database_url,
            metrics_token,
            scratch,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The bearer token the child's `/metrics` asks for.
    pub fn metrics_token(&self) -> &str {
        &self.metrics_token
    }

    /// The server's CPU time and memory now; `None` once it has exited.
    pub fn reading(&self) -> Option<ProcessReading> {
        read_process(self.pid)
    }

    async fn wait_ready(&mut self) -> Result<(), BenchError> {
        let http = reqwest::Client::new();
        let ready = self.url.join("/readyz").expect("static path");
        let deadline = Instant::now() + READY_WAIT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().map_err(BenchError::io("server"))? {
                return Err(BenchError::ServerExited(status.code()));
            }
            let answered = http.get(ready.clone()).send().await;
            if answered.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(READY_POLL).await;
        }
        Err(BenchError::NotReady(READY_WAIT))
    }

    /// SIGTERM, as an orchestrator stops it, so it finalises every call's records; killed if it
    /// has not exited in time. Returns the scratch directory, which holds the database until dropped.
    pub async fn stop(mut self) -> Result<ScratchDir, BenchError> {
        let pid = rustix::process::Pid::from_raw(self.pid as i32);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        match tokio::time::timeout(STOP_WAIT, self.child.wait()).await {
            Ok(status) => {
                status.map_err(BenchError::io("server"))?;
            }
            Err(_) => {
                tracing::warn!("the server did not stop in time after SIGTERM; killing it");
                let _ = self.child.kill().await;
            }
        }
        Ok(self.scratch)
    }
}

/// A free port on 127.0.0.1, found by binding port 0 and letting go of it.
fn free_local_address() -> Result<std::net::SocketAddr, BenchError> {
    let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(BenchError::io("port"))?;
    probe.local_addr().map_err(BenchError::io("port"))
}

/// A directory of the bench's own under the system's temporary directory, removed when dropped.
pub struct ScratchDir {
    pub path: PathBuf,
}

impl ScratchDir {
    fn create() -> Result<Self, BenchError> {
        let path =
            std::env::temp_dir().join(format!("sicha-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).map_err(BenchError::io(&path))?;
        Ok(Self { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
