//! Seeking by time, switching, failover, live playlists and bad input.

use std::{io::Read, time::Duration};

use kithara_hls::{HlsEvent, HlsSource};
use kithara_stream::{AbrMode, BoundaryKind, Source};
use kithara_test_support::{Fault, ResponseEnd, Route};

use crate::common::*;

fn segment_starts(name: &str) -> Vec<Duration> {
    let text = std::str::from_utf8(file(name)).unwrap();
    let mut t = Duration::ZERO;
    let mut starts = Vec::new();
    for l in text.lines() {
        if let Some(d) = l.strip_prefix("#EXTINF:") {
            starts.push(t);
            let secs: f64 = d
                .trim_end_matches(',')
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            t += Duration::from_secs_f64(secs);
        }
    }
    starts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_seek_lands_on_the_segment_start_and_cancels_stale_fetches() {
    let server = server();
    // The second segment's response stalls: its fetch is certainly in flight when the reader
    // seeks (the test waits for the request before seeking), however slowly the test runs.
    let uris = playlist_uris("hls/ts/v1.m3u8");
    let stalled = format!("/media/hls/ts/{}", uris[1]);
    server.route(
        &stalled,
        Route::new(file(&format!("hls/ts/{}", uris[1]))).fault(Fault::Stall {
            after: 0,
            stall: Duration::from_secs(60),
            times: 1,
        }),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/master.m3u8"), |c| {
        c.abr_mode = AbrMode::Fixed(1);
    })
    .await
    .unwrap();
    let starts = segment_starts("hls/ts/v1.m3u8");
    let target = starts
        .iter()
        .rposition(|&t| t <= Duration::from_secs(20))
        .unwrap();
    let requested = server
        .wait_until_async(PATIENCE, |log, _| log.iter().any(|r| r.path == stalled))
        .await;
    assert!(requested, "the second segment was requested");
    let (s, anchor, got) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut head = [0u8; 188];
        s.read_exact(&mut head).unwrap();
        let anchor = s.seek_time(Duration::from_secs(20)).unwrap();
        let mut buf = vec![0u8; 188];
        s.read_exact(&mut buf).unwrap();
        (s, anchor, buf)
    })
    .await
    .unwrap();
    assert_eq!(
        anchor.time, starts[target],
        "the start of the segment holding 20 s"
    );
    assert_eq!(s.position(), anchor.pos + 188);
    assert_eq!(&got[..], &file(&format!("hls/ts/{}", uris[target]))[..188]);
    let next = s.next_boundary().map(|b| b.kind);
    assert!(next.is_none() || next == Some(BoundaryKind::SeekJump));
    // The stalled fetch of the old run ends while the stream is still open: the seek cancelled
    // it (it would otherwise stall for a minute).
    let ended = server
        .wait_until_async(PATIENCE, |log, _| {
            log.iter().any(|r| r.path == stalled && r.end.is_some())
        })
        .await;
    assert!(ended, "the prefetch in flight at the seek was cancelled");
    let reqs = server.requests();
    // The old run's requests are those before the new run's first (the target segment).
    let new_run = reqs
        .iter()
        .position(|r| r.path.ends_with(&uris[target]))
        .unwrap();
    let stale: Vec<_> = reqs[..new_run]
        .iter()
        .filter(|r| r.path == stalled)
        .collect();
    assert_eq!(stale.len(), 1, "{reqs:?}");
    assert_eq!(stale[0].end, Some(ResponseEnd::ClientGone));
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_switch_is_a_boundary_and_an_event() {
    let server = server();
    let dl = downloader();
    let (tx, mut events) = event_channel();
    let s = open(&dl, server.url("/media/hls/master.m3u8"), |c| {
        c.options.events = Some(tx);
        c.abr_mode = AbrMode::Fixed(0);
        c.buffer_ahead = Duration::from_secs(4);
    })
    .await
    .unwrap();
    let abr = s.source().abr_handle().unwrap();
    let (s, bytes) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut first = [0u8; 100];
        s.read_exact(&mut first).unwrap();
        abr.set_mode(AbrMode::Fixed(2));
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        (s, rest.len() + 100)
    })
    .await
    .unwrap();
    let st: &HlsSource = s.source();
    assert_eq!(st.current_variant(), Some(2));
    assert_eq!(s.len(), Some(bytes as u64));
    let mut switches = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let HlsEvent::VariantSwitch {
            from, to, reason, ..
        } = e
        {
            switches.push((from, to, reason));
        }
    }
    assert_eq!(switches.len(), 1, "{switches:?}");
    assert_eq!((switches[0].0, switches[0].1), (0, 2));
    assert_eq!(switches[0].2, kithara_hls::abr::Reason::Manual);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_segment_fails_over_to_another_variant_at_the_same_segment() {
    let server = server();
    server.route("/media/hls/ts/v1-03.ts", Route::new(Vec::new()).status(404));
    let dl = downloader();
    let (tx, mut events) = event_channel();
    let s = open(&dl, server.url("/media/hls/master.m3u8"), |c| {
        c.options.events = Some(tx);
        c.abr_mode = AbrMode::Fixed(1);
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    let got = got.unwrap();
    let (v1, v0) = (
        playlist_uris("hls/ts/v1.m3u8"),
        playlist_uris("hls/ts/v0.m3u8"),
    );
    let mut want = Vec::new();
    for (i, (a, b)) in v1.iter().zip(&v0).enumerate() {
        let name = if i < 3 {
            format!("hls/ts/{a}")
        } else {
            format!("hls/ts/{b}")
        };
        want.extend_from_slice(file(&name));
    }
    assert!(got == want, "segments 0-2 of v1, then v0 from segment 3 on");
    let boundary = s.source().next_boundary(1).unwrap();
    assert_eq!(boundary.kind, BoundaryKind::VariantSwitch);
    let excluded = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, HlsEvent::VariantExcluded { variant: 1, .. }))
        .count();
    assert_eq!(excluded, 1);
    let asked = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/v1-03.ts"))
        .count();
    assert_eq!(asked, 1, "a 404 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_single_variant_a_missing_segment_is_the_typed_error() {
    let server = server();
    server.route("/media/hls/ts/v1-03.ts", Route::new(Vec::new()).status(404));
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/ts/v1.m3u8"), |_| {})
        .await
        .unwrap();
    let (_s, got) = read_all(s).await;
    let err = got.unwrap_err();
    let typed = kithara_stream::Error::from_io(&err).unwrap();
    assert_eq!(typed.status(), Some(404), "{typed}");
    assert!(typed.to_string().contains("v1-03.ts"), "{typed}");
    let asked = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/v1-03.ts"))
        .count();
    assert_eq!(asked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_playlists_fail_the_open_with_typed_errors() {
    let server = server();
    server.route(
        "/html.m3u8",
        Route::new(&b"<!DOCTYPE html><html>login</html>"[..]).content_type("text/html"),
    );
    server.route("/plain.m3u8", Route::new(&b"hello\n"[..]));
    server.route("/big.m3u8", Route::new(vec![b'#'; 4096]));
    server.route(
        "/empty.m3u8",
        Route::new(&b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-ENDLIST\n"[..]),
    );
    let dl = downloader();
    let err = open(&dl, server.url("/missing.m3u8"), |_| {})
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    type Is = fn(&kithara_hls::Error) -> bool;
    let cases: [(&str, Is); 4] = [
        ("/html.m3u8", |e| {
            matches!(e, kithara_hls::Error::HtmlInsteadOfPlaylist { .. })
        }),
        ("/plain.m3u8", |e| {
            matches!(e, kithara_hls::Error::MissingHeader { .. })
        }),
        ("/big.m3u8", |e| {
            matches!(e, kithara_hls::Error::PlaylistTooLarge { .. })
        }),
        ("/empty.m3u8", |e| {
            matches!(e, kithara_hls::Error::NoSegments { .. })
        }),
    ];
    for (path, is) in cases {
        let err = open(&dl, server.url(path), |c| c.max_playlist_bytes = 1024)
            .await
            .unwrap_err();
        match kithara_hls::Error::find(&err) {
            Some(e) => assert!(is(e), "{path}: {e}"),
            None => panic!("{path}: {err}"),
        }
    }
}

/// A live playlist over the v0 TS segments: the window `first..=last`, `ENDLIST` when `end`.
fn live_playlist(first: usize, last: usize, end: bool) -> String {
    let uris = playlist_uris("hls/ts/v0.m3u8");
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    );
    for uri in &uris[first..=last] {
        p.push_str(&format!("#EXTINF:1.0,\nts/{uri}\n"));
    }
    if end {
        p.push_str("#EXT-X-ENDLIST\n");
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_window_is_followed_without_gaps_until_endlist() {
    let server = server();
    server.route(
        "/media/hls/live.m3u8",
        Route::new(live_playlist(0, 2, false)),
    );
    let dl = downloader();
    let (tx, mut events) = event_channel();
    let s = open(&dl, server.url("/media/hls/live.m3u8"), |c| {
        c.options.events = Some(tx);
    })
    .await
    .unwrap();
    assert!(!s.source().is_seekable());
    let reader = tokio::spawn(read_all(s));
    // Slide the window by one segment after each reload the server sees, then end it.
    let last = 8;
    for end in 3..=last {
        let reloads = |reqs: &[kithara_test_support::RequestRecord]| {
            reqs.iter()
                .filter(|r| r.path == "/media/hls/live.m3u8")
                .count()
        };
        let seen = reloads(&server.requests());
        assert!(
            server
                .wait_until_async(PATIENCE, |reqs, _| reloads(reqs) > seen)
                .await,
            "the playlist is reloaded"
        );
        server.route(
            "/media/hls/live.m3u8",
            Route::new(live_playlist(end - 2, end, end == last)),
        );
    }
    let (_s, got) = tokio::time::timeout(PATIENCE * 2, reader)
        .await
        .unwrap()
        .unwrap();
    let uris = playlist_uris("hls/ts/v0.m3u8");
    let want: Vec<u8> = uris[..=last]
        .iter()
        .flat_map(|u| file(&format!("hls/ts/{u}")).iter().copied())
        .collect();
    assert!(
        got.unwrap() == want,
        "every segment 0..={last} once, in order"
    );
    let skipped = std::iter::from_fn(|| events.try_recv().ok())
        .any(|e| matches!(e, HlsEvent::SegmentsSkipped { .. }));
    assert!(!skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_segments_that_left_the_window_are_reported_and_skipped() {
    let server = server();
    server.route(
        "/media/hls/live.m3u8",
        Route::new(live_playlist(0, 2, false)),
    );
    let dl = downloader();
    let (tx, mut events) = event_channel();
    let s = open(&dl, server.url("/media/hls/live.m3u8"), |c| {
        c.options.events = Some(tx);
    })
    .await
    .unwrap();
    let reader = tokio::spawn(read_all(s));
    let reloads = |reqs: &[kithara_test_support::RequestRecord]| {
        reqs.iter()
            .filter(|r| r.path == "/media/hls/live.m3u8")
            .count()
    };
    // Once 0..=2 are fetched, the window jumps past segments 3 and 4, then ends.
    loop {
        let e = tokio::time::timeout(PATIENCE, events.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(e, HlsEvent::SegmentFetched { sequence: 2, .. }) {
            break;
        }
    }
    let seen = reloads(&server.requests());
    server.route(
        "/media/hls/live.m3u8",
        Route::new(live_playlist(5, 7, true)),
    );
    assert!(
        server
            .wait_until_async(PATIENCE, |reqs, _| reloads(reqs) > seen)
            .await
    );
    let (_s, got) = tokio::time::timeout(PATIENCE * 2, reader)
        .await
        .unwrap()
        .unwrap();
    let uris = playlist_uris("hls/ts/v0.m3u8");
    let want: Vec<u8> = uris[..3]
        .iter()
        .chain(&uris[5..8])
        .flat_map(|u| file(&format!("hls/ts/{u}")).iter().copied())
        .collect();
    let got = got.unwrap();
    let sizes: Vec<usize> = uris[..8]
        .iter()
        .map(|u| file(&format!("hls/ts/{u}")).len())
        .collect();
    assert!(
        got == want,
        "0..=2, then 5..=7: nothing waited on forever; got {} bytes, want {} (segment sizes {sizes:?})",
        got.len(),
        want.len()
    );
    let skipped: Vec<(u64, u64)> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            HlsEvent::SegmentsSkipped { from, to } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, vec![(3, 5)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeking_back_over_fetched_media_reuses_it_without_requests() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/master.m3u8"), |c| {
        c.abr_mode = AbrMode::Fixed(0);
    })
    .await
    .unwrap();
    // Forward to 20 s and read to the end (a run from 20 s).
    let s = tokio::task::spawn_blocking(move || {
        let mut s = s;
        s.seek_time(Duration::from_secs(20)).unwrap();
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).unwrap();
        s
    })
    .await
    .unwrap();
    // Prefetches of the first run that the seek cancelled may have to be fetched again; what
    // the run from 20 s fetched may not.
    server.clear_log();
    // Back to 10 s and read on: the run from 10 s reaches 20 s and lays the fetched segments
    // out again.
    let (_s, tail) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        s.seek_time(Duration::from_secs(10)).unwrap();
        let mut tail = Vec::new();
        s.read_to_end(&mut tail).unwrap();
        (s, tail)
    })
    .await
    .unwrap();
    let uris = playlist_uris("hls/ts/v0.m3u8");
    let starts = segment_starts("hls/ts/v0.m3u8");
    let from = starts
        .iter()
        .rposition(|&t| t <= Duration::from_secs(10))
        .unwrap();
    let want: Vec<u8> = uris[from..]
        .iter()
        .flat_map(|u| file(&format!("hls/ts/{u}")).iter().copied())
        .collect();
    if tail != want {
        let at = tail.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "from the segment holding 10 s to the end: {} bytes read, {} expected, first \
             difference at {at:?}; requests: {:#?}",
            tail.len(),
            want.len(),
            server.requests()
        );
    }
    let run_from_20 = starts
        .iter()
        .rposition(|&t| t <= Duration::from_secs(20))
        .unwrap();
    for (i, uri) in uris.iter().enumerate() {
        let asked = server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(&format!("/{uri}")))
            .count();
        let most = usize::from(i >= from && i < run_from_20);
        assert!(
            asked <= most,
            "{uri} requested {asked} times after the seek back"
        );
    }
}

/// A seek into media that only a run cut short by a later seek holds starts a new run: reading
/// on from there gives the rest of the presentation in order, never the later run's media.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seek_into_a_cut_run_reads_on_in_order() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/master.m3u8"), |c| {
        c.abr_mode = AbrMode::Fixed(0);
        c.buffer_ahead = Duration::from_secs(4);
    })
    .await
    .unwrap();
    let uris = playlist_uris("hls/ts/v0.m3u8");
    let starts = segment_starts("hls/ts/v0.m3u8");
    let holding = |t: u64| {
        starts
            .iter()
            .rposition(|&s| s <= Duration::from_secs(t))
            .unwrap()
    };
    let bytes_of = |from: usize, to: usize| -> Vec<u8> {
        uris[from..to]
            .iter()
            .flat_map(|u| file(&format!("hls/ts/{u}")).iter().copied())
            .collect()
    };
    // Run 1 is read into the segment holding 12 s, so it holds 10 s; a seek to 20 s cuts it.
    let head = bytes_of(0, holding(12) + 1);
    let (ten, twenty) = (holding(10), holding(20));
    let want_tail = bytes_of(ten, uris.len());
    let tail = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut run1 = vec![0u8; head.len()];
        s.read_exact(&mut run1).unwrap();
        assert!(run1 == head, "run 1 from the start");
        s.seek_time(Duration::from_secs(20)).unwrap();
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).unwrap();
        s.seek_time(Duration::from_secs(10)).unwrap();
        let mut tail = Vec::new();
        s.read_to_end(&mut tail).unwrap();
        tail
    })
    .await
    .unwrap();
    assert!(twenty > ten + 1);
    assert_eq!(
        tail.len(),
        want_tail.len(),
        "from 10 s to the end, nothing skipped"
    );
    assert!(
        tail == want_tail,
        "from the segment holding 10 s to the end, in order"
    );
}
