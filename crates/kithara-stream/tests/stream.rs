//! `Stream<T>` semantics over a minimal protocol backed by a `StorageResource`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::{
    io::{self, Read, Seek, SeekFrom},
    ops::Range,
    sync::{Arc, Mutex},
    time::Duration,
};

use kithara_storage::StorageResource;
use kithara_stream::{
    Boundary, BoundaryKind, Error, Fenced, Result, SignalCursor, Source, Stream, StreamParts,
    StreamType, TimeAnchor as WaitTimeAnchor, TimeMap, Timeline, WaitOutcome,
};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// A protocol whose bytes are written into storage by the test itself.
struct Mem;

struct MemSource {
    res: StorageResource,
    timeline: Timeline,
    budget: Duration,
    /// Boundaries of the test's byte space (the test may lay out more while a reader waits),
    /// and one second of media per 1000 bytes.
    boundaries: Arc<Mutex<Vec<Boundary>>>,
}

#[derive(Debug)]
struct PerMille;

impl TimeMap for PerMille {
    fn time_at(&self, pos: u64) -> Option<Duration> {
        Some(Duration::from_millis(pos))
    }
    fn byte_at(&self, t: Duration) -> Option<u64> {
        u64::try_from(t.as_millis()).ok()
    }
}

impl Source for MemSource {
    fn wait_range(&mut self, range: Range<u64>) -> Result<WaitOutcome> {
        // Storage's timeout, failure and cancel become the reader's typed errors.
        Ok(self.res.wait_range(range, self.budget)?)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        Ok(self.res.read_at(offset, buf)?)
    }
    fn len(&self) -> Option<u64> {
        self.res.len()
    }
    fn timeline(&self) -> &Timeline {
        &self.timeline
    }
    fn next_boundary(&self, from: u64) -> Option<Boundary> {
        let boundaries = self.boundaries.lock().unwrap();
        boundaries.iter().find(|b| b.pos >= from).cloned()
    }
    fn seek_time(&mut self, t: Duration) -> Result<WaitTimeAnchor> {
        let boundaries = self.boundaries.lock().unwrap().clone();
        if boundaries.is_empty() {
            return Err(Error::TimeSeekUnsupported);
        }
        // Lands on the last boundary at or before `t`, as HLS lands on a segment start.
        let pos = self.timeline.byte_at(t).unwrap_or(0);
        let start = boundaries
            .iter()
            .rev()
            .find(|b| b.pos <= pos)
            .map_or(0, |b| b.pos);
        Ok(WaitTimeAnchor::new(start, Duration::from_millis(start)))
    }
}

struct MemConfig {
    res: StorageResource,
    budget: Duration,
    cancel: CancellationToken,
    boundaries: Arc<Mutex<Vec<Boundary>>>,
}

impl StreamType for Mem {
    type Config = MemConfig;
    type Source = MemSource;
    type Events = ();

    async fn open(c: MemConfig) -> Result<StreamParts<Self>> {
        let timeline = Timeline::new();
        if !c.boundaries.lock().unwrap().is_empty() {
            timeline.set_time_map(Arc::new(PerMille));
        }
        let source = MemSource {
            res: c.res,
            timeline,
            budget: c.budget,
            boundaries: c.boundaries,
        };
        Ok(StreamParts::new(source, broadcast::channel(4).0, c.cancel))
    }
}

fn stream(res: &StorageResource, budget: Duration) -> (Stream<Mem>, CancellationToken) {
    let cancel = CancellationToken::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let s = rt
        .block_on(Stream::<Mem>::new(MemConfig {
            res: res.clone(),
            budget,
            cancel: cancel.clone(),
            boundaries: Arc::default(),
        }))
        .unwrap();
    (s, cancel)
}

fn typed(e: &io::Error) -> &Error {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<Error>())
        .expect("typed payload")
}

#[test]
fn stream_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Stream<Mem>>();
}

#[test]
fn read_blocks_until_bytes_arrive_and_ends_only_at_the_proven_end() {
    let res = StorageResource::memory();
    let (mut s, _) = stream(&res, Duration::from_secs(30));
    let writer = {
        let res = res.clone();
        std::thread::spawn(move || {
            for i in 0..10u8 {
                res.write_at(u64::from(i) * 100, &[i; 100]).unwrap();
            }
            res.set_len(1000).unwrap();
        })
    };
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    writer.join().unwrap();
    assert_eq!(all.len(), 1000);
    assert!(all
        .chunks(100)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&b| b == i as u8)));
    assert_eq!(
        s.read(&mut [0u8; 10]).unwrap(),
        0,
        "end of stream stays the end"
    );
}

