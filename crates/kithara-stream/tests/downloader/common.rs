//! Shared set-up: a peer that yields a list of commands, sinks, and waiting for outcomes.
#![allow(dead_code)]

use std::{
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use kithara_stream::dl::{
    ByteRange, Downloader, DownloaderConfig, FetchCmd, FetchOutcome, Peer, PeerHandle,
    ResponseInfo, RetryPolicy, ThroughputSample,
};
use kithara_test_support::LoopbackServer;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const PATIENCE: Duration = Duration::from_secs(30);

/// A peer that yields one batch of commands, then is done (or, lingering, stays until cancelled).
pub struct ListPeer {
    batch: Option<Vec<FetchCmd>>,
    token: CancellationToken,
    linger: bool,
    samples: mpsc::UnboundedSender<ThroughputSample>,
}

impl Peer for ListPeer {
    fn poll_next(&mut self, _cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>> {
        match self.batch.take() {
            Some(b) => Poll::Ready(Some(b)),
            None if self.linger => Poll::Pending,
            None => Poll::Ready(None),
        }
    }
    fn cancel_token(&self) -> CancellationToken {
        self.token.clone()
    }
    fn on_throughput(&mut self, sample: ThroughputSample) {
        let _ = self.samples.send(sample);
    }
}

/// Collects what one command delivered.
#[derive(Default)]
pub struct Sink {
    pub bytes: Mutex<Vec<u8>>,
    pub offsets_ok: Mutex<bool>,
    pub responses: Mutex<Vec<ResponseInfo>>,
}

pub fn downloader(f: impl FnOnce(DownloaderConfig) -> DownloaderConfig) -> Downloader {
    let retry = RetryPolicy::builder()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
        .build();
    Downloader::new(f(DownloaderConfig::builder()
        .retry(retry)
        .system_proxy(false)
        .build()))
    .expect("the HTTP client builds")
}

/// A GET whose bytes land in a fresh sink (offsets must be contiguous from `start`) and whose outcome goes to `done`.
pub fn get(
    server: &LoopbackServer,
    path: &str,
    range: Option<ByteRange>,
    parent: &CancellationToken,
    done: &mpsc::UnboundedSender<(String, FetchOutcome)>,
) -> (FetchCmd, Arc<Sink>) {
    let sink = Arc::new(Sink::default());
    *sink.offsets_ok.lock().unwrap() = true;
    let start = range.map_or(0, |r| r.start);
    let (w, r) = (sink.clone(), sink.clone());
    let done = done.clone();
    let name = path.to_owned();
    let mut cmd = FetchCmd::get(server.url(path))
        .with_cancel(parent.child_token())
        .writer(move |offset, data| {
            let mut b = w.bytes.lock().unwrap();
            if offset != start + b.len() as u64 {
                *w.offsets_ok.lock().unwrap() = false;
            }
            b.extend_from_slice(&data);
            Ok(())
        })
        .on_response(move |info| {
            r.responses.lock().unwrap().push(info.clone());
            Ok(())
        })
        .on_complete(move |o| {
            done.send((name, o)).unwrap();
        });
    if let Some(range) = range {
        cmd = cmd.with_range(range);
    }
    (cmd, sink)
}

pub fn register(
    dl: &Downloader,
    cmds: Vec<FetchCmd>,
    token: CancellationToken,
) -> (PeerHandle, mpsc::UnboundedReceiver<ThroughputSample>) {
    register_with(dl, cmds, token, false)
}

pub fn register_with(
    dl: &Downloader,
    cmds: Vec<FetchCmd>,
    token: CancellationToken,
    linger: bool,
) -> (PeerHandle, mpsc::UnboundedReceiver<ThroughputSample>) {
    let (samples, rx) = mpsc::unbounded_channel();
    let handle = dl.register(ListPeer {
        batch: Some(cmds),
        token,
        linger,
        samples,
    });
    (handle, rx)
}

pub async fn outcomes(
    rx: &mut mpsc::UnboundedReceiver<(String, FetchOutcome)>,
    n: usize,
) -> Vec<(String, FetchOutcome)> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(
            tokio::time::timeout(PATIENCE, rx.recv())
                .await
                .expect("outcome arrives")
                .unwrap(),
        );
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Runs one GET of `path` through `dl` and returns its outcome and what it delivered, after
/// checking that the peer settles with every completion reported once.
pub async fn fetch_one(
    dl: &Downloader,
    server: &LoopbackServer,
    path: &str,
) -> (FetchOutcome, Arc<Sink>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let token = dl.child_token();
    let (cmd, sink) = get(server, path, None, &token, &tx);
    let (handle, _) = register(dl, vec![cmd], token);
    let mut outs = outcomes(&mut rx, 1).await;
    settle(&handle, &mut rx).await;
    (outs.remove(0).1, sink)
}

pub async fn settle(handle: &PeerHandle, rx: &mut mpsc::UnboundedReceiver<(String, FetchOutcome)>) {
    tokio::time::timeout(PATIENCE, handle.idle()).await.unwrap();
    assert_eq!(handle.commands_issued(), handle.completions_reported());
    assert!(rx.try_recv().is_err(), "no command completed twice");
}
