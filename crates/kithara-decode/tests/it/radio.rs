//! The internet-radio acceptance at the PCM level (issue 22): a loopback station loops a fixture
//! (a tagged MP3 with its Xing/LAME frame, and an ADTS AAC) forever, with ICY metadata at several
//! `icy-metaint`, without it, with resets and with a stall, and a `Decoder` over `Stream<File>`
//! with the radio config decodes a minute of it, as `kithara decode URL --duration 60` does.
//!
//! Everything expected comes from the fixtures and the station's wire format (`radio_layout`):
//! the PCM is the fixture's own clean decode looped; a title's media time is where the packet
//! holding its byte (the first audio byte after its block, from the `Radio`'s title offsets)
//! starts on that looped timeline.

use std::time::Duration;

use kithara_decode::Decoder;
use kithara_file::{Endless, File, FileConfig, FileEvent, RadioConfig};
use kithara_stream::{BoundaryKind, EventReceiver, Stream};
use kithara_test_support::{Fault, Radio, ResponseEnd, Route};

use crate::{
    common::Env,
    radio_layout::{wire_bytes, Fixture},
};

/// The server's log of the requests to `path`.
fn requests_to(env: &Env, path: &str) -> Vec<kithara_test_support::RequestRecord> {
    let log = env.server.requests();
    log.into_iter().filter(|r| r.path == path).collect()
}

/// Seconds of media decoded per station.
const SECS: u64 = 60;

/// What decoding a station gave, on the decoded timeline (frames from the first).
#[derive(Debug, Default)]
struct Heard {
    pcm: Vec<f32>,
    /// The source's marks (ICY titles): the frame each was reported at, and its title.
    titles: Vec<(u64, String)>,
    /// A file's own tags (each MP3 loop's ID3v2 title): frame and title.
    tags: Vec<(u64, String)>,
    /// The frames at which a chunk after a discontinuity starts.
    gaps: Vec<u64>,
    /// The byte of every `FileEvent::Gap` the stream sent.
    gap_events: Vec<u64>,
}

fn open(env: &Env, path: &str, radio: RadioConfig) -> (Decoder<File>, EventReceiver<FileEvent>) {
    let config = FileConfig::remote(env.server.url(path), env.dl.clone())
        .radio(radio)
        .build();
    let stream = env.rt.block_on(Stream::<File>::new(config)).unwrap();
    assert!(stream.source().is_endless());
    let events = stream.events();
    let d = Decoder::new(stream, kithara_decode::DecoderConfig::default()).unwrap();
    (d, events)
}

fn take_gap_events(events: &mut EventReceiver<FileEvent>, into: &mut Vec<u64>) {
    for e in events.drain() {
        match e {
            kithara_stream::Received::Event(FileEvent::Gap { at, .. }) => into.push(at),
            kithara_stream::Received::Lagged(n) => panic!("{n} events lost"),
            _ => {}
        }
    }
}

/// Decodes `frames` frames (and the rest of the last chunk).
fn listen(fx: &Fixture, d: &mut Decoder<File>, ev: &mut EventReceiver<FileEvent>) -> Heard {
    let frames = fx.frames_of(SECS);
    let mut h = Heard::default();
    let mut at = 0u64;
    while at < frames {
        let c = d.next_chunk().unwrap().expect("a station never ends");
        assert_eq!(
            (c.sample_rate, usize::from(c.channels)),
            (fx.rate, fx.channels)
        );
        let time_frames = (c.time.as_nanos() * u128::from(fx.rate) + 500_000_000) / 1_000_000_000;
        assert_eq!(
            time_frames,
            u128::from(at),
            "the timeline runs on without a hole"
        );
        if let Some(change) = &c.change {
            assert_eq!(change.kind, BoundaryKind::Discontinuity, "{change:?}");
            h.gaps.push(at);
        }
        for np in &c.now_playing {
            let heard = (
                at + np.offset as u64,
                np.now_playing.title.clone().unwrap_or_default(),
            );
            if np.seq.is_some() {
                h.titles.push(heard);
            } else {
                h.tags.push(heard);
            }
        }
        at += c.frames() as u64;
        h.pcm.extend_from_slice(&c.samples);
        take_gap_events(ev, &mut h.gap_events);
    }
    h.pcm.truncate(frames as usize * fx.channels);
    h.titles.retain(|t| t.0 < frames);
    h.tags.retain(|t| t.0 < frames);
    h
}

