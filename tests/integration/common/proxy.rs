//! A TCP proxy that can cut the line: the app reaches its database through it, and a test makes the
//! database unreachable (every open connection reset, new ones refused) and reachable again, as a
//! network partition or a database host going away does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct CuttableProxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct ProxyState {
    cut: bool,
    /// The piped connections, aborted (their sockets dropped) when the line is cut.
    pipes: Vec<JoinHandle<()>>,
}

impl CuttableProxy {
    /// Listens on a free port of 127.0.0.1 and pipes each connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CuttableProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut state = shared.lock().unwrap();
                if state.cut {
                    continue; // dropped: the client sees its connection reset
                }
                state.pipes.retain(|pipe| !pipe.is_finished());
                state.pipes.push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        CuttableProxy {
            addr,
            state,
            accept,
        }
    }

    /// Resets every open connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.cut = true;
        for pipe in state.pipes.drain(..) {
            pipe.abort();
        }
    }

    pub fn restore(&self) {
        self.state.lock().unwrap().cut = false;
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
