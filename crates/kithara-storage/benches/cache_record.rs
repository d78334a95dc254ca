//! Cost of the persistent cache's bookkeeping on the write path: writing a
//! body in 16 KiB chunks into a sparse file and syncing it once (the floor),
//! against the same writes through an `Asset` that records every chunk and
//! syncs + rewrites its index every `record_batch` bytes, inline or (with
//! `record_deferred`) on a helper thread.
//!
//! ```sh
//! cargo bench -p kithara-storage --bench cache_record                # 64 MiB
//! KITHARA_BENCH_MIB=16 cargo bench -p kithara-storage --bench cache_record
//! cargo bench -p kithara-storage --bench cache_record -- --test      # one quick pass
//! ```
//!
//! Environment: `KITHARA_BENCH_MIB` (body size, default 64) and
//! `KITHARA_BENCH_BATCH_MIB` (`record_batch`, default 4).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kithara_storage::{AssetKey, AssetStore, AssetStoreConfig};

const CHUNK: usize = 16 << 10;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

fn bench(c: &mut Criterion) {
    let total = env_u64("KITHARA_BENCH_MIB", 64) << 20;
    let batch = env_u64("KITHARA_BENCH_BATCH_MIB", 4) << 20;
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i * 31 % 251) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("cache_record");
    g.throughput(Throughput::Bytes(total))
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));

    g.bench_function("plain_file_one_sync", |b| {
        let path = dir.path().join("plain.bin");
        b.iter(|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .unwrap();
            let mut pos = 0;
            while pos < total {
                f.write_all(&chunk).unwrap();
                pos += CHUNK as u64;
            }
            f.sync_data().unwrap();
        });
    });

    let cfg = AssetStoreConfig::builder()
        .dir(dir.path().join("cache"))
        .record_batch(batch)
        .max_size(u64::MAX)
        .build();
    let store = AssetStore::new(cfg).unwrap();
    let key = AssetKey::new(&"http://127.0.0.1/bench.bin".parse().unwrap());
    g.bench_function("asset_record_each_chunk", |b| {
        b.iter(|| {
            let asset = store.open(&key).unwrap();
            asset.discard().unwrap();
            asset.set_len(total).unwrap();
            let mut f = asset.data_file();
            f.seek(SeekFrom::Start(0)).unwrap();
            let mut pos = 0;
            while pos < total {
                f.write_all(&chunk).unwrap();
                asset.record(pos..pos + CHUNK as u64).unwrap();
                pos += CHUNK as u64;
            }
            assert!(asset.index().is_complete());
            asset.close().unwrap();
        });
    });
    // The writer never syncs: due flushes run on a helper thread, as a
    // downloader on an async runtime would run them in `spawn_blocking`.
    g.bench_function("asset_record_deferred_flush_thread", |b| {
        b.iter(|| {
            let asset = store.open(&key).unwrap();
            asset.discard().unwrap();
            asset.set_len(total).unwrap();
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let flusher = &asset;
            std::thread::scope(|s| {
                s.spawn(move || {
                    while rx.recv().is_ok() {
                        flusher.flush().unwrap();
                    }
                });
                let mut f = asset.data_file();
                f.seek(SeekFrom::Start(0)).unwrap();
                let mut pos = 0;
                while pos < total {
                    f.write_all(&chunk).unwrap();
                    if asset.record_deferred(pos..pos + CHUNK as u64).unwrap() {
                        tx.send(()).unwrap();
                    }
                    pos += CHUNK as u64;
                }
                drop(tx);
            });
            asset.flush().unwrap();
            assert!(asset.index().is_complete());
            asset.close().unwrap();
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