#[test]
fn a_wait_that_outlives_its_budget_is_a_timeout_naming_the_range() {
    let res = StorageResource::memory();
    res.write_at(0, &[1; 10]).unwrap();
    let (mut s, _) = stream(&res, Duration::from_millis(100));
    let mut buf = [0u8; 64];
    assert_eq!(
        s.read(&mut buf).unwrap(),
        10,
        "short read of what is there, no waiting"
    );
    let err = s.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    match typed(&err) {
        Error::WaitTimeout { range, waited } => {
            assert_eq!(range.start, 10, "the position the reader waited at");
            assert!(*waited >= Duration::from_millis(100));
        }
        e => panic!("{e}"),
    }
    assert!(err.to_string().contains("bytes 10.."), "{err}");
}

#[test]
fn a_read_after_a_timeout_succeeds_once_the_bytes_arrive() {
    let res = StorageResource::memory();
    let (mut s, _) = stream(&res, Duration::from_millis(50));
    let mut buf = [0u8; 8];
    let err = s.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert_eq!(s.position(), 0, "a timed-out read does not move the stream");
    res.write_at(0, b"late").unwrap();
    assert_eq!(s.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"late");
    res.set_len(4).unwrap();
    assert_eq!(s.read(&mut buf).unwrap(), 0);
}

