//! Application control of the variant: the ladder, lowest/highest by bandwidth, and "switch now",
//! which replaces what is laid out ahead of the reader instead of waiting for the buffer to drain.

use std::io::Read;

use kithara_hls::HlsEvent;
use kithara_stream::{AbrMode, Source};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_now_changes_the_variant_heard_within_one_segment() {
    let server = server();
    let dl = downloader();
    let (tx, mut events) = event_channel();
    let s = open(&dl, server.url("/media/hls/master.m3u8"), |c| {
        c.options.events = Some(tx);
        c.abr_mode = AbrMode::Fixed(0);
    })
    .await
    .unwrap();
    let ladder: Vec<u64> = s.source().variants().iter().map(|v| v.bandwidth).collect();
    assert_eq!(
        ladder,
        [20_000, 28_000, 36_000],
        "the ladder in playlist order"
    );
    let abr = s.source().abr_handle().unwrap();
    assert_eq!((abr.lowest(), abr.highest()), (Some(0), Some(2)));
    let segments = |v: usize| -> Vec<&'static [u8]> {
        playlist_uris(&format!("hls/ts/v{v}.m3u8"))
            .iter()
            .map(|u| file(&format!("hls/ts/{u}")))
            .collect()
    };
    let (low, high) = (segments(0), segments(2));
    let longest = low.iter().map(|s| s.len()).max().unwrap() as u64;
    let (out, switched_at, heard_at, seen) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let mut out = vec![0u8; 1000];
        s.read_exact(&mut out).unwrap();
        // Several segments of variant 0 are laid out ahead of the reader by now.
        let mut seen = Vec::new();
        loop {
            let e = events.blocking_recv().unwrap();
            let done = matches!(
                e,
                HlsEvent::SegmentFetched {
                    variant: 0,
                    sequence: 4,
                    ..
                }
            );
            seen.push(e);
            if done {
                break;
            }
        }
        assert_eq!(s.source().current_variant(), Some(0));
        let switched_at = s.position();
        abr.switch_now(AbrMode::Fixed(abr.highest().unwrap()));
        let mut heard_at = None;
        let mut buf = [0u8; 4096];
        loop {
            // One read never crosses a boundary: its bytes are all of one variant.
            let before = s.position();
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            if heard_at.is_none() && s.source().current_variant() == Some(2) {
                heard_at = Some(before);
            }
        }
        while let Ok(e) = events.try_recv() {
            seen.push(e);
        }
        (out, switched_at, heard_at.unwrap(), seen)
    })
    .await
    .unwrap();
    assert!(
        heard_at - switched_at <= longest,
        "variant 2 heard {} bytes after the switch (a segment is at most {longest})",
        heard_at - switched_at
    );
    // The stream is variant 0 up to a segment, then variant 2 from the next one on.
    let k = (1..low.len())
        .find(|&k| {
            let expected: Vec<u8> = low[..k]
                .iter()
                .chain(&high[k..])
                .flat_map(|s| s.to_vec())
                .collect();
            expected == out
        })
        .expect("variant 0's segments, then variant 2's");
    assert!(low[..k].iter().map(|s| s.len() as u64).sum::<u64>() <= heard_at);
    // Variant 2's playlist was loaded for the first time: not a reload.
    assert!(
        seen.iter()
            .any(|e| matches!(e, HlsEvent::PlaylistLoaded { variant: 2 })),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, HlsEvent::PlaylistReloaded { .. })),
        "{seen:?}"
    );
}