/// Asserts that `pcm`, decoded from one connection (which starts at the payload's first byte),
/// is the fixture's clean PCM looped, sample for sample, with the same number of frames.
///
/// The issue allows one codec frame of difference at each loop join. None is tolerated here,
/// because none is needed: each MP3 loop is a file of its own, read by its own format reader
/// and trimmed by its own LAME tag, so it decodes as the file alone does; the AAC decoder runs
/// on across the loop join, but the fixture's last frame is the encoder's padding (silence), so
/// the overlap it carries into the next loop's first frame adds zeros. After a gap a new codec
/// starts, as for the file alone.
fn assert_looped(fx: &Fixture, pcm: &[f32], what: &str) {
    let (ch, loop_frames) = (fx.channels, fx.loop_frames() as usize);
    let frames = pcm.len() / ch;
    let mut wrong = (0..frames).filter(|&f| {
        let g = f % loop_frames;
        pcm[f * ch..(f + 1) * ch] != fx.pcm[g * ch..(g + 1) * ch]
    });
    if let Some(first) = wrong.next() {
        panic!(
            "{} {what}: frame {first} (loop {}, frame {} of it) and {} more differ from the \
             fixture's PCM",
            fx.name,
            first / loop_frames,
            first % loop_frames,
            wrong.count()
        );
    }
}

/// The titles a listener of `radio` must hear in the first `frames` frames of one connection
/// that lasts `audio` audio bytes, placed from `start` (a frame) on.
fn expected_titles(
    fx: &Fixture,
    radio: &Radio,
    audio: u64,
    start: u64,
    frames: u64,
) -> Vec<(u64, String)> {
    radio
        .titles(audio)
        .into_iter()
        .filter(|(b, _)| *b < audio)
        .map(|(b, t)| (start + fx.frame_of_byte(b), t))
        .filter(|(f, _)| *f < start + frames)
        .collect()
}

/// The MP3's own tag on every loop's first chunk; the AAC has none.
fn assert_tags(fx: &Fixture, h: &Heard, loop_starts: &[u64]) {
    let want: Vec<(u64, String)> = match fx.name {
        "mp3" => loop_starts
            .iter()
            .map(|&f| (f, String::from("kit radio")))
            .collect(),
        _ => Vec::new(),
    };
    assert_eq!(h.tags, want, "{}: the file's own tags", fx.name);
}

fn loop_starts(fx: &Fixture, from: u64, frames: u64) -> Vec<u64> {
    (0..)
        .map(|k| from + k * fx.loop_frames())
        .take_while(|&f| f < from + frames)
        .collect()
}

fn looping_station(fx: &Fixture, env: &Env) {
    for metaint in [1usize, 8192, 16_000, 100_000] {
        let path = format!("/live-{}-{metaint}", fx.name);
        let radio = Radio::new(fx.payload.clone())
            .metaint(metaint)
            .title_prefix("Song");
        env.server.route(
            &path,
            Route::radio(radio.clone()).content_type(fx.content_type),
        );
        let (mut d, mut ev) = open(env, &path, RadioConfig::default());
        let h = listen(fx, &mut d, &mut ev);
        let what = format!("metaint {metaint}");
        assert!(
            h.gaps.is_empty() && h.gap_events.is_empty(),
            "{what}: {h:?}"
        );
        assert_looped(fx, &h.pcm, &what);
        let frames = fx.frames_of(SECS);
        // Every title whose byte the decoded minute reached (one loop more than it).
        let audio = fx.byte_of_frame(frames) + fx.payload.len() as u64;
        let want = expected_titles(fx, &radio, audio, 0, frames);
        assert!(want.len() >= 3, "{what}: {want:?}");
        assert_eq!(h.titles, want, "{} {what}: titles", fx.name);
        assert_tags(fx, &h, &loop_starts(fx, 0, frames));
        // Detection asked without metadata (as any first request), the radio with it, and the
        // server sent blocks.
        let log = requests_to(env, &path);
        assert_eq!(log.len(), 2, "{log:#?}");
        assert_eq!(log[0].icy_metaint, None);
        assert_eq!(log[1].icy_metaint, Some(metaint as u64));
    }
}

#[test]
fn a_station_looping_an_mp3_decodes_to_its_pcm_with_every_title_at_its_time() {
    let env = Env::new();
    looping_station(&Fixture::mp3(&env), &env);
}

#[test]
fn a_station_looping_an_adts_aac_decodes_to_its_pcm_with_every_title_at_its_time() {
    let env = Env::new();
    looping_station(&Fixture::aac(&env), &env);
}

#[test]
fn without_icy_metadata_no_block_is_sent_and_the_pcm_is_the_same() {
    let env = Env::new();
    for fx in [Fixture::mp3(&env), Fixture::aac(&env)] {
        let path = format!("/plain-{}", fx.name);
        let radio = Radio::new(fx.payload.clone()).metaint(8192);
        env.server
            .route(&path, Route::radio(radio).content_type(fx.content_type));
        let (mut d, mut ev) = open(&env, &path, RadioConfig::builder().icy(false).build());
        let h = listen(&fx, &mut d, &mut ev);
        assert!(h.gaps.is_empty() && h.titles.is_empty(), "{h:?}");
        assert_looped(&fx, &h.pcm, "without metadata");
        assert_tags(&fx, &h, &loop_starts(&fx, 0, fx.frames_of(SECS)));
        let log = requests_to(&env, &path);
        assert!(log.iter().all(|r| r.icy_metaint.is_none()), "{log:#?}");
    }
}