#[test]
#[allow(clippy::seek_from_current)] // a no-op seek is part of what is tested
fn seeks_follow_std_semantics_and_reach_the_hooks() {
    let res = StorageResource::memory();
    res.write_at(0, &(0..=255u8).collect::<Vec<_>>()).unwrap();
    let (mut s, _) = stream(&res, Duration::from_millis(200));
    let hooks = s.hooks().clone();
    let mut seen = SignalCursor::default();
    let e = s.seek(SeekFrom::End(0)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "unknown length");
    assert!(matches!(typed(&e), Error::InvalidSeek { .. }));
    assert_eq!(s.seek(SeekFrom::Start(100)).unwrap(), 100);
    assert_eq!(
        hooks.seek.take_new(&mut seen).map(|k| (k.pos, k.epoch)),
        Some((100, 1))
    );
    assert_eq!(s.seek(SeekFrom::Current(-50)).unwrap(), 50);
    assert_eq!(s.seek(SeekFrom::Current(0)).unwrap(), 50);
    assert_eq!(
        hooks.seek.take_new(&mut seen).map(|k| k.epoch),
        Some(2),
        "no-op seeks are not published"
    );
    assert_eq!(
        s.seek(SeekFrom::Current(-51)).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    let mut b = [0u8; 3];
    s.read_exact(&mut b).unwrap();
    assert_eq!(b, [50, 51, 52]);
    let chunk = hooks.chunk.latest().unwrap();
    assert_eq!((chunk.pos, chunk.len, chunk.epoch), (50, 3, 2));
    assert_eq!(s.timeline().position(), 53);
    res.set_len(256).unwrap();
    assert_eq!(s.seek(SeekFrom::End(-6)).unwrap(), 250);
    assert_eq!(
        s.seek(SeekFrom::Start(1000)).unwrap(),
        1000,
        "past the end is allowed"
    );
    assert_eq!(s.read(&mut b).unwrap(), 0);
}

#[test]
fn a_failed_download_reaches_the_reader_typed() {
    let res = StorageResource::memory();
    res.write_at(0, &[7; 10]).unwrap();
    let (mut s, _) = stream(&res, Duration::from_secs(30));
    let url = url::Url::parse("http://127.0.0.1:1/x.mp3").unwrap();
    let cause = Error::HttpStatus {
        method: http::Method::GET,
        url: kithara_stream::RedactedUrl::new(&url),
        range: None,
        status: 404,
    };
    res.fail(Arc::new(cause));
    let mut b = [0u8; 20];
    assert_eq!(
        s.read(&mut b).unwrap(),
        10,
        "bytes already present are still served"
    );
    let err = s.read(&mut b).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert_eq!(typed(&err).status(), Some(404));
}

#[test]
fn cancelling_wakes_a_blocked_reader_and_dropping_cancels() {
    let res = StorageResource::memory();
    let (mut s, cancel) = stream(&res, Duration::from_secs(30));
    let reader = std::thread::spawn(move || {
        let err = s.read(&mut [0u8; 4]).unwrap_err();
        (s, err)
    });
    // The resource is what the blocked reader sleeps on; a protocol wires its token to it.
    cancel.cancel();
    res.cancel();
    let (s, err) = reader.join().unwrap();
    assert!(typed(&err).is_cancelled());
    let token = s.cancel_token().clone();
    drop(s);
    assert!(token.is_cancelled());
    let (s2, token2) = stream(&StorageResource::memory(), Duration::from_millis(1));
    drop(s2);
    assert!(token2.is_cancelled(), "dropping a stream cancels its token");
}

#[test]
fn reads_stop_at_boundaries_and_time_seeks_land_on_them() {
    let res = StorageResource::memory();
    res.write_at(0, &[7u8; 5000]).unwrap();
    res.set_len(5000).unwrap();
    let boundaries = vec![
        Boundary::new(1000, BoundaryKind::VariantSwitch),
        Boundary::new(3000, BoundaryKind::Discontinuity),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut s = rt
        .block_on(Stream::<Mem>::new(MemConfig {
            res: res.clone(),
            budget: Duration::from_secs(5),
            cancel: CancellationToken::new(),
            boundaries: Arc::new(Mutex::new(boundaries)),
        }))
        .unwrap();
    let mut buf = [0u8; 4096];
    assert_eq!(s.next_boundary().map(|b| b.pos), Some(1000));
    assert_eq!(
        s.read(&mut buf).unwrap(),
        1000,
        "stops short of the boundary"
    );
    let at = s.next_boundary().unwrap();
    assert_eq!((at.pos, at.kind), (1000, BoundaryKind::VariantSwitch));
    assert_eq!(s.read(&mut buf).unwrap(), 2000);
    assert_eq!(s.read(&mut buf).unwrap(), 2000);
    assert_eq!(s.read(&mut buf).unwrap(), 0);
    assert_eq!(s.time_position(), Some(Duration::from_millis(5000)));

    let mut seeks = SignalCursor::default();
    let anchor = s.seek_time(Duration::from_millis(3500)).unwrap();
    assert_eq!(
        (anchor.pos, anchor.time),
        (3000, Duration::from_millis(3000))
    );
    assert_eq!(s.position(), 3000);
    let published = s.hooks().seek.take_new(&mut seeks).unwrap();
    assert_eq!(published.pos, 3000, "published like a byte seek");
    assert_eq!(s.read(&mut buf).unwrap(), 2000);
}

#[test]
fn sources_without_a_time_map_refuse_time_seeks() {
    let res = StorageResource::memory();
    let (mut s, _) = stream(&res, Duration::from_secs(1));
    let err = s.seek_time(Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, Error::TimeSeekUnsupported), "{err}");
    assert_eq!(s.position(), 0);
}

/// A read that would have to wait on a runtime's thread fails at once, naming the cause; present
/// bytes are still read there, and the same wait from `spawn_blocking` or a plain thread works.
#[test]
fn a_read_that_would_block_a_runtime_thread_fails_at_once() {
    let res = StorageResource::memory();
    res.write_at(0, b"head").unwrap();
    // A budget far beyond the test: had the read waited, the test would hang, not pass.
    let (mut s, _) = stream(&res, Duration::from_secs(3600));
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (s2, err) = current.block_on(async move {
        let mut buf = [0u8; 16];
        assert_eq!(
            s.read(&mut buf).unwrap(),
            4,
            "present bytes are read anywhere"
        );
        assert_eq!(&buf[..4], b"head");
        let err = s.read(&mut buf).unwrap_err();
        (s, err)
    });
    s = s2;
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    assert!(
        matches!(typed(&err), Error::BlockingOnRuntime { range } if range.start == 4),
        "{err}"
    );
    assert!(err.to_string().contains("spawn_blocking"), "{err}");
    assert_eq!(s.position(), 4, "the refused read did not move the stream");

    // Inside a task of a multi-thread runtime: the same; from spawn_blocking the wait goes on
    // until the bytes arrive.
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let (s3, err) = multi
        .block_on(multi.spawn(async move {
            let err = s.read(&mut [0u8; 8]).unwrap_err();
            (s, err)
        }))
        .unwrap();
    s = s3;
    assert!(
        matches!(typed(&err), Error::BlockingOnRuntime { .. }),
        "{err}"
    );
    let reader = multi.spawn_blocking(move || {
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).map(|_| rest)
    });
    res.write_at(4, b" and tail").unwrap();
    res.set_len(13).unwrap();
    assert_eq!(multi.block_on(reader).unwrap().unwrap(), b" and tail");
}

