//! [`LoopbackServer`]: the loopback listener, its OS thread and tokio runtime,
//! the accept loop that counts connections, and shutdown on drop.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};

use crate::body::FlushIo;
use crate::log::{RequestRecord, Shared};
use crate::respond::{respond, ConnCtx, RouteEntry};
use crate::route::Route;

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServerStats {
    /// TCP connections accepted since start.
    pub connections_accepted: u64,
    /// TCP connections currently open (hyper still serving them).
    pub connections_open: u64,
    /// Highest `connections_open` seen.
    pub max_connections_open: u64,
    /// Responses in flight: from the moment a request is logged until its
    /// body has been handed to hyper completely, was cut, or was dropped.
    pub responses_in_flight: u64,
    /// Highest `responses_in_flight` seen.
    pub max_responses_in_flight: u64,
    /// Body bytes handed to hyper, all responses together.
    pub bytes_sent: u64,
}

/// The installed routes, by path.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    map: Mutex<HashMap<String, Arc<RouteEntry>>>,
}

impl Routes {
    pub(crate) fn get(&self, path: &str) -> Option<Arc<RouteEntry>> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(path).cloned()
    }

    fn insert(&self, path: &str, route: Route) {
        let entry = Arc::new(RouteEntry::new(route));
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(path.to_owned(), entry);
    }
}

/// An HTTP/1.1 server on `127.0.0.1:<random port>`, serving in-memory
/// [`Route`]s and logging every request.
///
/// It runs on its own OS thread with its own multi-thread tokio runtime (2
/// workers), so it can be used from plain `#[test]`s, `#[tokio::test]`s and
/// benchmarks alike. Dropping it stops the accept loop, closes the listener
/// and every open connection, and joins the thread.
#[derive(Debug)]
pub struct LoopbackServer {
    addr: SocketAddr,
    base: url::Url,
    log: Arc<Shared>,
    routes: Arc<Routes>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Binds `127.0.0.1:0` and starts serving on a new thread.
    ///
    /// # Errors
    ///
    /// Binding the listener, building the runtime or spawning the thread failed.
    pub fn start() -> std::io::Result<LoopbackServer> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let base = url::Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        let log = Arc::new(Shared::default());
        let routes = Arc::new(Routes::default());
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<std::io::Result<()>>(1);

        let (log2, routes2) = (Arc::clone(&log), Arc::clone(&routes));
        let thread = std::thread::Builder::new()
            .name(format!("kithara-test-server-{}", addr.port()))
            .spawn(move || {
                // The runtime is built and dropped on this thread only, so
                // dropping the server from async code never drops a runtime
                // inside another runtime.
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("kithara-test-server-rt")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    accept_loop(listener, log2, routes2, shutdown_rx).await;
                });
                // Drops every connection task (closing its socket).
                rt.shutdown_timeout(Duration::from_secs(5));
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(std::io::Error::other("test server thread exited early"));
            }
        }
        tracing::debug!(%addr, "test server started");
        Ok(LoopbackServer {
            addr,
            base,
            log,
            routes,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// The bound address (always `127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`. `path` should start with `/` (one is
    /// added otherwise) and may carry a `?query`.
    pub fn url(&self, path: &str) -> url::Url {
        let mut url = self.base.clone();
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        url.set_path(path);
        url.set_query(query);
        url
    }

    /// Installs `route` at `path` (matched exactly against the request path,
    /// query ignored), replacing any previous route there and resetting its
    /// fault counters. Takes effect for requests that arrive afterwards.
    pub fn route(&self, path: &str, route: Route) {
        self.routes.insert(path, route);
    }

    /// A snapshot of the request log, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.log.read(|s| s.records.clone())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ServerStats {
        self.log.read(|s| s.stats.clone())
    }

    /// **Blocks the calling thread** until `pred(&requests, &stats)` is true
    /// or `timeout` passes; returns whether it became true.
    ///
    /// Event-driven: the predicate is re-evaluated on every change of the log
    /// or the counters, with the log locked (keep it short, don't call back
    /// into the server). In async code use
    /// [`wait_until_async`](LoopbackServer::wait_until_async) or call this from
    /// `spawn_blocking`.
    pub fn wait_until(
        &self,
        timeout: Duration,
        pred: impl FnMut(&[RequestRecord], &ServerStats) -> bool,
    ) -> bool {
        self.log.wait_until(timeout, pred)
    }

    /// Async twin of [`wait_until`](LoopbackServer::wait_until), for
    /// `#[tokio::test]`s. Needs a tokio runtime with the time driver enabled.
    pub async fn wait_until_async(
        &self,
        timeout: Duration,
        pred: impl FnMut(&[RequestRecord], &ServerStats) -> bool,
    ) -> bool {
        self.log.wait_until_async(timeout, pred).await
    }

    /// Empties the request log (counters and request ids are kept).
    pub fn clear_log(&self) {
        self.log.clear_log();
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("test server thread panicked");
            }
        }
    }
}

/// Decrements `connections_open` when the connection task ends or is dropped.
struct OpenConn(Arc<Shared>);

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}

async fn accept_loop(
    listener: TcpListener,
    log: Arc<Shared>,
    routes: Arc<Routes>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            res = listener.accept() => match res {
                Ok((stream, _peer)) => {
                    let id = log.connection_opened();
                    let open = OpenConn(Arc::clone(&log));
                    let ctx = Arc::new(ConnCtx {
                        log: Arc::clone(&log),
                        routes: Arc::clone(&routes),
                        id,
                        flushed: Arc::new(Notify::new()),
                    });
                    tokio::spawn(serve_connection(stream, ctx, open));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off briefly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    tracing::debug!("test server accept loop stopped");
}

async fn serve_connection(stream: TcpStream, ctx: Arc<ConnCtx>, open: OpenConn) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(FlushIo {
        io: stream,
        flushed: Arc::clone(&ctx.flushed),
    });
    let id = ctx.id;
    let service = hyper::service::service_fn(move |req| respond(Arc::clone(&ctx), req));
    let result = hyper::server::conn::http1::Builder::new()
        .writev(true)
        .serve_connection(io, service)
        .await;
    if let Err(e) = result {
        tracing::debug!(conn = id, error = %e, "connection ended with error");
    }
    drop(open);
}
