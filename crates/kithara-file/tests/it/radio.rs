//! Endless streams (internet radio) over the loopback radio route: ICY blocks stripped at any
//! `icy-metaint`, titles at their byte, station headers, a bounded ring with seeks inside it and
//! a typed error outside, gaps after resets and stalls, giving up after the reconnect budget.

use std::{
    io::{Read, Seek, SeekFrom},
    time::Duration,
};

use kithara_file::{Endless, File, FileConfig, FileEvent, RadioConfig, RingSize};
use kithara_stream::{BoundaryKind, MarkAt, Stream};
use kithara_test_support::{payload, Fault, LoopbackServer, Radio, Route};

use crate::common::{downloader, server};

const PAYLOAD: usize = 50_000;

fn station(server: &LoopbackServer, radio: &Radio, faults: Vec<Fault>) -> url::Url {
    let mut route = Route::radio(radio.clone()).chunk_size(7_001);
    for f in faults {
        route = route.fault(f);
    }
    server.route("/radio", route);
    server.url("/radio")
}

async fn open_radio(url: url::Url, radio: RadioConfig) -> Stream<File> {
    let config = FileConfig::remote(url, downloader()).radio(radio).build();
    Stream::<File>::new(config).await.unwrap()
}

/// Reads exactly `n` bytes with plain `Read` (which crosses boundaries) on a blocking thread;
/// tracks the most bytes the storage held meanwhile.
async fn read_n(mut s: Stream<File>, n: usize) -> (Stream<File>, Vec<u8>, u64) {
    tokio::task::spawn_blocking(move || {
        let mut out = vec![0u8; n];
        let mut got = 0;
        let mut held = 0;
        while got < n {
            let k = s.read(&mut out[got..(got + 65_536).min(n)]).unwrap();
            assert!(k > 0, "an endless stream never ends");
            got += k;
            held = held.max(s.source().storage().unwrap().covered());
        }
        (s, out, held)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icy_blocks_never_reach_the_reader_and_titles_land_on_their_byte() {
    for metaint in [1usize, 8192, 16_000, 100_000] {
        let server = server();
        let radio = Radio::new(payload(PAYLOAD, 3)).metaint(metaint);
        let url = station(&server, &radio, Vec::new());
        let s = open_radio(url, RadioConfig::default()).await;
        assert!(s.source().is_endless());
        assert_eq!(s.len(), None);
        let st = s.source().station().unwrap();
        assert_eq!(st.name.as_deref(), Some("Loopback FM"));
        assert_eq!(st.bitrate_kbps, Some(128));
        let n = 260_000;
        let (s, bytes, _) = read_n(s, n).await;
        assert!(
            bytes == radio.audio(0, n),
            "metaint {metaint}: the looped payload, no block byte"
        );
        let marks: Vec<(u64, String)> = s
            .source()
            .metadata_marks_for_test()
            .into_iter()
            .filter(|(at, _)| *at <= n as u64)
            .collect();
        assert_eq!(marks, radio.titles(n as u64), "metaint {metaint}");
        // Detection took the first request (no metadata asked); the radio asked for it.
        let log = server.requests();
        assert_eq!(log.len(), 2, "{log:#?}");
        assert_eq!(log[0].icy_metaint, None);
        assert_eq!(log[1].icy_metaint, Some(metaint as u64));
    }
}

/// `Source::metadata_marks` as (byte, title) pairs.
trait Marks {
    fn metadata_marks_for_test(&self) -> Vec<(u64, String)>;
}

impl Marks for kithara_file::FileSource {
    fn metadata_marks_for_test(&self) -> Vec<(u64, String)> {
        kithara_stream::Source::metadata_marks(self, 0)
            .into_iter()
            .map(|m| match m.at {
                MarkAt::Byte(b) => (b, m.now_playing.title.unwrap_or_default()),
                other => panic!("{other:?}"),
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_icy_metadata_the_same_bytes_and_no_titles() {
    let server = server();
    let radio = Radio::new(payload(PAYLOAD, 4)).metaint(8192);
    let url = station(&server, &radio, Vec::new());
    let config = RadioConfig::builder()
        .icy(false)
        .endless(Endless::Always)
        .build();
    let s = open_radio(url, config).await;
    let (s, bytes, _) = read_n(s, 150_000).await;
    assert!(bytes == radio.audio(0, 150_000));
    assert!(s.source().metadata_marks_for_test().is_empty());
    let log = server.requests();
    assert_eq!(log.len(), 1, "Always: no detection request");
    assert_eq!(log[0].icy_metaint, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_within_the_ring_and_seeks_work_inside_it_only() {
    let server = server();
    let radio = Radio::new(payload(PAYLOAD, 5)).metaint(16_000);
    let url = station(&server, &radio, Vec::new());
    let config = RadioConfig::builder()
        .endless(Endless::Always)
        .ring(RingSize::Bytes(200_000))
        .keep_behind(RingSize::Bytes(80_000))
        .build();
    let s = open_radio(url, config).await;
    assert_eq!(s.source().storage().unwrap().ring_capacity(), Some(200_000));
    let (s, bytes, held) = read_n(s, 1_500_000).await;
    assert!(bytes == radio.audio(0, 1_500_000));
    assert!(held <= 200_000, "the ring held {held} bytes");
    let mut s = s;
    let out = tokio::task::spawn_blocking(move || {
        s.seek(SeekFrom::Start(1_450_000)).unwrap();
        let mut back = vec![0u8; 30_000];
        s.read_exact(&mut back).unwrap();
        let err = s.seek(SeekFrom::Start(100_000)).unwrap_err();
        (back, err, s.position())
    })
    .await
    .unwrap();
    let (back, err, pos) = out;
    assert!(
        back == radio.audio(1_450_000, 30_000),
        "a seek back inside the ring"
    );
    assert_eq!(pos, 1_480_000, "a refused seek does not move the reader");
    match kithara_stream::find_error::<kithara_storage::Error>(&err) {
        Some(kithara_storage::Error::Evicted { pos: 100_000, kept }) => {
            assert!(kept.start > 100_000 && kept.end >= 1_480_000, "{kept:?}");
        }
        other => panic!("{other:?} from {err}"),
    }
}

/// The segments between gaps each start at the payload's beginning (every connection does).
fn assert_segments(radio: &Radio, bytes: &[u8], gaps: &[u64]) {
    let mut from = 0usize;
    for &end in gaps.iter().chain(std::iter::once(&(bytes.len() as u64))) {
        let end = end as usize;
        assert!(
            bytes[from..end] == radio.audio(0, end - from)[..],
            "segment {from}..{end}"
        );
        from = end;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_every_n_bytes_is_one_gap_each_and_reading_goes_on() {
    let server = server();
    let radio = Radio::new(payload(PAYLOAD, 6)).metaint(16_000);
    let every = Fault::ResetAfter {
        after: 120_000,
        times: u32::MAX,
    };
    let url = station(&server, &radio, vec![every]);
    let config = RadioConfig::builder()
        .endless(Endless::Always)
        .backoff(Duration::from_millis(5))
        .build();
    let s = open_radio(url, config).await;
    let mut events = s.events();
    let (s, bytes, _) = read_n(s, 500_000).await;
    let mut boundaries = Vec::new();
    let mut at = 1;
    while let Some(b) = s.source().next_boundary_for_test(at) {
        if b.0 > 500_000 {
            break;
        }
        assert_eq!(b.1, BoundaryKind::Discontinuity);
        boundaries.push(b.0);
        at = b.0 + 1;
    }
    // Each connection sends 120 000 wire bytes: 16 000 audio bytes then a block, …
    let per_connection = radio_audio_of(&radio, 120_000);
    let want: Vec<u64> = (1..=(500_000 / per_connection))
        .map(|k| k * per_connection)
        .collect();
    assert_eq!(boundaries, want);
    assert_segments(&radio, &bytes, &boundaries);
    let gaps: Vec<u64> = events
        .drain()
        .into_iter()
        .filter_map(|e| match e.event() {
            Some(FileEvent::Gap { at, .. }) if at <= 500_000 => Some(at),
            _ => None,
        })
        .collect();
    assert_eq!(gaps, want, "one gap event per reset");
}

/// The audio bytes a client keeps of the first `wire` bytes of a connection.
fn radio_audio_of(radio: &Radio, wire: u64) -> u64 {
    let metaint = 16_000u64;
    let (mut audio, mut w, mut last) = (0u64, 0u64, None::<String>);
    loop {
        let k = metaint.min(wire - w);
        audio += k;
        w += k;
        if w >= wire {
            return audio;
        }
        let title = radio.title(audio / PAYLOAD as u64 + 1);
        let text = format!("StreamTitle='{title}';");
        let block = if last.as_ref() == Some(&title) {
            1
        } else {
            1 + text.len().div_ceil(16) as u64 * 16
        };
        last = Some(title);
        w = (w + block).min(wire);
        if w >= wire {
            return audio;
        }
    }
}

trait Bounds {
    fn next_boundary_for_test(&self, from: u64) -> Option<(u64, BoundaryKind)>;
}

impl Bounds for kithara_file::FileSource {
    fn next_boundary_for_test(&self, from: u64) -> Option<(u64, BoundaryKind)> {
        kithara_stream::Source::next_boundary(self, from).map(|b| (b.pos, b.kind))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_station_is_detected_and_reconnected() {
    let server = server();
    let radio = Radio::new(payload(PAYLOAD, 7)).metaint(16_000);
    let stall = Fault::Stall {
        after: 60_000,
        stall: Duration::MAX,
        times: 1,
    };
    let url = station(&server, &radio, vec![stall]);
    let config = RadioConfig::builder()
        .endless(Endless::Always)
        .stall_timeout(Duration::from_millis(300))
        .backoff(Duration::from_millis(5))
        .build();
    let s = open_radio(url, config).await;
    let (s, bytes, _) = read_n(s, 200_000).await;
    let gap = s.source().next_boundary_for_test(1).unwrap();
    assert_eq!(gap.0, radio_audio_of(&radio, 60_000));
    assert_segments(&radio, &bytes, &[gap.0]);
    let log = server.requests();
    assert_eq!(log.len(), 2, "one reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_that_keeps_failing_ends_with_the_typed_error() {
    let server = server();
    let radio = Radio::new(payload(PAYLOAD, 8)).metaint(16_000);
    let cut = Fault::ResetAfter {
        after: 0,
        times: u32::MAX,
    };
    let url = station(&server, &radio, vec![cut]);
    let config = RadioConfig::builder()
        .endless(Endless::Always)
        .reconnects(2)
        .backoff(Duration::from_millis(1))
        .build();
    let mut s = open_radio(url, config).await;
    let err = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 100];
        s.read(&mut buf).unwrap_err()
    })
    .await
    .unwrap();
    match kithara_file::Error::find(&err) {
        Some(kithara_file::Error::RadioGaveUp { attempts: 3, .. }) => {}
        other => panic!("{other:?} from {err}"),
    }
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finite_body_that_stalls_is_resumed_with_a_range() {
    let server = server();
    let body = payload(400_000, 9);
    let stall = Fault::Stall {
        after: 150_000,
        stall: Duration::MAX,
        times: 1,
    };
    server.route("/song", Route::new(body.clone()).fault(stall));
    let config = FileConfig::remote(server.url("/song"), downloader())
        .stall_timeout(Duration::from_millis(300))
        .build();
    let s = Stream::<File>::new(config).await.unwrap();
    assert!(!s.source().is_endless());
    let (_s, bytes) = crate::common::read_all(s).await;
    assert!(bytes.unwrap() == body[..]);
    let log = server.requests();
    // The watchdog gave the stalled request up; the next asked for what was missing (all of it
    // from byte 150 000, unless a busy machine made an earlier gap look like a stall too).
    assert!(log.len() >= 2, "{log:#?}");
    let last = log.last().unwrap().range.clone().unwrap_or_default();
    let from: u64 = last
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(from > 0 && from <= 150_000, "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finite_file_reads_to_its_end_through_a_small_ring() {
    let server = server();
    let body = payload(3 << 20, 10);
    server.route("/long", Route::new(body.clone()));
    let config = FileConfig::remote(server.url("/long"), downloader())
        .options(
            kithara_stream::StreamOptions::builder()
                .storage(kithara_file::StorageKind::Ring {
                    capacity: 256 << 10,
                    keep_behind: 64 << 10,
                })
                .build(),
        )
        .build();
    let s = Stream::<File>::new(config).await.unwrap();
    assert!(!s.source().is_endless());
    assert_eq!(s.len(), Some(3 << 20));
    let (s, bytes) = crate::common::read_all(s).await;
    assert!(bytes.unwrap() == body[..]);
    assert!(s.source().storage().unwrap().covered() <= 256 << 10);
    // One request: the end reached, nothing before the ring's window is fetched again.
    assert_eq!(server.requests().len(), 1);
}
