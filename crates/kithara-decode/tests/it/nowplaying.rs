//! Now-playing on the decoded timeline: metadata marks of the source (at a byte, at a media time)
//! reported once on the chunk where their audio is, seeks, file tags, and MP3 files back to back.

use std::time::Duration;

use kithara_decode::{Decoder, DecoderConfig, Error, PcmChunk};
use kithara_file::FileConfig;
use kithara_stream::{MarkAt, MetadataMarks, NowPlaying, Stream};
use kithara_test_support::Route;

use crate::{
    common::{media_path, Env},
    marked::{Marked, MarkedConfig},
};

/// An ID3v2.3 tag with a title and an artist (text frames, ISO-8859-1).
fn id3(title: &str, artist: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (id, text) in [(b"TIT2", title), (b"TPE1", artist)] {
        body.extend_from_slice(id);
        body.extend_from_slice(&u32::try_from(text.len() + 1).unwrap().to_be_bytes());
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(text.as_bytes());
    }
    let n = u32::try_from(body.len()).unwrap();
    let mut tag = b"ID3\x03\x00\x00".to_vec();
    tag.extend(
        [
            (n >> 21) & 0x7F,
            (n >> 14) & 0x7F,
            (n >> 7) & 0x7F,
            n & 0x7F,
        ]
        .map(|b| b as u8),
    );
    tag.extend(body);
    tag
}

/// The MP3 fixture with its (empty) leading ID3v2 tag replaced by `id3(title, artist)`.
pub fn tagged_mp3(title: &str) -> Vec<u8> {
    let mp3 = std::fs::read(media_path("chirp.mp3")).unwrap();
    assert_eq!(&mp3[..3], b"ID3");
    let size = mp3[6..10]
        .iter()
        .fold(0usize, |a, &b| (a << 7) | usize::from(b));
    let mut out = id3(title, "kithara");
    out.extend_from_slice(&mp3[10 + size..]);
    out
}

fn titles(chunk: &PcmChunk) -> Vec<String> {
    chunk
        .now_playing
        .iter()
        .map(|c| c.now_playing.title.clone().unwrap_or_default())
        .collect()
}

/// Every (chunk time, offset, title) reported.
type Titles = Vec<(Duration, usize, String)>;

/// Decodes to the end: the samples, every title reported, the error.
fn decode_titles<T: kithara_stream::StreamType>(
    d: &mut Decoder<T>,
) -> (Vec<f32>, Titles, Option<Error>) {
    let (mut pcm, mut seen) = (Vec::new(), Vec::new());
    loop {
        match d.next_chunk() {
            Ok(Some(c)) => {
                for (np, t) in c.now_playing.iter().zip(titles(&c)) {
                    seen.push((c.time, np.offset, t));
                }
                pcm.extend_from_slice(&c.samples);
            }
            Ok(None) => return (pcm, seen, None),
            Err(e) => return (pcm, seen, Some(e)),
        }
    }
}

#[test]
fn mp3_files_back_to_back_decode_each_whole_with_their_titles_at_the_joins() {
    let env = Env::new();
    let names = ["one", "two", "three"];
    let body: Vec<u8> = names.iter().flat_map(|t| tagged_mp3(t)).collect();
    // With the type (audio/mpeg) and without (the joins are then looked for after probing).
    for (path, ct) in [
        ("/b2b.mp3", "audio/mpeg"),
        ("/b2b", "application/octet-stream"),
    ] {
        env.server
            .route(path, Route::new(body.clone()).content_type(ct).no_range());
        let single = tagged_mp3("one");
        env.server
            .route("/single.mp3", Route::new(single).content_type("audio/mpeg"));
        let mut one = env.remote_path("/single.mp3").unwrap();
        assert_eq!(one.info().tags.title.as_deref(), Some("one"));
        let (reference, _, err) = decode_titles(&mut one);
        assert!(err.is_none(), "{err:?}");

        let mut d = env.remote_path(path).unwrap();
        let (rate, ch) = (d.info().sample_rate, usize::from(d.info().channels));
        let (pcm, seen, err) = decode_titles(&mut d);
        assert!(err.is_none(), "{path}: {err:?}");
        // Each file's own delay and padding are trimmed: the fixture's PCM three times over,
        // sample for sample.
        assert_eq!(pcm.len(), 3 * reference.len(), "{path}");
        for k in 0..3 {
            let part = &pcm[k * reference.len()..(k + 1) * reference.len()];
            assert!(part == reference.as_slice(), "{path}: file {k} differs");
        }
        // Each file's title with its first chunk.
        let frames = (reference.len() / ch) as u64;
        let expect: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let at = Duration::from_nanos(k as u64 * frames * 1_000_000_000 / u64::from(rate));
                (at, 0, (*t).to_owned())
            })
            .collect();
        assert_eq!(seen, expect, "{path}");
        assert_eq!(
            d.now_playing().and_then(|n| n.title.as_deref()),
            Some("three")
        );
    }
}