fn fenced_stream(res: &StorageResource, boundaries: &Arc<Mutex<Vec<Boundary>>>) -> Stream<Mem> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(Stream::<Mem>::new(MemConfig {
        res: res.clone(),
        budget: Duration::from_secs(30),
        cancel: CancellationToken::new(),
        boundaries: Arc::clone(boundaries),
    }))
    .unwrap()
}

#[test]
fn fenced_reads_stop_at_every_boundary_after_the_window_start_including_the_current_position() {
    let res = StorageResource::memory();
    res.write_at(0, &[7u8; 5000]).unwrap();
    res.set_len(5000).unwrap();
    let boundaries = Arc::new(Mutex::new(vec![
        Boundary::new(0, BoundaryKind::Init),
        Boundary::new(1000, BoundaryKind::VariantSwitch),
        Boundary::new(3000, BoundaryKind::Discontinuity),
    ]));
    let mut s = fenced_stream(&res, &boundaries);
    let mut buf = [0u8; 4096];
    assert_eq!(
        s.start_window().map(|b| b.pos),
        Some(0),
        "the boundary crossed"
    );
    assert_eq!(s.window_end().map(|b| b.pos), Some(1000));
    assert_eq!(s.read_fenced(&mut buf).unwrap(), Fenced::Bytes(1000));
    // At the boundary now: nothing read, the position stays, as often as asked.
    for _ in 0..2 {
        match s.read_fenced(&mut buf).unwrap() {
            Fenced::Boundary(b) => assert_eq!((b.pos, b.kind), (1000, BoundaryKind::VariantSwitch)),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.position(), 1000);
    }
    assert_eq!(s.start_window().map(|b| b.pos), Some(1000));
    assert_eq!(s.window_end().map(|b| b.pos), Some(3000));
    assert_eq!(s.read_fenced(&mut buf).unwrap(), Fenced::Bytes(2000));
    // A seek past the window's end does not let the reader through either.
    s.seek(SeekFrom::Start(4000)).unwrap();
    assert!(matches!(s.read_fenced(&mut buf).unwrap(), Fenced::Boundary(b) if b.pos == 3000));
    assert_eq!(s.start_window(), None, "no boundary at 4000");
    assert_eq!(s.read_fenced(&mut buf).unwrap(), Fenced::Bytes(1000));
    assert_eq!(s.read_fenced(&mut buf).unwrap(), Fenced::End);
    // A seek by time starts its window at the anchor.
    let anchor = s.seek_time(Duration::from_millis(1500)).unwrap();
    assert_eq!(anchor.pos, 1000);
    assert_eq!(s.read_fenced(&mut buf).unwrap(), Fenced::Bytes(2000));
    // Plain reads cross the boundaries they meet (one read never spans one).
    s.seek(SeekFrom::Start(0)).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), 5000);
}

#[test]
fn a_boundary_laid_out_where_a_fenced_read_waits_ends_the_window_without_a_byte() {
    let res = StorageResource::memory();
    res.write_at(0, &[1u8; 1000]).unwrap();
    let boundaries = Arc::new(Mutex::new(Vec::new()));
    let mut s = fenced_stream(&res, &boundaries);
    s.start_window();
    let mut buf = [0u8; 4096];
    assert_eq!(s.read_fenced(&mut buf).unwrap(), Fenced::Bytes(1000));
    let reader = std::thread::spawn(move || {
        let got = s.read_fenced(&mut buf).unwrap();
        (got, s.position())
    });
    // The next piece is laid out behind a boundary, then its bytes arrive: whether the reader
    // was already waiting or not, it gets the boundary and none of the bytes after it.
    boundaries
        .lock()
        .unwrap()
        .push(Boundary::new(1000, BoundaryKind::VariantSwitch));
    res.write_at(1000, &[2u8; 1000]).unwrap();
    res.set_len(2000).unwrap();
    let (got, pos) = reader.join().unwrap();
    assert!(
        matches!(&got, Fenced::Boundary(b) if b.pos == 1000),
        "{got:?}"
    );
    assert_eq!(pos, 1000);
}
