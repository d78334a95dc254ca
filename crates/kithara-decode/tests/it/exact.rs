//! PCM through `Stream<File>` over HTTP is sample-identical to symphonia decoding the file from
//! disk, from the start and after random time seeks.

use std::time::Duration;

use kithara_stream::{AudioCodec, ContainerFormat};

use crate::common::{media_path, read_frames, symphonia_decode, Env, FORMATS};

fn expected_format(name: &str) -> (ContainerFormat, AudioCodec) {
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("mp3") => (ContainerFormat::MpegAudio, AudioCodec::Mp3),
        Some("aac") => (ContainerFormat::Adts, AudioCodec::AacLc),
        Some("m4a" | "mp4") => (ContainerFormat::Mp4, AudioCodec::AacLc),
        Some("flac") => (ContainerFormat::Flac, AudioCodec::Flac),
        Some("wav") => (ContainerFormat::Wav, AudioCodec::Pcm),
        Some("ogg") => (ContainerFormat::Ogg, AudioCodec::Vorbis),
        Some("ts") => (ContainerFormat::MpegTs, AudioCodec::AacLc),
        _ => unreachable!(),
    }
}

/// The file symphonia can read from disk holding the same frames (symphonia has no TS reader; the
/// TS fixture carries the ADTS fixture's frames).
fn disk_twin(name: &str) -> &str {
    if name == "chirp.ts" {
        "chirp.aac"
    } else {
        name
    }
}

#[test]
fn whole_file_matches_symphonia_from_disk() {
    let env = Env::new();
    for name in FORMATS {
        let mut d = env.remote(name);
        let info = d.info().clone();
        assert_eq!(
            (info.sample_rate, info.channels),
            (22_050, 2),
            "{name}: {info:?}"
        );
        let (container, codec) = expected_format(name);
        assert_eq!(
            (info.container, info.codec),
            (Some(container), Some(codec)),
            "{name}"
        );
        // Chunks are contiguous in time and their byte positions only grow, within the file.
        let len = std::fs::metadata(media_path(name)).unwrap().len();
        let (mut pcm, mut next, mut last_pos) = (Vec::new(), Duration::ZERO, 0);
        while let Some(c) = d.next_chunk().unwrap() {
            assert_eq!(c.time, next, "{name}: gap or overlap");
            assert!(
                c.byte_pos >= last_pos && c.byte_pos <= len,
                "{name}: byte_pos {}",
                c.byte_pos
            );
            next = at_frame(c.end_frame());
            last_pos = c.byte_pos;
            pcm.extend_from_slice(&c.samples);
        }
        assert_eq!(d.position(), next);
        let reference = symphonia_decode(disk_twin(name));
        assert_eq!(pcm.len(), reference.len(), "{name}: sample count");
        assert!(pcm == reference, "{name}: samples differ");
        // 4 s of audio, give or take the codec's delay handling.
        let frames = pcm.len() / 2;
        assert!(
            (4 * 22_050 - 2048..=4 * 22_050 + 2048).contains(&frames),
            "{name}: {frames} frames"
        );
    }
}

#[test]
fn random_seeks_match_disk_and_land_on_the_requested_frame() {
    let env = Env::new();
    let mut rng = fastrand::Rng::with_seed(0x5EE6);
    for name in FORMATS {
        let linear = symphonia_decode(disk_twin(name));
        let mut remote = env.remote(name);
        let mut local = env.local(name);
        let total = linear.len() / 2;
        for _ in 0..20 {
            let frame = rng.usize(..total - 4096);
            let at = Duration::from_nanos((frame as u64 * 1_000_000_000).div_ceil(22_050));
            remote.seek(at).unwrap();
            local.seek(at).unwrap();
            assert_eq!(remote.position(), local.position(), "{name} @ {at:?}");
            let (a, ta) = read_frames(&mut remote, 2048);
            let (b, tb) = read_frames(&mut local, 2048);
            assert_eq!(ta, tb, "{name} @ {at:?}: chunk time");
            assert!(a == b, "{name} @ {at:?}: remote and local PCM differ");
            // Frame-accurate: the first sample is the one at the requested time.
            assert_eq!(ta, at_frame(frame), "{name}: reported time");
            assert!(
                a == linear[frame * 2..frame * 2 + a.len()],
                "{name} @ frame {frame}: not the linear decode"
            );
        }
    }
}

trait EndFrame {
    fn end_frame(&self) -> usize;
}

impl EndFrame for kithara_decode::PcmChunk {
    fn end_frame(&self) -> usize {
        let start = (self.time.as_nanos() * u128::from(self.sample_rate)).div_ceil(1_000_000_000);
        start as usize + self.frames()
    }
}

fn at_frame(frame: usize) -> Duration {
    let f = frame as u64;
    Duration::new(f / 22_050, ((f % 22_050) * 1_000_000_000 / 22_050) as u32)
}

/// A decoder can move to the thread that decodes.
#[test]
fn decoder_is_send() {
    fn assert_send<S: Send>() {}
    assert_send::<kithara_decode::Decoder<kithara_file::File>>();
    assert_send::<kithara_decode::StreamMediaSource<kithara_file::File>>();
}

/// The decoder hands its stream back, positioned where the reader left it, and it reads on; a
/// file's chunks name no variant.
#[test]
fn into_stream_returns_the_stream_where_the_reader_left_it() {
    use std::io::Read;
    let env = Env::new();
    let mut d = env.remote("chirp.flac");
    let c = d.next_chunk().unwrap().unwrap();
    assert_eq!(c.variant, None);
    let mut stream = d.into_stream();
    let pos = stream.position();
    assert!(pos > 0);
    let len = std::fs::metadata(media_path("chirp.flac")).unwrap().len();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert_eq!(pos + rest.len() as u64, len);
    assert_eq!(
        rest,
        std::fs::read(media_path("chirp.flac")).unwrap()[pos as usize..]
    );
}
