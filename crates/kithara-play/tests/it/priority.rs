//! The preload's lower priority, seen from the player. A downloader of two connections lets
//! background fetches hold at most one of them, so the track being played always finds one: a
//! test-owned background download (paced, held open) takes the background share; the current
//! track is then fetched and played while it runs, and the next track's preload, whose fetches
//! are background too, waits until that download is released, however long that is. A preload
//! made at normal priority would have started at once on the second connection.

use kithara_file::{File, FileConfig, StorageKind};
use kithara_play::{Event, Player, SinkFormat, WavSink};
use kithara_stream::{FetchPriority, Stream, StreamOptions};
use kithara_test_support::{payload, Route, ThrottleHandle};

use crate::common::{config, decode, read_wav, server, wait_for, DEADLINE};

#[test]
fn the_preload_waits_behind_background_work_while_the_current_track_plays() {
    let server = server();
    let (current, next) = ("/media/chirp.mp3", "/media/chirp.flac");
    let (mp3, flac) = (decode(&server, current), decode(&server, next));
    // The background download: 4 MiB at 16 kB/s (over four minutes), until the test lets it go.
    let gate = ThrottleHandle::new(16 * 1024);
    server.route(
        "/background.bin",
        Route::new(payload(4 << 20, 9)).throttle_handle(gate.clone()),
    );
    server.clear_log();

    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.downloader.max_in_flight = 2;
    let out = dir.path().join("out.wav");
    let sink = WavSink::create(&out, SinkFormat::new(22_050, 2)).unwrap();
    let player = Player::new(config, sink).unwrap();

    // A background stream on the player's own downloader takes one connection.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let background = rt
        .block_on(Stream::<File>::new(
            FileConfig::remote(server.url("/background.bin"), player.downloader().clone())
                .options(
                    StreamOptions::builder()
                        .storage(StorageKind::Memory)
                        .priority(FetchPriority::background())
                        .build(),
                )
                .build(),
        ))
        .unwrap();
    assert!(server.wait_until(DEADLINE, |reqs, _| reqs
        .iter()
        .any(|r| r.path == "/background.bin" && r.bytes_sent > 0)));

    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url(current)).unwrap();
    h.append(server.url(next)).unwrap();
    h.play().unwrap();
    // The current track is fetched and heard to its end while the background download runs...
    let mut seen = wait_for(&events, |e| matches!(e, Event::TrackEnded { .. }));
    let reqs = server.requests();
    let background_end = reqs
        .iter()
        .find(|r| r.path == "/background.bin")
        .map(|r| r.end);
    assert_eq!(background_end, Some(None), "still downloading: {reqs:#?}");
    assert!(reqs.iter().any(|r| r.path == current), "{reqs:#?}");
    // ... and the preload, though it began long ago, has not been let onto the second
    // connection.
    assert!(!reqs.iter().any(|r| r.path == next), "{reqs:#?}");

    // Released, the background download ends and the preload goes: when its first request
    // arrives, the background one has ended.
    gate.set(0);
    let mut background_done = None;
    assert!(server.wait_until(DEADLINE, |reqs, _| {
        if !reqs.iter().any(|r| r.path == next) {
            return false;
        }
        background_done = reqs
            .iter()
            .find(|r| r.path == "/background.bin")
            .map(|r| r.end.is_some());
        true
    }));
    assert_eq!(background_done, Some(true), "{:#?}", server.requests());
    seen.extend(wait_for(&events, |e| matches!(e, Event::QueueEnded)));
    assert!(
        !seen.iter().any(|e| matches!(e, Event::TrackFailed { .. })),
        "{seen:#?}"
    );
    player.close().unwrap();
    drop(background);

    // The render is both tracks back to back, sample for sample.
    let wav = read_wav(&out);
    let (a, b) = wav.samples.split_at(mp3.samples.len());
    assert!(a == mp3.samples.as_slice() && b == flac.samples.as_slice());
}
