//! Read-to-end throughput of a progressive HTTP body through `Stream<File>`, against a raw
//! `reqwest` GET of the same loopback route, in the same run.
//!
//! ```sh
//! cargo bench -p kithara-file --bench read_to_end                 # 256 MiB body
//! KITHARA_BENCH_MIB=64 cargo bench -p kithara-file --bench read_to_end
//! cargo bench -p kithara-file --bench read_to_end -- --test       # one quick pass, for CI
//! ```
//!
//! Storage compared: memory, an anonymous temp file, the persistent cache cold (a new, empty
//! cache directory per iteration: the download is synced and recorded) and warm (the complete
//! asset read back with no request).
//!
//! Environment: `KITHARA_BENCH_MIB` (body size in MiB, default 256), `KITHARA_BENCH_BUF` (the
//! stream reader's buffer in KiB, default 64) and `KITHARA_BENCH_BREAKDOWN=1` (first print a
//! layer-by-layer breakdown of where the stream path spends its time; see [`breakdown`]).
//!
//! The body is generated once; every stream is verified byte for byte once before timing, and each
//! timed iteration checks the final byte count. One iteration opens a new stream (new storage),
//! reads it to the end on the bench thread (a plain OS thread outside the runtime, so blocking is
//! fine) and drops it; the raw baseline runs its `chunk()` loop as a task on the same runtime and
//! `reqwest::Client` the downloader uses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::{io::Read, time::Duration};

use criterion::{criterion_group, BatchSize, Criterion, SamplingMode, Throughput};
use kithara_file::{File, FileConfig, StorageKind};
use kithara_storage::{AssetStore, AssetStoreConfig};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream, StreamOptions,
};
use kithara_test_support::{bench::env_usize, payload, LoopbackServer, Route};
use tokio::runtime::Runtime;
use url::Url;

const ROUTE: &str = "/body.bin";

struct Fixture {
    rt: Runtime,
    // Kept alive for the whole run; dropped after the runtime's clients.
    _server: LoopbackServer,
    url: Url,
    body: bytes::Bytes,
    client: reqwest::Client,
    downloader: Downloader,
    read_buf: usize,
}

impl Fixture {
    fn new() -> Self {
        let len = env_usize("KITHARA_BENCH_MIB", 256) << 20;
        let read_buf = env_usize("KITHARA_BENCH_BUF", 64) << 10;
        let body = payload(len, 0x6b69_7468);
        let server = LoopbackServer::start().expect("test server starts");
        server.route(ROUTE, Route::new(body.clone()));
        let url = server.url(ROUTE);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // One client for both paths, configured like the downloader's own.
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .expect("client");
        let downloader = {
            let _guard = rt.enter();
            Downloader::new(
                DownloaderConfig::builder()
                    .client(client.clone())
                    .runtime(rt.handle().clone())
                    .build(),
            )
            .expect("downloader")
        };
        Self {
            rt,
            _server: server,
            url,
            body,
            client,
            downloader,
            read_buf,
        }
    }

    fn len(&self) -> u64 {
        self.body.len() as u64
    }

    fn open(&self, storage: StorageKind) -> Stream<File> {
        let config = FileConfig::remote(self.url.clone(), self.downloader.clone())
            .options(StreamOptions::builder().storage(storage).build())
            .build();
        self.rt
            .block_on(Stream::<File>::new(config))
            .expect("stream opens")
    }

    /// Opens a stream and reads it to the end; `check` sees every chunk with its offset.
    fn stream_read(&self, storage: StorageKind, mut check: impl FnMut(u64, &[u8])) -> u64 {
        let mut stream = self.open(storage);
        let mut buf = vec![0u8; self.read_buf];
        let mut total = 0u64;
        loop {
            let n = stream.read(&mut buf).expect("stream read");
            if n == 0 {
                break;
            }
            check(total, &buf[..n]);
            total += n as u64;
        }
        total
    }