/// A station whose first `cuts` connections end (by `fault`) after `audio` audio bytes each:
/// decoding a minute goes on across each, with one gap per cut, the PCM between gaps the
/// fixture's (so no metadata byte reached the decoder), the titles of each connection at their
/// times. Returns the server's log of the route and the wire bytes of each cut connection.
fn gapped_station(
    env: &Env,
    fx: &Fixture,
    fault: impl Fn(u64) -> Fault,
    cuts: usize,
    audio: u64,
    radio_config: RadioConfig,
) -> (Vec<kithara_test_support::RequestRecord>, u64) {
    let metaint = 16_000u64;
    let path = format!("/cut-{}", fx.name);
    let radio = Radio::new(fx.payload.clone())
        .metaint(metaint as usize)
        .title_prefix("Song");
    let wire = wire_bytes(&radio, fx.payload.len() as u64, metaint, audio);
    env.server.route(
        &path,
        Route::radio(radio.clone())
            .content_type(fx.content_type)
            .fault(fault(wire)),
    );
    let (mut d, mut ev) = open(env, &path, radio_config);
    let mut h = listen(fx, &mut d, &mut ev);
    take_gap_events(&mut ev, &mut h.gap_events);
    let frames = fx.frames_of(SECS);
    // Each connection's audio up to the packet its cut falls in: that packet is never whole.
    let per_cut = fx.frame_of_byte(audio - 1);
    let want_gaps: Vec<u64> = (1..=cuts as u64).map(|k| k * per_cut).collect();
    assert_eq!(
        h.gaps, want_gaps,
        "{}: one gap per cut, where it was",
        fx.name
    );
    let want_events: Vec<u64> = (1..=cuts as u64).map(|k| k * audio).collect();
    assert_eq!(
        h.gap_events, want_events,
        "{}: one Gap event per cut",
        fx.name
    );
    let mut titles = Vec::new();
    let mut tags = Vec::new();
    for (s, start) in std::iter::once(0).chain(h.gaps.iter().copied()).enumerate() {
        let end = h.gaps.get(s).copied().unwrap_or(frames);
        let pcm = &h.pcm[start as usize * fx.channels..end as usize * fx.channels];
        assert_looped(fx, pcm, &format!("connection {s}"));
        let heard = fx.byte_of_frame(end - start) + fx.payload.len() as u64;
        let sent = if s < cuts { audio } else { heard };
        titles.extend(expected_titles(fx, &radio, sent, start, end - start));
        tags.extend(loop_starts(fx, start, end - start));
    }
    assert_eq!(h.titles, titles, "{}: titles", fx.name);
    assert_tags(fx, &h, &tags);
    (requests_to(env, &path), wire)
}

/// The audio bytes of a connection cut `millis` ms of media in, halfway through a packet.
fn cut_at(fx: &Fixture, millis: u64) -> u64 {
    let start = fx.byte_of_frame(fx.frames_of(millis) / 1000);
    let j = fx
        .packets
        .iter()
        .position(|p| p.start == start % fx.payload.len() as u64);
    let p = &fx.packets[j.unwrap()];
    start + (p.end - p.start) / 2
}

#[test]
fn a_reset_every_20_s_is_one_gap_each_and_decoding_goes_on() {
    let env = Env::new();
    for fx in [Fixture::mp3(&env), Fixture::aac(&env)] {
        // Cut 19.5 s of media in (inside a packet), three times, so that all three fall within
        // the minute decoded; the fourth connection lasts.
        let audio = cut_at(&fx, 19_500);
        let config = RadioConfig::builder()
            .endless(Endless::Always)
            .backoff(Duration::from_millis(5))
            .build();
        let reset = |after| Fault::ResetAfter { after, times: 3 };
        let (log, wire) = gapped_station(&env, &fx, reset, 3, audio, config);
        // The server made three resets, each after the same wire bytes (its blocks included),
        // and the gaps counted above are one per reset.
        let resets: Vec<u64> = log
            .iter()
            .filter(|r| r.end == Some(ResponseEnd::Fault))
            .map(|r| r.bytes_sent)
            .collect();
        assert_eq!(resets, [wire; 3], "{}: the resets the server made", fx.name);
    }
}

#[test]
fn a_stalled_station_is_reconnected_and_decoding_goes_on() {
    let env = Env::new();
    for fx in [Fixture::mp3(&env), Fixture::aac(&env)] {
        let audio = cut_at(&fx, 30_500);
        let config = RadioConfig::builder()
            .endless(Endless::Always)
            .stall_timeout(Duration::from_secs(2))
            .backoff(Duration::from_millis(5))
            .build();
        let stall = |after| Fault::Stall {
            after,
            stall: Duration::MAX,
            times: 1,
        };
        let (log, wire) = gapped_station(&env, &fx, stall, 1, audio, config);
        assert_eq!(log.len(), 2, "{}: one reconnect", fx.name);
        assert_eq!(log[0].bytes_sent, wire, "{}: sent, then silent", fx.name);
        assert_eq!(log[0].end, Some(ResponseEnd::ClientGone), "{}", fx.name);
    }
}
