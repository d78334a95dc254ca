//! The response body: a paced, fault-injecting stream of `Bytes` slices that
//! records its progress and its end in the request log.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use crate::log::{ResponseEnd, Shared};
use crate::throttle::{Pacer, Throttle};
use bytes::Bytes;
use futures::Stream;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;

/// Error ending a body stream on purpose ([`Fault::ResetAfter`](crate::Fault::ResetAfter)).
#[derive(Debug)]
pub(crate) struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("response body aborted by an injected fault")
    }
}

impl std::error::Error for Aborted {}

/// How a cut response ends once its bytes are flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CutKind {
    /// End the body stream with an error.
    Reset,
    /// End the body stream early but cleanly; hyper notices the missing bytes.
    Close,
}

/// Everything the body stream needs to know about one response body.
#[derive(Debug)]
pub(crate) struct StreamPlan {
    /// Exactly the bytes to send.
    pub(crate) data: Bytes,
    pub(crate) chunk: usize,
    pub(crate) throttle: Option<Throttle>,
    /// `(offset, duration)` pauses, sorted by offset, offsets `< data.len()`.
    pub(crate) stalls: Vec<(usize, Duration)>,
    /// What to do after `data`, if the message is to end abnormally.
    pub(crate) cut: Option<CutKind>,
    /// How the response is recorded once `data` is out.
    pub(crate) end: ResponseEnd,
}

/// A body plan: nothing, or a stream.
#[derive(Debug)]
pub(crate) enum BodyPlan {
    /// No body (HEAD, 416, empty content); the response ends as given.
    Empty(ResponseEnd),
    Stream(StreamPlan),
    /// An endless radio body.
    Radio(crate::radio::RadioPlan),
}

/// Counts one response as in flight until it is finished or dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    log: Arc<Shared>,
    id: u64,
    ended: bool,
}

impl InFlight {
    pub(crate) fn new(log: Arc<Shared>, id: u64) -> Self {
        Self {
            log,
            id,
            ended: false,
        }
    }

    fn finish(&mut self, end: ResponseEnd) {
        if !self.ended {
            self.ended = true;
            self.log.response_ended(self.id, end);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.finish(ResponseEnd::ClientGone);
    }
}

/// One frame of the stream; `last` marks the final data frame of a response
/// that ends normally (hyper may drop the body right after it without
/// polling for the end when a `Content-Length` is satisfied).
struct Chunk {
    data: Bytes,
    last: bool,
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<Chunk, Aborted>> + Send>>;

/// The `hyper::body::Body` of every response.
pub(crate) struct ServedBody {
    stream: Option<ChunkStream>,
    guard: InFlight,
    end: ResponseEnd,
}

impl fmt::Debug for ServedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServedBody")
            .field("streaming", &self.stream.is_some())
            .field("guard", &self.guard)
            .finish()
    }
}

impl ServedBody {
    /// Builds the body; `flushed` is notified whenever the connection's
    /// write buffer has been fully flushed to the socket.
    pub(crate) fn new(mut guard: InFlight, plan: BodyPlan, flushed: Arc<Notify>) -> Self {
        match plan {
            BodyPlan::Empty(end) => {
                // hyper never polls an empty body: the response is done now.
                guard.finish(end);
                Self {
                    stream: None,
                    guard,
                    end,
                }
            }
            BodyPlan::Radio(p) => {
                use futures::StreamExt;
                let stream = crate::radio::stream(p, flushed)
                    .map(|r| r.map(|data| Chunk { data, last: false }));
                Self {
                    stream: Some(Box::pin(stream)),
                    guard,
                    end: ResponseEnd::Completed,
                }
            }
            BodyPlan::Stream(p) => {
                let end = p.end;
                let state = Streamer {
                    pos: 0,
                    chunk: p.chunk,
                    pacer: p.throttle.as_ref().map(Pacer::new),
                    stalls: p.stalls.into_iter().rev().collect(),
                    cut: p.cut,
                    data: p.data,
                    flushed,
                    done: false,
                };
                let stream = futures::stream::unfold(state, Streamer::step);
                Self {
                    stream: Some(Box::pin(stream)),
                    guard,
                    end,
                }
            }
        }
    }
}

impl Body for ServedBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        let this = self.get_mut();
        let Some(stream) = this.stream.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(stream.as_mut().poll_next(cx)) {
            Some(Ok(chunk)) => {
                this.guard
                    .log
                    .bytes_sent(this.guard.id, chunk.data.len() as u64);
                if chunk.last {
                    this.guard.finish(this.end);
                }
                Poll::Ready(Some(Ok(Frame::data(chunk.data))))
            }
            Some(Err(e)) => {
                this.stream = None;
                this.guard.finish(ResponseEnd::Fault);
                Poll::Ready(Some(Err(e)))
            }
            None => {
                this.stream = None;
                this.guard.finish(this.end);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // Never exact: the Content-Length header (if any) is authoritative,
        // which lets faults announce a length the body does not have.
        SizeHint::default()
    }
}

/// State of the body stream between frames.
struct Streamer {
    data: Bytes,
    pos: usize,
    chunk: usize,
    pacer: Option<Pacer>,
    /// Pending stalls, soonest last.
    stalls: Vec<(usize, Duration)>,
    cut: Option<CutKind>,
    flushed: Arc<Notify>,
    done: bool,
}

impl Streamer {
    async fn step(mut self) -> Option<(Result<Chunk, Aborted>, Streamer)> {
        if self.done {
            return None;
        }
        while let Some(&(at, stall)) = self.stalls.last() {
            if at > self.pos {
                break;
            }
            self.stalls.pop();
            tokio::time::sleep(stall).await;
        }
        let len = self.data.len();
        if self.pos >= len {
            self.done = true;
            let kind = self.cut?;
            // Make sure every byte handed to hyper reached the socket before
            // the connection is torn down, so the client sees exactly them.
            self.flushed.notified().await;
            return match kind {
                CutKind::Reset => Some((Err(Aborted), self)),
                CutKind::Close => None,
            };
        }
        let frame = match self.pacer.as_mut() {
            Some(pacer) => pacer.frame(self.chunk),
            None => self.chunk,
        };
        let mut n = frame.min(len - self.pos);
        if let Some(&(at, _)) = self.stalls.last() {
            n = n.min(at - self.pos);
        }
        if let Some(pacer) = self.pacer.as_mut() {
            pacer.wait(n).await;
        }
        let data = self.data.slice(self.pos..self.pos + n);
        self.pos += n;
        let last = self.pos == len && self.cut.is_none();
        Some((Ok(Chunk { data, last }), self))
    }
}

/// A transport wrapper that notifies `flushed` every time hyper flushes the
/// socket, which hyper only does once its own write buffer is empty.
#[derive(Debug)]
pub(crate) struct FlushIo<T> {
    pub(crate) io: T,
    pub(crate) flushed: Arc<Notify>,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for FlushIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for FlushIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = ready!(Pin::new(&mut self.io).poll_flush(cx));
        if r.is_ok() {
            self.flushed.notify_waiters();
        }
        Poll::Ready(r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Keeps `Infallible` in use for the service signature in one place.
pub(crate) type ServiceResult = Result<hyper::Response<ServedBody>, Infallible>;
