//! HLS audio renditions (`EXT-X-MEDIA TYPE=AUDIO`): chosen by name or language at the open, and
//! changed while playing (the track is opened again at the position heard).

use std::time::Duration;

use kithara_play::{AudioChoice, Event, NullSink, Player, SinkFormat, WavSink};
use kithara_test_support::{LoopbackServer, Route};

use crate::common::{config, decode, read_wav, server, wait_for};

/// The fixture's HLS audio: 16 kHz mono.
const FORMAT: SinkFormat = SinkFormat {
    rate: 16_000,
    channels: 1,
};

/// One variant whose audio group offers two renditions: "Low" (English, the default, the 16
/// kbit/s media) and "High" (French, the 32 kbit/s media). Served at `/media/hls/names.m3u8`.
fn master(server: &LoopbackServer) -> url::Url {
    let body = "#EXTM3U\n#EXT-X-VERSION:3\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Low\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"ts/v0.m3u8\"\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"High\",LANGUAGE=\"fr\",AUTOSELECT=YES,URI=\"ts/v2.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=36000,CODECS=\"mp4a.40.2\",AUDIO=\"aud\"\nts/v0.m3u8\n";
    server.route(
        "/media/hls/names.m3u8",
        Route::new(body).content_type("application/vnd.apple.mpegurl"),
    );
    server.url("/media/hls/names.m3u8")
}

/// Whether the server was asked for a segment of `media` (`v0`, `v2`).
fn fetched(server: &LoopbackServer, media: &str) -> bool {
    let prefix = format!("/media/hls/ts/{media}-");
    server
        .requests()
        .iter()
        .any(|r| r.path.starts_with(&prefix))
}

#[test]
fn a_rendition_is_chosen_by_name_or_language() {
    let server = server();
    let url = master(&server);
    let high = decode(&server, "/media/hls/ts/v2.m3u8").samples;
    let low = decode(&server, "/media/hls/ts/v0.m3u8").samples;
    assert_ne!(high, low);
    for choice in [
        AudioChoice::Name("high".into()),
        AudioChoice::Language("fr".into()),
    ] {
        server.clear_log();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wav");
        let mut config = config();
        match &choice {
            AudioChoice::Name(n) => config.audio_name = Some(n.clone()),
            AudioChoice::Language(l) => config.audio_language = Some(l.clone()),
            _ => unreachable!(),
        }
        let player = Player::new(config, WavSink::create(&path, FORMAT).unwrap()).unwrap();
        let h = player.handle();
        let events = h.subscribe().unwrap();
        h.append(url.clone()).unwrap();
        h.play().unwrap();
        wait_for(&events, |e| matches!(e, Event::QueueEnded));
        player.close().unwrap();
        assert!(
            read_wav(&path).samples == high,
            "{choice:?}: not the High rendition"
        );
        assert!(
            fetched(&server, "v2") && !fetched(&server, "v0"),
            "{choice:?}"
        );
    }
}

#[test]
fn a_rendition_changed_while_playing_continues_from_the_position_heard() {
    let server = server();
    let url = master(&server);
    let high = decode(&server, "/media/hls/ts/v2.m3u8").samples;
    let low = decode(&server, "/media/hls/ts/v0.m3u8").samples;
    server.clear_log();
    let mut sink = NullSink::new(FORMAT);
    let capture = sink.capture();
    let player = Player::new(config(), sink).unwrap();
    let h = player.handle();
    let events = h.subscribe().unwrap();
    h.append(url).unwrap();
    h.play().unwrap();
    wait_for(&events, |e| matches!(e, Event::TrackStarted { .. }));
    // Near the end, so the test plays a few seconds only.
    h.seek(Duration::from_secs(26)).unwrap();
    let at = Duration::from_millis(26_300);
    wait_for(
        &events,
        |e| matches!(e, Event::Position { position, .. } if *position >= at),
    );
    assert!(!fetched(&server, "v2"));
    h.set_audio(AudioChoice::Name("High".into())).unwrap();
    let seen = wait_for(&events, |e| matches!(e, Event::QueueEnded));
    player.close().unwrap();
    assert!(fetched(&server, "v2"));
    // The same track goes on from where it was heard: no new start, no failure, no rewind.
    assert!(seen.iter().any(|e| matches!(e, Event::TrackEnded { .. })));
    assert!(!seen
        .iter()
        .any(|e| matches!(e, Event::TrackStarted { .. } | Event::TrackFailed { .. })));
    assert!(seen
        .iter()
        .all(|e| !matches!(e, Event::Position { position, .. } if *position < at)));
    // The HLS stream tells its bytes downloaded ahead of the reader.
    assert!(seen
        .iter()
        .any(|e| matches!(e, Event::Position { buffered_bytes: Some(b), .. } if *b > 0)));
    // What was heard last is the High rendition's end, sample for sample.
    let got = capture.samples();
    let tail = 8_000;
    assert!(got.len() > tail);
    assert!(got[got.len() - tail..] == high[high.len() - tail..]);
    assert!(got[got.len() - tail..] != low[low.len() - tail..]);
}
