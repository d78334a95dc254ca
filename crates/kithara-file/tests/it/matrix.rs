//! One scenario across every storage backend and server kind (the way ripgrep's `SearcherTester`
//! runs one search through every code path): open, jump ahead, read back, read everything.

use std::io::{Read, Seek, SeekFrom};

use kithara_file::StorageKind;
use kithara_test_support::{payload, Route};

use crate::common::*;

fn routes(body: &bytes::Bytes) -> Vec<(&'static str, Route)> {
    vec![
        ("ranges", Route::new(body.clone()).throttle(32 * MIB as u64)),
        (
            "no-range",
            Route::new(body.clone())
                .no_range()
                .throttle(32 * MIB as u64),
        ),
        (
            "chunked",
            Route::new(body.clone()).chunked().throttle(32 * MIB as u64),
        ),
        (
            "unknown-total",
            Route::new(body.clone())
                .chunked()
                .unknown_total()
                .throttle(32 * MIB as u64),
        ),
        ("small-frames", Route::new(body.clone()).chunk_size(1000)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_storage_and_server_kind_reads_the_same_bytes() {
    let body = payload(3 * MIB + 333, 40);
    let dir = tempfile::tempdir().unwrap();
    for (name, route) in routes(&body) {
        let storages = [
            StorageKind::Memory,
            StorageKind::TempFile,
            StorageKind::Disk(dir.path().join(format!("{name}.bin"))),
        ];
        for storage in storages {
            let server = server();
            server.route("/m.bin", route.clone());
            let dl = downloader();
            let label = format!("{name} / {storage:?}");
            let s = open(&dl, server.url("/m.bin"), |c| {
                c.options.storage = Some(storage.clone())
            })
            .await
            .unwrap();
            let expected = body.clone();
            let s = tokio::task::spawn_blocking(move || {
                let mut s = s;
                let mut buf = vec![0u8; 5000];
                // Ahead, back, then everything from a mid-point to the end.
                for pos in [2 * MIB as u64 + 7, 100, MIB as u64] {
                    s.seek(SeekFrom::Start(pos)).unwrap();
                    s.read_exact(&mut buf).unwrap();
                    assert!(
                        buf[..] == expected[pos as usize..pos as usize + 5000],
                        "{label} at {pos}"
                    );
                }
                let mut rest = Vec::new();
                s.read_to_end(&mut rest).unwrap();
                assert!(rest[..] == expected[MIB + 5000..], "{label}: tail differs");
                s.seek(SeekFrom::Start(0)).unwrap();
                let mut all = Vec::new();
                s.read_to_end(&mut all).unwrap();
                assert!(all == expected, "{label}: whole file differs");
                s
            })
            .await
            .unwrap();
            close(s).await;
        }
    }
}