    /// A raw GET of the route, its body counted chunk by chunk on a runtime task.
    fn raw_read(&self, mut check: impl FnMut(u64, &[u8]) + Send + 'static) -> u64 {
        let request = self.client.get(self.url.clone());
        self.rt
            .block_on(self.rt.spawn(async move {
                let mut resp = request.send().await.expect("GET");
                assert!(resp.status().is_success(), "status {}", resp.status());
                let mut total = 0u64;
                while let Some(chunk) = resp.chunk().await.expect("body chunk") {
                    check(total, &chunk);
                    total += chunk.len() as u64;
                }
                total
            }))
            .expect("raw task")
    }
}

fn verify_once(fx: &Fixture) {
    let body = fx.body.clone();
    let check = move |offset: u64, chunk: &[u8]| {
        let at = offset as usize;
        assert!(body[at..at + chunk.len()] == *chunk, "bytes differ at {at}");
    };
    assert_eq!(fx.raw_read(check.clone()), fx.len());
    for storage in [StorageKind::Memory, StorageKind::TempFile] {
        assert_eq!(fx.stream_read(storage, check.clone()), fx.len());
    }
    // Through the cache: downloading into it, then reading it back with no request.
    let (_dir, store) = fresh_cache_with(true);
    for _ in 0..2 {
        let storage = StorageKind::Cache(store.clone());
        assert_eq!(fx.stream_read(storage, check.clone()), fx.len());
    }
}

fn read_to_end(c: &mut Criterion) {
    let fx = Fixture::new();
    verify_once(&fx);
    let len = fx.len();

    let mut group = c.benchmark_group("read_to_end");
    group
        .throughput(Throughput::Bytes(len))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    let mib = len >> 20;
    group.bench_function(format!("reqwest_raw/{mib}MiB"), |b| {
        b.iter(|| assert_eq!(fx.raw_read(|_, _| {}), len));
    });
    group.bench_function(format!("stream_memory/{mib}MiB"), |b| {
        b.iter(|| assert_eq!(fx.stream_read(StorageKind::Memory, |_, _| {}), len));
    });
    group.bench_function(format!("stream_tempfile/{mib}MiB"), |b| {
        b.iter(|| assert_eq!(fx.stream_read(StorageKind::TempFile, |_, _| {}), len));
    });
    // Cold: each iteration downloads into a new, empty persistent cache (syncing and recording
    // every 4 MiB batch); the directory is removed outside the timing.
    group.bench_function(format!("stream_cache_cold/{mib}MiB"), |b| {
        b.iter_batched(
            fresh_cache,
            |(dir, store)| {
                assert_eq!(fx.stream_read(StorageKind::Cache(store), |_, _| {}), len);
                dir
            },
            BatchSize::PerIteration,
        );
    });
    // Warm: the complete asset is read back from the cache with no request (offline-first).
    let (_warm_dir, warm) = fresh_cache_with(true);
    assert_eq!(
        fx.stream_read(StorageKind::Cache(warm.clone()), |_, _| {}),
        len
    );
    group.bench_function(format!("stream_cache_warm/{mib}MiB"), |b| {
        b.iter(|| {
            assert_eq!(
                fx.stream_read(StorageKind::Cache(warm.clone()), |_, _| {}),
                len
            )
        });
    });
    group.finish();
}

fn fresh_cache() -> (tempfile::TempDir, AssetStore) {
    fresh_cache_with(false)
}

fn fresh_cache_with(offline_first: bool) -> (tempfile::TempDir, AssetStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = AssetStoreConfig::builder()
        .dir(dir.path())
        .max_size(u64::MAX)
        .build();
    config.offline_first = offline_first;
    let store = AssetStore::new(config).expect("cache opens");
    (dir, store)
}

criterion_group!(benches, read_to_end);

