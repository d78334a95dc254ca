//! Delivering one response body to the command's writer: bytes before the resume point (a `200`
//! to a ranged request) and past the range end are dropped; a writer that blocks (file storage)
//! runs on a blocking thread with a bounded hand-off queue, so it never stalls the async workers.

use std::{sync::atomic::Ordering, time::Duration};

use bytes::Bytes;
use tokio::{sync::mpsc, task::JoinHandle, time::timeout};

use super::{
    attempt::{Progress, Stop},
    fetch::{ByteRange, Writer},
    peer::PeerState,
    response::transport,
    FetchCmd,
};
use crate::error::{Error, RedactedUrl};

/// Batches queued for a blocking writer before the body reader waits for it.
const BLOCKING_QUEUE: usize = 4;
/// Largest batch of chunks handed to a blocking writer at once. Chunks are gathered only while
/// more are already waiting on the socket: when the body pauses, the batch goes out at once, so
/// batching never delays bytes a reader waits for.
const BATCH_BYTES: usize = 256 * 1024;

/// Chunks handed to a blocking writer together.
type Batch = Vec<(u64, Bytes)>;

/// One response body being delivered.
pub(super) struct Body<'a> {
    pub(super) method: &'a http::Method,
    pub(super) url: &'a RedactedUrl,
    /// The requested range, as errors report it.
    pub(super) range: Option<ByteRange>,
    /// The requested bytes (`want.start` is the resume point).
    pub(super) want: ByteRange,
    /// Where the body must end for the command to be complete, if known.
    pub(super) expected_end: Option<u64>,
    pub(super) inactivity: Duration,
}

/// How a blocking writer ended: its failure and the offset of the chunk it refused, if any.
type WriterResult = Result<(), (u64, Error)>;

/// Where chunks go: the writer called inline, or a blocking thread running it. The writer is
/// taken out of the command for the attempt and handed back by [`Sink::finish`].
enum Sink {
    Inline(Option<Writer>),
    Blocking {
        tx: mpsc::Sender<Batch>,
        task: JoinHandle<(Writer, WriterResult)>,
        batch: Batch,
        batch_bytes: usize,
    },
}

impl Sink {
    fn new(writer: Option<Writer>, blocking: bool) -> Self {
        match writer {
            Some(mut w) if blocking => {
                let (tx, mut rx) = mpsc::channel::<Batch>(BLOCKING_QUEUE);
                let task = tokio::task::spawn_blocking(move || {
                    while let Some(batch) = rx.blocking_recv() {
                        for (offset, data) in batch {
                            if let Err(e) = w(offset, data) {
                                return (w, Err((offset, e)));
                            }
                        }
                    }
                    (w, Ok(()))
                });
                Sink::Blocking {
                    tx,
                    task,
                    batch: Vec::new(),
                    batch_bytes: 0,
                }
            }
            w => Sink::Inline(w),
        }
    }

    /// Hands one chunk over; `Err(Some(..))` carries the writer's failure and its offset,
    /// `Err(None)` means a blocking writer stopped (its failure comes from `finish`).
    async fn put(&mut self, offset: u64, data: Bytes) -> Result<(), Option<(u64, Error)>> {
        match self {
            Sink::Inline(w) => match w.as_mut() {
                Some(w) => w(offset, data).map_err(|e| Some((offset, e))),
                None => Ok(()),
            },
            Sink::Blocking {
                batch, batch_bytes, ..
            } => {
                *batch_bytes += data.len();
                batch.push((offset, data));
                if *batch_bytes >= BATCH_BYTES {
                    self.flush().await?;
                }
                Ok(())
            }
        }
    }

    /// Hands the gathered chunks to a blocking writer.
    async fn flush(&mut self) -> Result<(), Option<(u64, Error)>> {
        match self {
            Sink::Blocking {
                tx,
                batch,
                batch_bytes,
                ..
            } if !batch.is_empty() => {
                *batch_bytes = 0;
                tx.send(std::mem::take(batch)).await.map_err(|_| None)
            }
            _ => Ok(()),
        }
    }

