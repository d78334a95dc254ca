//! Small whole-resource fetches (playlists, keys) through the shared downloader.
//!
//! [`body_cmd`] builds a command that gathers a capped body in memory and reports it, with the
//! final URL after redirects, exactly once. [`fetch_body`] runs one such command on a one-shot
//! peer, for the playlists `Stream::<Hls>::new` needs before the stream exists.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use kithara_storage::Validator;
use kithara_stream::{
    dl::{Downloader, FetchCmd, FetchOutcome, FetchPurpose, Peer, Priority},
    Error, RedactedUrl, Result,
};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use url::Url;

/// A fetched body and the URL it was finally served from.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub(crate) bytes: Bytes,
    pub(crate) url: Url,
    /// The response's `ETag` / `Last-Modified`, kept with a cached copy.
    pub(crate) validator: Option<Validator>,
    /// Whether it is a copy from the persistent cache (not fetched now).
    pub(crate) cached: bool,
}

/// A GET of `url` gathering at most `cap` bytes; `done` gets the body or the failure once.
pub(crate) fn body_cmd(
    url: Url,
    headers: HeaderMap,
    cap: u64,
    purpose: FetchPurpose,
    cancel: CancellationToken,
    done: impl FnOnce(Result<Body>) + Send + 'static,
) -> FetchCmd {
    let buf = Arc::new(Mutex::new((BytesMut::new(), url.clone(), None)));
    let (w, r, c) = (buf.clone(), buf.clone(), buf);
    let redacted = RedactedUrl::new(&url);
    // Over the cap: a key is a key of the wrong length, anything else a playlist too large.
    let too_large = move |url: RedactedUrl, size: u64| {
        Error::protocol(if purpose == FetchPurpose::Key {
            crate::Error::KeyLength {
                uri: url,
                len: usize::try_from(size).unwrap_or(usize::MAX),
            }
        } else {
            crate::Error::PlaylistTooLarge {
                url,
                size,
                limit: cap,
            }
        })
    };
    let too_large_w = too_large;
    FetchCmd::get(url)
        .with_headers(headers)
        .with_priority(Priority::Urgent)
        .with_purpose(purpose)
        .with_cancel(cancel)
        .on_response(move |info| {
            if let Some(size) = info.total_len.filter(|&t| t > cap) {
                return Err(too_large(redacted.clone(), size));
            }
            let mut g = lock(&r);
            g.1 = info.url.clone();
            g.2 = info.validator.clone();
            Ok(())
        })
        .writer(move |_, data| {
            let mut g = lock(&w);
            let size = (g.0.len() + data.len()) as u64;
            if size > cap {
                return Err(too_large_w(RedactedUrl::new(&g.1), size));
            }
            g.0.extend_from_slice(&data);
            Ok(())
        })
        .on_complete(move |outcome| {
            let result = match outcome {
                FetchOutcome::Completed { .. } => {
                    let mut g = lock(&c);
                    let bytes = std::mem::take(&mut g.0).freeze();
                    Ok(Body {
                        bytes,
                        url: g.1.clone(),
                        validator: g.2.clone(),
                        cached: false,
                    })
                }
                FetchOutcome::Failed(e) => Err(e),
                _ => Err(Error::Cancelled),
            };
            done(result);
        })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A peer that runs one command and is done.
pub(crate) struct OneShot {
    pub(crate) cmd: Option<FetchCmd>,
    pub(crate) token: CancellationToken,
}

impl Peer for OneShot {
    fn poll_next(&mut self, _cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>> {
        Poll::Ready(self.cmd.take().map(|c| vec![c]))
    }
    fn cancel_token(&self) -> CancellationToken {
        self.token.clone()
    }
    fn label(&self) -> String {
        String::from("hls open")
    }
}

/// Fetches one small resource (a playlist) through the downloader, urgently, adding the body
/// bytes received to `wire`.
pub(crate) async fn fetch_body(
    dl: &Downloader,
    url: Url,
    headers: HeaderMap,
    cap: u64,
    parent: &CancellationToken,
    wire: &AtomicU64,
) -> Result<Body> {
    fetch_body_for(dl, url, headers, cap, parent, FetchPurpose::Index, wire).await
}

/// [`fetch_body`] for a given purpose (a key, fetched while opening).
pub(crate) async fn fetch_body_for(
    dl: &Downloader,
    url: Url,
    headers: HeaderMap,
    cap: u64,
    parent: &CancellationToken,
    purpose: FetchPurpose,
    wire: &AtomicU64,
) -> Result<Body> {
    let (tx, rx) = oneshot::channel();
    let token = parent.child_token();
    let cmd = body_cmd(url, headers, cap, purpose, token.child_token(), move |r| {
        let _ = tx.send(r);
    });
    let peer = dl.register(OneShot {
        cmd: Some(cmd),
        token: token.clone(),
    });
    let r = tokio::select! {
        r = rx => r.unwrap_or(Err(Error::Cancelled)),
        _ = parent.cancelled() => Err(Error::Cancelled),
    };
    wire.fetch_add(peer.bytes_fetched(), Ordering::Relaxed);
    r
}
