//! Lossy formats against the reference PCM ffmpeg made (another decoder), aligned; lossless ones
//! against ffmpeg's PCM exactly.

use kithara_test_support::pcm::{compare, media_reference, reference};

use crate::common::{decode_all, Env};

fn assert_close(env: &Env, path: &str, reference_name: &str) {
    let mut d = env.remote_path(path).unwrap();
    let (pcm, err) = decode_all(&mut d);
    assert!(err.is_none(), "{path}: {err:?}");
    let r = reference(reference_name).unwrap();
    assert_eq!(
        (d.info().sample_rate, d.info().channels),
        (r.sample_rate, r.channels)
    );
    let c = compare(&r.samples, &pcm, r.channels, 4096);
    assert!(c.snr_db > 40.0, "{path}: {c:?}");
    assert!(
        c.frames + 4096 >= r.frames(),
        "{path}: compared {} of {} frames",
        c.frames,
        r.frames()
    );
}

#[test]
fn lossy_formats_are_within_40_db_of_ffmpeg() {
    let env = Env::new();
    assert_close(&env, "/media/chirp.mp3", "chirp-mp3.wav");
    assert_close(&env, "/media/chirp.ogg", "chirp-vorbis.wav");
    for aac in [
        "chirp.aac",
        "chirp.m4a",
        "chirp-faststart.m4a",
        "chirp-frag.mp4",
        "chirp.ts",
    ] {
        assert_close(&env, &format!("/media/{aac}"), "chirp-aac.wav");
    }
}

#[test]
fn aac_in_ts_decodes_the_whole_30_s_within_40_db() {
    let env = Env::new();
    assert_close(&env, "/media/hls/byterange/v0.ts", "hls-v0.wav");
    let mut d = env.remote("hls/byterange/v0.ts");
    let (pcm, _) = decode_all(&mut d);
    // 30 s at 16 kHz plus the encoder's priming frame, within one AAC frame.
    let frames = pcm.len() as i64;
    assert!(
        (frames - 30 * 16_000 - 1024).abs() <= 1024,
        "{frames} frames"
    );
}

#[test]
fn lossless_formats_equal_ffmpegs_pcm_sample_for_sample() {
    let env = Env::new();
    // ffmpeg's decode of chirp.flac is chirp.wav, which ffmpeg wrote (the fixture script checks).
    let r = media_reference("chirp.wav").unwrap();
    for path in ["/media/chirp.flac", "/media/chirp.wav"] {
        let mut d = env.remote_path(path).unwrap();
        let (pcm, err) = decode_all(&mut d);
        assert!(err.is_none(), "{path}: {err:?}");
        assert_eq!(
            (d.info().sample_rate, d.info().channels),
            (r.sample_rate, r.channels),
            "{path}"
        );
        assert_eq!(pcm.len(), r.samples.len(), "{path}");
        assert!(pcm == r.samples, "{path}: the samples differ from ffmpeg's");
    }
}