    /// Waits for a blocking writer to land every queued chunk; returns the writer and how it did.
    async fn finish(mut self) -> (Option<Writer>, WriterResult) {
        // A refused batch means the writer stopped; its error comes from the task below.
        let _ = self.flush().await;
        match self {
            Sink::Inline(w) => (w, Ok(())),
            Sink::Blocking { tx, task, .. } => {
                drop(tx);
                match task.await {
                    Ok((w, result)) => (Some(w), result),
                    Err(_) => (None, Err((0, Error::Cancelled))),
                }
            }
        }
    }
}

impl Body<'_> {
    fn write_error(&self, offset: u64, e: Error) -> Stop {
        if matches!(e, Error::Cancelled) {
            return Stop::Cancelled;
        }
        Stop::Fatal(Error::Write {
            url: self.url.clone(),
            offset,
            source: Box::new(e),
        })
    }

    fn put_error(&self, failed: Option<(u64, Error)>) -> Stop {
        match failed {
            Some((offset, e)) => self.write_error(offset, e),
            // The blocking writer stopped: `receive` reports why.
            None => Stop::Cancelled,
        }
    }

    /// Hands the body, whose first byte is at absolute `body_start`, to the writer. Returns the
    /// absolute offset where the body ended cleanly.
    pub(super) async fn receive(
        &self,
        resp: reqwest::Response,
        body_start: u64,
        cmd: &mut FetchCmd,
        progress: &mut Progress,
        state: &PeerState,
    ) -> Result<u64, Stop> {
        let mut sink = Sink::new(cmd.writer.take(), cmd.is_writer_blocking());
        let delivered = self
            .pump(resp, body_start, &mut sink, progress, state)
            .await;
        let (writer, finished) = sink.finish().await;
        cmd.writer = writer;
        // A writer failure explains a closed queue better than the queue does.
        finished.map_err(|(offset, e)| self.write_error(offset, e))?;
        delivered
    }

    async fn pump(
        &self,
        mut resp: reqwest::Response,
        body_start: u64,
        sink: &mut Sink,
        progress: &mut Progress,
        state: &PeerState,
    ) -> Result<u64, Stop> {
        let url = self.url;
        let end = self.want.end;
        let mut pos = body_start;
        loop {
            let next = timeout(self.inactivity, resp.chunk());
            tokio::pin!(next);
            // Gathered chunks go out as soon as the body pauses, before waiting for more.
            let next = match futures::poll!(next.as_mut()) {
                std::task::Poll::Ready(r) => r,
                std::task::Poll::Pending => {
                    if let Err(failed) = sink.flush().await {
                        return Err(self.put_error(failed));
                    }
                    next.await
                }
            };
            let chunk = match next {
                Err(_) => {
                    return Err(Stop::retry(Error::Inactivity {
                        url: url.clone(),
                        range: self.range,
                        timeout: self.inactivity,
                    }))
                }
                Ok(Err(e)) => {
                    return Err(Stop::retry(transport(
                        self.method,
                        url,
                        self.range,
                        e,
                        true,
                    )))
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(c))) => c,
            };
            let chunk_start = pos;
            pos += chunk.len() as u64;
            let lo = progress.next.max(chunk_start);
            let hi = end.map_or(pos, |e| pos.min(e));
            if hi > lo {
                let data = chunk.slice((lo - chunk_start) as usize..(hi - chunk_start) as usize);
                if let Err(failed) = sink.put(lo, data).await {
                    return Err(self.put_error(failed));
                }
                let n = hi - lo;
                progress.next = hi;
                progress.delivered += n;
                state.bytes.fetch_add(n, Ordering::Relaxed);
                tracing::trace!(offset = lo, len = n, "chunk");
            }
            if end.is_some_and(|e| progress.next >= e) {
                return Ok(progress.next);
            }
        }
        if pos < self.want.start {
            // A whole body (200) that ends before the bytes asked for cannot be the same resource.
            return Err(Stop::Fatal(Error::RangeNotHonoured {
                url: url.clone(),
                requested: self.want,
                status: 200,
                body_len: Some(pos),
            }));
        }
        match self.expected_end {
            Some(e) if progress.next < e => Err(Stop::retry(Error::ShortBody {
                url: url.clone(),
                got: progress.next,
                expected: e,
            })),
            _ => Ok(pos),
        }
    }
}
