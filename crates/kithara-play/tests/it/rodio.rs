//! The rodio adapter: the test pulls the source as rodio's audio thread would.

use std::time::Duration;

use kithara_play::{rodio_source, Event, Player, SinkFormat};
use rodio::Source as _;

use crate::common::{config, decode, server, DEADLINE};

#[test]
fn a_rodio_source_yields_the_queue() {
    let server = server();
    let flac = decode(&server, "/media/chirp.flac");
    let format = SinkFormat::new(22_050, 2);
    let (sink, mut source) = rodio_source(format);
    assert_eq!((source.sample_rate(), source.channels()), (22_050, 2));
    let player = Player::new(config(), sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(server.url("/media/chirp.flac")).unwrap();
    h.play().unwrap();
    let mut pulled = Vec::new();
    let start = std::time::Instant::now();
    'pull: loop {
        assert!(start.elapsed() < DEADLINE, "the queue did not end");
        // About 23 ms of audio per round, paced by waiting for events (an audio thread's pace).
        pulled.extend(source.by_ref().take(1024 * 2));
        while let Some(e) = events.recv_timeout(Duration::from_millis(5)) {
            if matches!(e, Event::QueueEnded) {
                break 'pull;
            }
        }
    }
    player.close().unwrap();
    // Closed: the source ends, as rodio expects of a finished source.
    assert!(source.by_ref().take(4096).count() < 4096);
    let audible = |s: &[f32]| s.iter().copied().filter(|v| *v != 0.0).collect::<Vec<_>>();
    assert!(audible(&pulled) == audible(&flac.samples));
}
