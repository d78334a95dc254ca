//! One soak stream's runs: what every run shares ([`Ctx`], [`Slot`], [`Outcome`]) and the runs of
//! a progressive file.

use std::{
    io::{Read, Seek, SeekFrom},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use kithara_file::{File, FileConfig, StorageKind};
use kithara_loopback::{payload, LoopbackServer, Route};
use kithara_storage::AssetStore;
use kithara_stream::{dl::Downloader, ErrorClass, Stream, StreamOptions};

use super::{
    plan::{Injected, Kind},
    verify,
};

/// Largest single read.
const READ: usize = 64 * 1024;

/// What every run works with.
#[derive(Clone)]
pub(crate) struct Ctx {
    /// The loopback server.
    pub(crate) server: Arc<LoopbackServer>,
    /// The one downloader of every stream.
    pub(crate) downloader: Downloader,
    /// The persistent cache of the cached kinds (in a temporary directory).
    pub(crate) store: AssetStore,
    /// Longest wait of one read.
    pub(crate) wait: Duration,
    /// Clean decodes of the decoded media, by name.
    pub(crate) references: Arc<super::decode::References>,
}

/// One stream of the soak: its kind, its random choices and, for a file, its current body.
pub(crate) struct Slot {
    /// Its number (its routes live under `/soak/{id}/`).
    pub(crate) id: usize,
    /// What it reads.
    pub(crate) kind: Kind,
    /// Its own generator, seeded from the soak's seed and `id`.
    pub(crate) rng: fastrand::Rng,
    /// The body a file kind serves now (replaced by a [`Injected::Changed`] run).
    pub(crate) body: Bytes,
    /// The body it served before the last change: what the cache may still hold and serve when
    /// the server fails (a documented fallback).
    pub(crate) previous: Option<Bytes>,
}

/// How a run ended.
#[derive(Debug)]
pub(crate) enum End {
    /// Read (or decoded) what it meant to, every byte verified.
    Done,
    /// Dropped mid-read, as planned.
    Cancelled,
    /// An error of this class.
    Failed(ErrorClass, String),
    /// Bytes or samples that differ from the source: always a failure.
    Wrong(String),
}

/// What one run did.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The fault it was given.
    pub(crate) fault: Injected,
    /// How it ended.
    pub(crate) end: End,
    /// Bytes read and compared with the source.
    pub(crate) bytes: u64,
    /// PCM frames compared with a clean decode.
    pub(crate) frames: u64,
    /// Seeks done.
    pub(crate) seeks: u64,
}

impl Outcome {
    pub(crate) fn new(fault: Injected) -> Self {
        Self {
            fault,
            end: End::Done,
            bytes: 0,
            frames: 0,
            seeks: 0,
        }
    }
}

/// The class and message of an error, for the report.
pub(crate) fn failed(class: ErrorClass, err: &dyn std::fmt::Display) -> End {
    End::Failed(class, err.to_string())
}

/// The class of an I/O error returned by a stream's `Read`/`Seek`.
pub(crate) fn io_failed(err: &std::io::Error) -> End {
    failed(ErrorClass::of(err), err)
}