#[test]
fn a_reader_that_consumes_bytes_without_audio_is_a_stall() {
    let env = Env::new();
    // The fixture, then its audio frames again without a tag or info frame: the first file's
    // declared length ends the audio, the bytes keep coming.
    let mp3 = std::fs::read(media_path("chirp.mp3")).unwrap();
    let mut body = mp3.clone();
    for _ in 0..4 {
        body.extend_from_slice(&mp3[300..]);
    }
    env.server
        .route("/stall.mp3", Route::new(body).content_type("audio/mpeg"));
    let stream = env.open_with("/stall.mp3", |_| {}).unwrap();
    let config = DecoderConfig::builder().max_silent_bytes(20_000).build();
    let mut d = Decoder::new(stream, config).unwrap();
    let (pcm, _, err) = decode_titles(&mut d);
    assert_eq!(
        pcm.len(),
        4 * 22_050 * 2,
        "the first file's audio, then nothing"
    );
    match err {
        Some(e @ Error::Stalled { silent_bytes, .. }) => {
            assert!(silent_bytes > 20_000);
            assert_eq!(e.class(), kithara_stream::ErrorClass::InvalidData);
        }
        other => panic!("expected a stall, got {other:?}"),
    }
}

/// Where the `data` chunk's samples start in a WAV file.
fn wav_data_offset(wav: &[u8]) -> u64 {
    let i = wav.windows(4).position(|w| w == b"data").unwrap();
    (i + 8) as u64
}

fn marked(env: &Env, name: &str, marks: &MetadataMarks) -> Decoder<Marked> {
    let file =
        FileConfig::remote(env.server.url(&format!("/media/{name}")), env.dl.clone()).build();
    let config = MarkedConfig {
        file,
        marks: marks.clone(),
    };
    let stream = env.rt.block_on(Stream::<Marked>::new(config)).unwrap();
    Decoder::new(stream, DecoderConfig::default()).unwrap()
}

#[test]
fn marks_at_a_byte_and_at_a_time_come_with_the_chunk_that_holds_them() {
    let env = Env::new();
    let wav = std::fs::read(media_path("chirp.wav")).unwrap();
    let data = wav_data_offset(&wav);
    let marks = MetadataMarks::default();
    // Frame 22 050 (1 s) of 16-bit stereo, and 2.5 s.
    let one_s = data + 22_050 * 4;
    marks.push(MarkAt::Byte(one_s), NowPlaying::titled("at 1 s, by byte"));
    marks.push(
        MarkAt::Time(Duration::from_millis(2500)),
        NowPlaying::titled("at 2.5 s"),
    );
    let mut d = marked(&env, "chirp.wav", &marks);
    let mut seen = Vec::new();
    let mut late_pushed = false;
    while let Some(c) = d.next_chunk().unwrap() {
        // A mark recorded while decoding (after 1.5 s) is reported too.
        if !late_pushed && c.time >= Duration::from_millis(1500) {
            marks.push(
                MarkAt::Time(Duration::from_millis(3250)),
                NowPlaying::titled("late"),
            );
            late_pushed = true;
        }
        for np in &c.now_playing {
            let frame =
                ((c.time.as_nanos() * 22_050 + 500_000_000) / 1_000_000_000) as usize + np.offset;
            seen.push((
                frame,
                c.time,
                c.end_time(),
                np.now_playing.title.clone().unwrap(),
            ));
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    // The byte mark: the packet decoded from the bytes at or after it (a packet that starts
    // there, or holds it).
    let (_, time, end, title) = &seen[0];
    assert_eq!(title, "at 1 s, by byte");
    assert!(
        *time <= Duration::from_secs(1) && Duration::from_secs(1) < *end,
        "{seen:?}"
    );
    // The time marks: the chunk that holds them, at the exact frame.
    assert_eq!((seen[1].0, seen[1].3.as_str()), (55_125, "at 2.5 s"));
    assert_eq!((seen[2].0, seen[2].3.as_str()), (71_663, "late"));
    assert_eq!(
        d.now_playing().and_then(|n| n.title.as_deref()),
        Some("late")
    );
}

#[test]
fn after_a_seek_earlier_marks_are_not_reported_and_the_one_in_effect_is_known() {
    let env = Env::new();
    let marks = MetadataMarks::default();
    for (ms, t) in [(1000, "a"), (2000, "b"), (3000, "c")] {
        marks.push(
            MarkAt::Time(Duration::from_millis(ms)),
            NowPlaying::titled(t),
        );
    }
    let mut d = marked(&env, "chirp.flac", &marks);
    d.seek(Duration::from_millis(2500)).unwrap();
    assert_eq!(d.now_playing().and_then(|n| n.title.as_deref()), Some("b"));
    let (_, seen, err) = decode_titles(&mut d);
    assert!(err.is_none());
    let titles: Vec<_> = seen.iter().map(|s| s.2.as_str()).collect();
    assert_eq!(titles, ["c"]);
    // Back before all of them: each is reported again, once, in order.
    d.seek(Duration::from_millis(500)).unwrap();
    assert_eq!(
        d.now_playing().and_then(|n| n.title.as_deref()),
        Some("c"),
        "nothing before 0.5 s: the last heard stays"
    );
    let (_, seen, _) = decode_titles(&mut d);
    let titles: Vec<_> = seen.iter().map(|s| s.2.as_str()).collect();
    assert_eq!(titles, ["a", "b", "c"]);
}

#[test]
fn without_marks_chunks_carry_no_now_playing() {
    let env = Env::new();
    let mut d = env.remote("chirp.flac");
    assert!(d.now_playing().is_none());
    while let Some(c) = d.next_chunk().unwrap() {
        assert!(c.now_playing.is_empty());
        assert_eq!(c.now_playing.capacity(), 0, "nothing allocated");
    }
}
