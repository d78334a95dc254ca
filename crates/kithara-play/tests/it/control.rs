//! Commands during playback through the null sink (real-time pace), checked through the events,
//! the audio the sink took and the server's request log.

use std::time::Duration;

use kithara_play::{Event, NullSink, Player, PlayerState, SinkFormat};
use kithara_test_support::{media, LoopbackServer, ResponseEnd};

use crate::common::{config, decode, server, wait_for, DEADLINE};

const FORMAT: SinkFormat = SinkFormat {
    rate: 22_050,
    channels: 2,
};

fn is_state(e: &Event, s: PlayerState) -> bool {
    matches!(e, Event::StateChanged(x) if *x == s)
}

fn position_past(e: &Event, t: Duration) -> bool {
    matches!(e, Event::Position { position, .. } if *position >= t)
}

/// Serves the bundled WAV at `/slow.wav`, paced at `rate` bytes per second.
fn slow_wav(server: &LoopbackServer, rate: u64) {
    let wav = media::get("chirp.wav").unwrap();
    server.route("/slow.wav", wav.route().throttle(rate));
}

#[test]
fn pause_and_resume_lose_and_repeat_nothing() {
    let server = server();
    let flac = decode(&server, "/media/chirp.flac");
    let mut sink = NullSink::new(FORMAT);
    let capture = sink.capture();
    let player = Player::new(config(), sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/media/chirp.flac")).unwrap();
    h.play().unwrap();
    wait_for(&events, |e| position_past(e, Duration::from_millis(500)));
    h.pause().unwrap();
    wait_for(&events, |e| is_state(e, PlayerState::Paused));
    // Paused: no tick, no state change until the resume.
    assert!(events.recv_timeout(Duration::from_millis(300)).is_none());
    h.play().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    assert!(seen.iter().any(|e| is_state(e, PlayerState::Playing)));
    assert!(seen.iter().any(|e| matches!(e, Event::TrackEnded { .. })));
    player.close().unwrap();
    let got = capture.samples();
    assert_eq!(got.len(), flac.samples.len(), "frames lost or repeated");
    // Only the two gain ramps (down at the pause, up at the resume) differ from the decode.
    let differ = got
        .iter()
        .zip(&flac.samples)
        .filter(|(a, b)| a != b)
        .count();
    let ramp = 2 * 2 * (22_050 / 50);
    assert!(differ <= ramp, "{differ} samples differ");
}

#[test]
fn seek_during_play_continues_at_the_target_frame() {
    let server = server();
    let flac = decode(&server, "/media/chirp.flac");
    let mut sink = NullSink::new(FORMAT);
    let capture = sink.capture();
    let player = Player::new(config(), sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/media/chirp.flac")).unwrap();
    h.play().unwrap();
    wait_for(&events, |e| position_past(e, Duration::from_millis(300)));
    h.seek(Duration::from_secs(3)).unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    assert!(seen
        .iter()
        .any(|e| position_past(e, Duration::from_secs(3))));
    assert!(seen
        .iter()
        .any(|e| matches!(e, Event::BufferingStarted { .. })));
    player.close().unwrap();
    let got = capture.samples();
    let tail = &flac.samples[3 * 22_050 * 2..];
    assert!(got.len() > tail.len());
    let head = got.len() - tail.len();
    assert!(
        got[..head] == flac.samples[..head],
        "before the seek: a prefix"
    );
    assert!(got[head..] == *tail, "after the seek: from 3 s exactly");
}

#[test]
fn next_while_downloading_cancels_the_fetch() {
    let server = server();
    slow_wav(&server, 40_000);
    let flac = decode(&server, "/media/chirp.flac");
    let mut sink = NullSink::new(FORMAT);
    let capture = sink.capture();
    let player = Player::new(config(), sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    let first = h.append(server.url("/slow.wav")).unwrap();
    let second = h.append(server.url("/media/chirp.flac")).unwrap();
    h.play().unwrap();
    wait_for(
        &events,
        |e| matches!(e, Event::TrackStarted { track, .. } if *track == first),
    );
    h.next().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    let started: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::TrackStarted { track, .. } => Some(*track),
            _ => None,
        })
        .collect();
    assert_eq!(started, [second]);
    assert!(!seen
        .iter()
        .any(|e| matches!(e, Event::TrackEnded { track } if *track == first)));
    assert!(!seen
        .iter()
        .any(|e| matches!(e, Event::QueueAdvanced { .. })));
    // The slow download was abandoned: its response ended with the client gone.
    let gone = server.wait_until(DEADLINE, |log, _| {
        log.iter()
            .any(|r| r.path == "/slow.wav" && r.end == Some(ResponseEnd::ClientGone))
    });
    assert!(gone, "{:#?}", server.requests());
    let dl = player.downloader().clone();
    player.close().unwrap();
    assert_eq!(dl.in_flight(), 0);
    // The FLAC played whole after whatever of the WAV was heard.
    let got = capture.samples();
    assert!(got.ends_with(&flac.samples));
}

#[test]
fn stop_and_drop_mid_download_close_every_connection() {
    let server = server();
    slow_wav(&server, 40_000);
    let player = Player::new(config(), NullSink::new(FORMAT)).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/slow.wav")).unwrap();
    h.play().unwrap();
    wait_for(&events, |e| matches!(e, Event::TrackStarted { .. }));
    h.stop().unwrap();
    wait_for(&events, |e| is_state(e, PlayerState::Stopped));
    let closed = server.wait_until(DEADLINE, |log, _| {
        log.iter().all(|r| r.end.is_some())
            && log.iter().any(|r| r.end == Some(ResponseEnd::ClientGone))
    });
    assert!(closed, "{:#?}", server.requests());

    // Again, and drop the player mid-download.
    server.clear_log();
    h.play().unwrap();
    wait_for(&events, |e| matches!(e, Event::TrackStarted { .. }));
    let dl = player.downloader().clone();
    drop(player);
    assert_eq!(dl.in_flight(), 0);
    assert!(dl.cancel_token().is_cancelled());
    let closed = server.wait_until(DEADLINE, |log, stats| {
        stats.connections_open == 0 && log.iter().all(|r| r.end.is_some())
    });
    assert!(closed, "{:#?}", server.requests());
    assert!(h.play().is_err(), "the handle outlives the player: Closed");
}

#[test]
fn a_slow_server_rebuffers_and_continues_where_it_stopped() {
    let server = server();
    // 22.05 kHz × 2 ch × 16 bit = 88.2 kB/s of audio, served at 60 kB/s.
    slow_wav(&server, 60_000);
    let wav = decode(&server, "/media/chirp.wav");
    let mut sink = NullSink::new(FORMAT);
    let capture = sink.capture();
    let mut config = config();
    config.start_buffer = Duration::from_millis(300);
    let player = Player::new(config, sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/slow.wav")).unwrap();
    h.play().unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    let first_play = seen
        .iter()
        .position(|e| is_state(e, PlayerState::Playing))
        .unwrap();
    let rebuffers = seen[first_play..]
        .iter()
        .filter(|e| matches!(e, Event::BufferingStarted { .. }))
        .count();
    assert!(rebuffers >= 1, "{seen:#?}");
    assert!(seen
        .iter()
        .any(|e| matches!(e, Event::BufferingEnded { .. })));
    player.close().unwrap();
    // Underruns inserted silence but took nothing away and repeated nothing.
    assert!(capture.samples() == wav.samples);
}

/// Events read from async code (no tokio needed to consume them), and the player dropped inside
/// a runtime.
#[test]
fn events_read_async_and_a_player_dropped_in_async_code() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let sink = kithara_play::WavSink::create(dir.path().join("o.wav"), FORMAT).unwrap();
    let player = Player::new(config(), sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/media/chirp.flac")).unwrap();
    h.play().unwrap();
    let ended = futures::executor::block_on(async {
        while let Some(e) = events.recv_async().await {
            if matches!(e, Event::QueueEnded) {
                return true;
            }
        }
        false
    });
    assert!(ended);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move { drop(player) });
}

/// A seek the stream cannot carry out (live HLS) is reported as an `Error` event and the track
/// plays on, instead of failing.
#[test]
fn a_failed_seek_reports_an_error_and_plays_on() {
    let server = server();
    let vod = media::get("hls/ts/v0.m3u8").unwrap();
    let live: String = std::str::from_utf8(vod.bytes)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("#EXT-X-ENDLIST") && !l.starts_with("#EXT-X-PLAYLIST-TYPE"))
        .map(|l| format!("{l}\n"))
        .collect();
    server.route(
        "/media/hls/ts/live.m3u8",
        kithara_test_support::Route::new(live).content_type(vod.content_type),
    );
    let player = Player::new(config(), NullSink::new(FORMAT)).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/media/hls/ts/live.m3u8")).unwrap();
    h.play().unwrap();
    let started = wait_for(&events, |e| matches!(e, Event::Position { .. }));
    let Some(Event::Position { position, .. }) = started.last() else {
        unreachable!()
    };
    let from = *position;
    h.seek(Duration::ZERO).unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::Error(_)));
    assert!(matches!(
        seen.last(),
        Some(Event::Error(e)) if matches!(**e, kithara_play::Error::Seek { target, .. } if target.is_zero())
    ));
    // It plays on, later than where it was (nothing before the failed seek is heard again).
    let seen = wait_for(&events, |e| {
        position_past(e, from + Duration::from_millis(300))
    });
    assert!(!seen
        .iter()
        .any(|e| matches!(e, Event::TrackFailed { .. } | Event::QueueEnded)));
    assert!(seen
        .iter()
        .all(|e| !matches!(e, Event::Position { position, .. } if *position < from)));
    player.close().unwrap();
}