impl Slot {
    /// A new slot; a file kind gets a generated body of 256 KiB to 3 MiB.
    pub(crate) fn new(id: usize, seed: u64) -> Self {
        let mut rng =
            fastrand::Rng::with_seed(seed ^ (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let kind = Kind::of_slot(id);
        let body = match kind {
            Kind::File | Kind::CachedFile => payload(rng.usize(256 << 10..3 << 20), rng.u64(..)),
            _ => Bytes::new(),
        };
        Self {
            id,
            kind,
            rng,
            body,
            previous: None,
        }
    }

    /// The path of `name` among this slot's routes.
    pub(crate) fn path(&self, name: &str) -> String {
        format!("/soak/{}/{name}", self.id)
    }

    /// One run of this slot's kind.
    pub(crate) async fn run(&mut self, ctx: &Ctx) -> Outcome {
        match self.kind {
            Kind::File | Kind::CachedFile => self.file_run(ctx).await,
            Kind::Hls { .. } => super::hls::vod_run(self, ctx).await,
            Kind::Live => super::hls::live_run(self, ctx).await,
            Kind::Decode(name) => super::decode::decode_run(self, ctx, name).await,
        }
    }

    /// A progressive file: random seek + read pairs, maybe a whole read, maybe dropped midway.
    async fn file_run(&mut self, ctx: &Ctx) -> Outcome {
        let fault = Injected::pick(self.kind, &mut self.rng);
        let mut out = Outcome::new(fault);
        let path = self.path("body.bin");
        let body = self.body.clone();
        let len = body.len() as u64;
        let route = Route::new(body.clone()).content_type("application/octet-stream");
        ctx.server
            .route(&path, fault.apply(route, len, &mut self.rng));
        // The replacement served from a point of the run on.
        let change = (fault == Injected::Changed).then(|| {
            let at = self.rng.u64(0..len.max(1));
            (at, payload(body.len(), self.rng.u64(..)))
        });
        // What the stream may serve: the body, or, from the cache while the server fails, the
        // version before the last change.
        let stale_ok =
            self.kind == Kind::CachedFile && matches!(fault, Injected::Down | Injected::Gone);
        let mut bodies = vec![body.clone()];
        bodies.extend(self.previous.clone().filter(|_| stale_ok));
        if let Some((_, next)) = &change {
            self.previous = Some(std::mem::replace(&mut self.body, next.clone()));
        }
        let plan = FilePlan::draw(&mut self.rng, len);
        let storage = match self.kind {
            Kind::CachedFile => StorageKind::Cache(ctx.store.clone()),
            _ => StorageKind::Memory,
        };
        let options = StreamOptions::builder()
            .storage(storage)
            .wait_timeout(ctx.wait)
            .build();
        let config = FileConfig::remote(ctx.server.url(&path), ctx.downloader.clone())
            .options(options)
            .build();
        let stream = match Stream::<File>::new(config).await {
            Ok(s) => s,
            Err(e) => {
                out.end = failed(e.class(), &e);
                return out;
            }
        };
        let server = ctx.server.clone();
        let change = change.map(|(at, next)| {
            let route = Route::new(next).content_type("application/octet-stream");
            (at, move || server.route(&path, route))
        });
        let joined =
            tokio::task::spawn_blocking(move || plan.execute(stream, &bodies, change, out)).await;
        match joined {
            Ok((out, change)) => {
                // A change the reads did not reach happens now: the server serves the new body.
                if let Some((_, f)) = change {
                    f();
                }
                out
            }
            Err(e) => {
                let mut out = Outcome::new(fault);
                out.end = End::Wrong(format!("the reader thread failed: {e}"));
                out
            }
        }
    }
}

/// The reads of one file run, drawn before it starts.
struct FilePlan {
    /// Seek + read pairs: offset, length.
    seeks: Vec<(u64, usize)>,
    /// Then read the whole body from byte 0.
    whole: bool,
    /// Drop the stream once this many bytes were read.
    cancel_at: Option<u64>,
}

impl FilePlan {
    fn draw(rng: &mut fastrand::Rng, len: u64) -> Self {
        let seeks = (0..rng.usize(0..5))
            .map(|_| (rng.u64(0..len.max(1)), rng.usize(1..256 << 10)))
            .collect();
        Self {
            seeks,
            whole: rng.bool(),
            cancel_at: (rng.u32(0..5) == 0).then(|| rng.u64(0..len.max(1))),
        }
    }

    /// Runs the plan on `stream` (blocking), checking every byte against one of `bodies` (the
    /// first that matches the first bytes read, then that one only); `change` is called once the
    /// reader has read its byte count, and given back if it was not.
    fn execute<F: FnOnce()>(
        self,
        mut stream: Stream<File>,
        bodies: &[Bytes],
        mut change: Option<(u64, F)>,
        mut out: Outcome,
    ) -> (Outcome, Option<(u64, F)>) {
        let Some(primary) = bodies.first() else {
            return (out, change);
        };
        let mut body: Option<&Bytes> = None;
        let len = primary.len() as u64;
        let reads = self
            .seeks
            .iter()
            .copied()
            .chain(self.whole.then_some((0, usize::MAX)));
        let mut buf = vec![0u8; READ];
        for (offset, want) in reads {
            out.seeks += 1;
            if let Err(e) = stream.seek(SeekFrom::Start(offset)) {
                out.end = io_failed(&e);
                return (out, change);
            }
            let mut pos = offset;
            let mut left = want;
            while left > 0 {
                if self.cancel_at.is_some_and(|c| out.bytes >= c) {
                    out.end = End::Cancelled;
                    return (out, change);
                }
                if change.as_ref().is_some_and(|(at, _)| out.bytes >= *at) {
                    if let Some((_, f)) = change.take() {
                        f();
                    }
                }
                let n = match stream.read(&mut buf[..left.min(READ)]) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        out.end = io_failed(&e);
                        return (out, change);
                    }
                };
                let chunk = &buf[..n];
                let chosen = *body.get_or_insert_with(|| {
                    bodies
                        .iter()
                        .find(|b| verify::body_at(b, pos, chunk).is_ok())
                        .unwrap_or(primary)
                });
                if let Err(e) = verify::body_at(chosen, pos, chunk) {
                    out.end = End::Wrong(format!("{e:#}"));
                    return (out, change);
                }
                out.bytes += n as u64;
                pos += n as u64;
                left -= n;
            }
            // A read that stops short must stop at the end of the body.
            let len = body.map_or(len, |b| b.len() as u64);
            if left > 0 && pos != len {
                out.end = End::Wrong(format!(
                    "the stream ended at byte {pos} of a {len}-byte body"
                ));
                return (out, change);
            }
        }
        (out, change)
    }
}