fn main() {
    // `--test` (quick check) and `--list` skip the diagnostics.
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    if !quick && std::env::var_os("KITHARA_BENCH_BREAKDOWN").is_some() {
        breakdown::run();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// `KITHARA_BENCH_BREAKDOWN=1`: before the criterion run, prints where the time of the stream path
/// goes, layer by layer (wall time is the median of a few runs; CPU is the whole process's, server
/// included, from `/proc/self/stat`).
mod breakdown {
    use std::{
        sync::{
            atomic::{AtomicU64, Ordering},
            Arc,
        },
        task::{Context, Poll},
        time::{Duration, Instant},
    };

    use kithara_storage::{StorageResource, WaitOutcome};
    use kithara_stream::dl::{FetchCmd, FetchOutcome, Peer};
    use tokio_util::sync::CancellationToken;

    use super::*;

    const RUNS: usize = 5;

    /// User + system CPU time of the whole process so far (Linux; zero elsewhere).
    fn cpu() -> Duration {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return Duration::ZERO;
        };
        // Fields after the `(comm)`: state is field 3, utime 14, stime 15 (clock ticks, 100 Hz).
        let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = after
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        // `after` starts at field 3 (non-numeric state is skipped), so utime is f[10], stime f[11].
        let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
        Duration::from_millis(ticks * 10)
    }

    fn measure(name: &str, len: u64, mut f: impl FnMut() -> String) {
        let mut walls = Vec::new();
        let mut note = String::new();
        let cpu0 = cpu();
        for _ in 0..RUNS {
            let t = Instant::now();
            note = f();
            walls.push(t.elapsed());
        }
        let cpu_per_run = (cpu() - cpu0) / RUNS as u32;
        walls.sort();
        let wall = walls[RUNS / 2];
        let mib = len as f64 / (1 << 20) as f64;
        eprintln!(
            "{name:<28} {:>8.0} MiB/s  wall {:>7.1} ms  cpu {:>7.1} ms/run ({:.2} cores)  {note}",
            mib / wall.as_secs_f64(),
            wall.as_secs_f64() * 1e3,
            cpu_per_run.as_secs_f64() * 1e3,
            cpu_per_run.as_secs_f64() / wall.as_secs_f64(),
        );
    }

    /// A peer that yields one prepared command, then finishes.
    struct OnePeer {
        cmd: Option<FetchCmd>,
        cancel: CancellationToken,
    }

    impl Peer for OnePeer {
        fn poll_next(&mut self, _cx: &mut Context<'_>) -> Poll<Option<Vec<FetchCmd>>> {
            Poll::Ready(self.cmd.take().map(|c| vec![c]))
        }

        fn cancel_token(&self) -> CancellationToken {
            self.cancel.clone()
        }
    }

    /// One GET through the downloader with `write` as its writer; returns bytes and writer calls.
    fn downloader_get(
        fx: &Fixture,
        mut write: impl FnMut(u64, bytes::Bytes) + Send + 'static,
    ) -> (u64, u64) {
        let cancel = CancellationToken::new();
        let calls = Arc::new(AtomicU64::new(0));
        let counter = calls.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let cmd = FetchCmd::get(fx.url.clone())
            .with_cancel(cancel.child_token())
            .writer(move |offset, data| {
                counter.fetch_add(1, Ordering::Relaxed);
                write(offset, data);
                Ok(())
            })
            .on_complete(move |o| {
                let _ = tx.send(o);
            });
        fx.downloader.register(OnePeer {
            cmd: Some(cmd),
            cancel,
        });
        match fx.rt.block_on(rx) {
            Ok(FetchOutcome::Completed { bytes, .. }) => (bytes, calls.load(Ordering::Relaxed)),
            other => panic!("fetch did not complete: {other:?}"),
        }
    }

    fn storage(kind: &StorageKind) -> StorageResource {
        match kind {
            StorageKind::Memory => StorageResource::memory(),
            _ => StorageResource::temp_file().expect("temp file"),
        }
    }

    pub(super) fn run() {
        let fx = Fixture::new();
        let len = fx.len();
        eprintln!(
            "breakdown: {} MiB body, reader buffer {} KiB, {RUNS} runs each",
            len >> 20,
            fx.read_buf >> 10
        );

        measure("reqwest raw chunk() loop", len, || {
            let chunks = Arc::new(AtomicU64::new(0));
            let c = chunks.clone();
            assert_eq!(
                fx.raw_read(move |_, _| {
                    c.fetch_add(1, Ordering::Relaxed);
                }),
                len
            );
            let n = chunks.load(Ordering::Relaxed);
            format!("{n} chunks, mean {} B", len / n.max(1))
        });

        measure("downloader, no-op writer", len, || {
            let (bytes, calls) = downloader_get(&fx, |_, _| {});
            assert_eq!(bytes, len);
            format!("{calls} writer calls, mean {} B", len / calls.max(1))
        });

        for kind in [StorageKind::Memory, StorageKind::TempFile] {
            measure(&format!("downloader -> {kind:?} write"), len, || {
                let res = storage(&kind);
                let w = res.clone();
                let (bytes, calls) = downloader_get(&fx, move |offset, data| {
                    w.write_bytes(offset, data).expect("write_bytes");
                });
                assert_eq!(bytes, len);
                drop(res);
                format!("{calls} write_at calls")
            });
        }

        for kind in [StorageKind::Memory, StorageKind::TempFile] {
            measure(&format!("storage {kind:?} write+read"), len, || {
                // No network: 16 KiB writes then reads of the reader buffer, one thread.
                let res = storage(&kind);
                let body = &fx.body[..];
                for (i, chunk) in body.chunks(16 << 10).enumerate() {
                    res.write_at((i * (16 << 10)) as u64, chunk)
                        .expect("write_at");
                }
                let mut buf = vec![0u8; fx.read_buf];
                let mut pos = 0u64;
                while pos < len {
                    let n = res.read_at(pos, &mut buf).expect("read_at");
                    assert!(n > 0);
                    pos += n as u64;
                }
                String::from("16 KiB writes, then reads")
            });
        }

        for kind in [StorageKind::Memory, StorageKind::TempFile] {
            measure(&format!("storage {kind:?} concurrent"), len, || {
                // No network: a writer thread (16 KiB writes) and this reader (wait_range + read_at).
                let res = storage(&kind);
                res.set_len(len).expect("set_len");
                let (w, body) = (res.clone(), fx.body.clone());
                let writer = std::thread::spawn(move || {
                    for (i, chunk) in body.chunks(16 << 10).enumerate() {
                        w.write_at((i * (16 << 10)) as u64, chunk)
                            .expect("write_at");
                    }
                });
                let mut buf = vec![0u8; fx.read_buf];
                let (mut pos, mut reads, mut waits) = (0u64, 0u64, 0u64);
                loop {
                    match res.wait_range(pos..pos + 1, Duration::from_secs(30)) {
                        Ok(WaitOutcome::Ready) => {}
                        Ok(WaitOutcome::Eof) => break,
                        other => panic!("wait: {other:?}"),
                    }
                    waits += 1;
                    let n = res.read_at(pos, &mut buf).expect("read_at");
                    reads += 1;
                    pos += n as u64;
                }
                writer.join().expect("writer");
                assert_eq!(pos, len);
                format!(
                    "{reads} reads, mean {} B ({waits} waits)",
                    len / reads.max(1)
                )
            });
        }

        for kind in [StorageKind::Memory, StorageKind::TempFile] {
            measure(&format!("Stream<File> {kind:?}"), len, || {
                let mut reads = 0u64;
                assert_eq!(fx.stream_read(kind.clone(), |_, _| reads += 1), len);
                format!("{reads} reads, mean {} B", len / reads.max(1))
            });
        }
    }
}
