//! Adaptive bitrate against a throttled server: down when the network drops, up when it recovers.

use std::{
    io::Read,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use kithara_hls::{abr::Reason, HlsEvent};
use kithara_stream::{BoundaryKind, Source};
use kithara_test_support::{Route, ThrottleHandle};
use tokio::sync::broadcast;

use crate::common::*;

/// The next event matching `pick`, waiting at most `PATIENCE`.
async fn next_event<T>(
    events: &mut broadcast::Receiver<HlsEvent>,
    mut pick: impl FnMut(&HlsEvent) -> Option<T>,
) -> (T, Vec<HlsEvent>) {
    let mut before = Vec::new();
    loop {
        let e = match tokio::time::timeout(PATIENCE, events.recv()).await {
            Ok(Ok(e)) => e,
            other => panic!("no matching event ({other:?}); before it: {before:?}"),
        };
        if let Some(t) = pick(&e) {
            return (t, before);
        }
        before.push(e);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_network_switches_down_and_a_recovered_one_back_up() {
    let server = server();
    let network = ThrottleHandle::new(0);
    for v in 0..3 {
        for uri in playlist_uris(&format!("hls/ts/v{v}.m3u8")) {
            let name = format!("hls/ts/{uri}");
            server.route(
                &format!("/media/{name}"),
                Route::new(file(&name)).throttle_handle(network.clone()),
            );
        }
    }
    let dl = downloader();
    let (tx, mut events) = event_channel();
    let s = open(&dl, server.url("/media/hls/master.m3u8"), |c| {
        c.options.events = Some(tx);
        c.buffer_ahead = Duration::from_millis(6500);
    })
    .await
    .unwrap();
    // A reader that consumes whatever arrives, and can be paused (a paused player).
    let paused = Arc::new(AtomicBool::new(false));
    let (resume_tx, resume_rx) = std::sync::mpsc::channel::<()>();
    let reader = {
        let paused = paused.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let mut total = 0usize;
            loop {
                if paused.load(Ordering::Acquire) {
                    let _ = resume_rx.recv_timeout(PATIENCE);
                    paused.store(false, Ordering::Release);
                }
                match s.read(&mut buf) {
                    Ok(0) => return (s, Ok(total)),
                    Ok(n) => total += n,
                    Err(e) => return (s, Err(e)),
                }
            }
        })
    };
    // Fast network: the top variant.
    let (first, _) = next_event(&mut events, |e| match e {
        HlsEvent::SegmentFetched { variant, .. } => Some(*variant),
        _ => None,
    })
    .await;
    assert_eq!(first, 2, "a fast start picks the top variant");
    // The network drops below the second-lowest bitrate (28 kbit/s): 2.5 kB/s is 20 kbit/s.
    network.set(2500);
    // Segments that completed before the drop (a loaded machine may have finished several at
    // full speed since the first one) are not the rule's to answer for: only what arrives from
    // here on counts.
    while let Ok(e) = events.try_recv() {
        if let HlsEvent::VariantSwitch { .. } = e {
            panic!("a switch before the network dropped: {e:?}");
        }
    }
    let ((to, reason), before) = next_event(&mut events, |e| match e {
        HlsEvent::VariantSwitch { to, reason, .. } => Some((*to, *reason)),
        _ => None,
    })
    .await;
    assert!(to < 2, "down from the top variant");
    assert!(
        matches!(reason, Reason::Down | Reason::Emergency),
        "{reason:?}"
    );
    let fetched_first = before
        .iter()
        .filter(|e| matches!(e, HlsEvent::SegmentFetched { variant: 2, .. }))
        .count();
    assert!(
        fetched_first <= 2,
        "switched down within two segments ({fetched_first})"
    );
    // The network recovers while the player is paused: the buffer fills and it goes back up.
    paused.store(true, Ordering::Release);
    network.set(64 * 1024);
    let ((up_from, up_to, up_reason), _) = next_event(&mut events, |e| match e {
        HlsEvent::VariantSwitch {
            from, to, reason, ..
        } if to > from => Some((*from, *to, *reason)),
        _ => None,
    })
    .await;
    assert!(up_to > up_from);
    assert_eq!(up_reason, Reason::Up);
    let _ = resume_tx.send(());
    let (s, total) = reader.await.unwrap();
    let total = total.unwrap();
    assert_eq!(s.len(), Some(total as u64));
    // Every switch is a boundary in the byte space.
    let mut switches = 0;
    let mut from = 1;
    while let Some(b) = s.source().next_boundary(from) {
        if b.kind == BoundaryKind::VariantSwitch {
            switches += 1;
        }
        from = b.pos + 1;
    }
    let events_seen = 2; // the down and the up switch asserted above
    assert!(switches >= events_seen, "{switches} switch boundaries");
}

/// Always the lowest variant, counting how often it was asked.
#[derive(Debug)]
struct AlwaysFirst(Arc<std::sync::atomic::AtomicUsize>);

impl kithara_hls::abr::AbrPolicy for AlwaysFirst {
    fn on_transfer(&mut self, _bytes: u64, _elapsed: Duration) {}

    fn decide(
        &mut self,
        _ctx: &kithara_hls::abr::AbrContext<'_>,
    ) -> Option<kithara_hls::abr::Decision> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Some(kithara_hls::abr::Decision::new(0, Reason::Hold))
    }

    fn estimate(&self) -> Option<f64> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_policy_chooses_every_segment() {
    let server = server();
    let dl = downloader();
    let url = server.url("/media/hls/master.m3u8");
    // kithara's rule starts a fast network on the top variant.
    let s = open(&dl, url.clone(), |_| {}).await.unwrap();
    let (_, bytes) = read_all(s).await;
    bytes.unwrap();
    let default_paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(
        default_paths.iter().any(|p| p.contains("/ts/v2-")),
        "{default_paths:?}"
    );
    server.clear_log();
    // A policy that always answers variant 0, made once for the stream.
    let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (m, a) = (made.clone(), asked.clone());
    let s = open(&dl, url, move |c| {
        c.abr_policy = Some(kithara_hls::abr::AbrPolicyFactory::new(move || {
            m.fetch_add(1, Ordering::Relaxed);
            Box::new(AlwaysFirst(a.clone()))
        }));
    })
    .await
    .unwrap();
    let (s, bytes) = read_all(s).await;
    let bytes = bytes.unwrap();
    assert_eq!(s.len(), Some(bytes.len() as u64));
    let segments: Vec<String> = server
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.ends_with(".ts"))
        .collect();
    let expected: Vec<String> = playlist_uris("hls/ts/v0.m3u8")
        .into_iter()
        .map(|u| format!("/media/hls/ts/{u}"))
        .collect();
    assert_eq!(segments, expected, "only variant 0's segments, each once");
    assert_eq!(made.load(Ordering::Relaxed), 1, "one policy for the stream");
    assert!(asked.load(Ordering::Relaxed) >= expected.len());
    let total: usize = expected
        .iter()
        .map(|p| file(p.trim_start_matches("/media/")).len())
        .sum();
    assert_eq!(bytes.len(), total, "the stream is variant 0's segments");
}
