//! Two processes on one cache directory: the test binary re-runs itself as
//! a child (`child_main`, ignored in normal runs) that holds or fills an
//! asset, and is released or killed at chosen points.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns"
)]

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use kithara_storage::{Asset, AssetKey, AssetStore, AssetStoreConfig, CacheError};

const TOTAL: u64 = 4 << 20;
const CHUNK: u64 = 64 << 10;
const BATCH: u64 = 256 << 10;
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 7) as u8 | 1
}

fn key() -> AssetKey {
    AssetKey::new(&"http://127.0.0.1:1/track.mp3".parse().unwrap())
}

fn store(dir: &Path) -> AssetStore {
    let cfg = AssetStoreConfig::builder()
        .dir(dir)
        .record_batch(BATCH)
        .background_eviction(false)
        .build();
    AssetStore::new(cfg).unwrap()
}

fn write(asset: &Asset, from: u64, to: u64) {
    let bytes: Vec<u8> = (from..to).map(pattern).collect();
    let mut f = asset.data_file();
    f.seek(SeekFrom::Start(from)).unwrap();
    f.write_all(&bytes).unwrap();
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "CHILD {line}").unwrap();
    out.flush().unwrap();
}

/// The child side. Does nothing unless started by a parent test.
#[test]
#[ignore = "run as a child process by the tests below"]
fn child_main() {
    let (Ok(mode), Ok(dir)) = (
        std::env::var("KITHARA_CACHE_CHILD"),
        std::env::var("KITHARA_CACHE_CHILD_DIR"),
    ) else {
        return;
    };
    let s = store(Path::new(&dir));
    let a = s.open(&key()).unwrap();
    a.set_len(TOTAL).unwrap();
    match mode.as_str() {
        "hold" => {
            write(&a, 0, TOTAL / 2);
            a.record(0..TOTAL / 2).unwrap();
            a.flush().unwrap();
            say("locked");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).unwrap();
            a.close().unwrap();
            say("released");
        }
        "fill" => {
            // Resume: fill what is missing, chunk by chunk.
            for gap in a.index().missing() {
                let mut pos = gap.start;
                while pos < gap.end {
                    let end = (pos + CHUNK).min(gap.end);
                    write(&a, pos, end);
                    let before = a.index().present().covered();
                    a.record(pos..end).unwrap();
                    let after = a.index().present().covered();
                    if after != before {
                        say(&format!("flushed {after}"));
                    }
                    pos = end;
                }
            }
            say("complete");
        }
        other => panic!("unknown child mode {other}"),
    }
}

struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

fn spawn(mode: &str, dir: &Path) -> ChildProc {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_main",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KITHARA_CACHE_CHILD", mode)
        .env("KITHARA_CACHE_CHILD_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest may print "test child_main ... " on the same line.
            if let Some(at) = line.find("CHILD ") {
                if tx.send(line[at + 6..].to_owned()).is_err() {
                    break;
                }
            }
        }
    });
    let stdin = child.stdin.take();
    ChildProc {
        child,
        stdin,
        lines,
    }
}

impl ChildProc {
    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(LINE_TIMEOUT)
            .expect("child said nothing in time")
    }
}

/// Every byte the index claims is the right byte.
fn check_present(s: &AssetStore) -> u64 {
    let a = s.open_read_only(&key()).unwrap().expect("asset present");
    let data = std::fs::read(a.data_path()).unwrap();
    for r in a.index().present().iter() {
        for p in r {
            assert_eq!(
                data[p as usize],
                pattern(p),
                "wrong byte {p} reported present"
            );
        }
    }
    a.index().present().covered()
}

#[test]
fn second_process_is_refused_while_the_first_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let mut child = spawn("hold", dir.path());
    assert_eq!(child.next_line(), "locked");
    assert!(matches!(s.open(&key()), Err(CacheError::Busy { .. })));
    assert!(matches!(
        s.open_read_only(&key()),
        Err(CacheError::Busy { .. })
    ));
    let report = s.clear().unwrap();
    assert_eq!((report.removed, report.skipped_in_use), (0, 1));
    // Release the child and wait for it.
    writeln!(child.stdin.take().unwrap()).unwrap();
    assert_eq!(child.next_line(), "released");
    assert!(child.child.wait().unwrap().success());
    let a = s.open(&key()).unwrap();
    assert_eq!(
        a.index().present().iter().collect::<Vec<_>>(),
        vec![0..TOTAL / 2]
    );
}

#[test]
fn killed_writers_resume_and_never_report_unwritten_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    // Seeded kill points: after the k-th flush report of each run.
    let mut seed: u64 = 0x5eed;
    let mut kills = 0;
    loop {
        let mut child = spawn("fill", dir.path());
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let k = 1 + (seed >> 33) % 3;
        let mut last_flushed = 0;
        let mut completed = false;
        for _ in 0..k {
            match child.next_line().as_str() {
                "complete" => {
                    completed = true;
                    break;
                }
                line => {
                    last_flushed = line.strip_prefix("flushed ").unwrap().parse().unwrap();
                }
            }
        }
        if completed || kills == 5 {
            while !completed {
                completed = child.next_line() == "complete";
            }
            assert!(child.child.wait().unwrap().success());
            break;
        }
        child.child.kill().unwrap();
        child.child.wait().unwrap();
        kills += 1;
        let covered = check_present(&s);
        assert!(
            covered >= last_flushed,
            "lost a flushed range: {covered} < {last_flushed}"
        );
    }
    assert_eq!(kills, 5);
    let a = s.open_read_only(&key()).unwrap().unwrap();
    assert!(a.index().is_complete());
    let data = std::fs::read(a.data_path()).unwrap();
    assert_eq!(data.len() as u64, TOTAL);
    assert!(data
        .iter()
        .enumerate()
        .all(|(i, &b)| b == pattern(i as u64)));
}
