//! HE-AAC where the container or the playlist signals it: an MP4 whose AudioSpecificConfig says
//! SBR or PS (object type 5 or 29, or the `0x2b7` sync extension after an AAC-LC configuration),
//! and the HLS ladder whose `CODECS` says `mp4a.40.5` / `mp4a.40.29`. Without the `fdk-aac`
//! feature the decoder refuses them with `CodecFeatureOff` naming the feature and the origin;
//! with it they decode at full rate. SBR signalled only inside the frames (ADTS, TS, an MP4 with
//! an AAC-LC configuration) is not detected: without the feature such a stream plays its core at
//! half the rate (the limit the README states).

#![cfg_attr(feature = "fdk-aac", allow(dead_code, unused_imports))]

use kithara_decode::{Decoder, DecoderConfig, Error};
use kithara_file::File;
use kithara_hls::{Hls, HlsConfig};
use kithara_stream::{AbrMode, RedactedUrl, Source, Stream};
use kithara_test_support::Route;

use crate::common::{media_path, Env};

/// Packs `(value, bits)` fields MSB first, zero-padded to a byte.
fn pack(fields: &[(u32, usize)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = 0;
    for &(v, bits) in fields {
        for i in (0..bits).rev() {
            if n % 8 == 0 {
                out.push(0);
            }
            let last = out.len() - 1;
            out[last] |= (((v >> i) & 1) as u8) << (7 - n % 8);
            n += 1;
        }
    }
    out
}

/// AudioSpecificConfigs of the 22.05 kHz stereo core of `chirp-he.m4a` (44.1 kHz with SBR):
/// explicit hierarchical (object type 5), and backward compatible (AAC-LC + sync extension).
fn explicit_ascs() -> [(&'static str, Vec<u8>); 2] {
    let lc = [(2, 5), (7, 4), (2, 4), (0, 3)];
    [
        (
            "object type 5",
            pack(&[(5, 5), (7, 4), (2, 4), (4, 4), (2, 5), (0, 3)]),
        ),
        (
            "sync extension",
            pack(&[lc.as_slice(), &[(0x2b7, 11), (5, 5), (1, 1), (4, 4)]].concat()),
        ),
    ]
}

/// Reads an MPEG-4 descriptor length (1 to 4 bytes, 7 bits each) at `at`: (value, bytes).
fn descr_len(b: &[u8], at: usize) -> (usize, usize) {
    let (mut v, mut n) = (0usize, 0usize);
    loop {
        let x = b[at + n];
        v = (v << 7) | usize::from(x & 0x7f);
        n += 1;
        if x & 0x80 == 0 {
            return (v, n);
        }
    }
}

/// Adds `delta` to the descriptor length at `at`, keeping its encoded width.
fn grow_descr(b: &mut [u8], at: usize, delta: usize) {
    let (v, n) = descr_len(b, at);
    let v = v + delta;
    for i in 0..n {
        let shift = 7 * (n - 1 - i);
        b[at + i] = ((v >> shift) & 0x7f) as u8 | if i + 1 < n { 0x80 } else { 0 };
    }
}

/// `chirp-he.m4a` (its `moov` last, so no chunk offset moves) with its AudioSpecificConfig
/// replaced by `asc`: the DecoderSpecificInfo, the descriptors and every box around it grow.
fn he_m4a(asc: &[u8]) -> Vec<u8> {
    let mut m = std::fs::read(media_path("chirp-he.m4a")).unwrap();
    let esds = m.windows(4).position(|w| w == b"esds").unwrap() - 4;
    // esds: size, type, version/flags, then ES_Descriptor (0x03).
    let es = esds + 12;
    assert_eq!(m[es], 0x03);
    let (_, es_n) = descr_len(&m, es + 1);
    let dc = es + 1 + es_n + 3; // ES_ID (2), flags (1): none set by ffmpeg
    assert_eq!(m[dc], 0x04);
    let (_, dc_n) = descr_len(&m, dc + 1);
    let dsi = dc + 1 + dc_n + 13;
    assert_eq!(m[dsi], 0x05);
    let (old_len, dsi_n) = descr_len(&m, dsi + 1);
    let at = dsi + 1 + dsi_n;
    assert_eq!(
        &m[at..at + old_len],
        [0x13, 0x90],
        "the AAC-LC configuration"
    );
    let delta = asc.len() - old_len;
    m.splice(at..at + old_len, asc.iter().copied());
    for d in [es, dc, dsi] {
        grow_descr(&mut m, d + 1, delta);
    }
    // Every box that holds the configuration, from the top.
    let mut pos = 0;
    let mut end = m.len();
    while pos < end {
        let size = u32::from_be_bytes(m[pos..pos + 4].try_into().unwrap()) as usize;
        if pos < at && at < pos + size {
            m[pos..pos + 4].copy_from_slice(&u32::try_from(size + delta).unwrap().to_be_bytes());
            end = pos + size + delta;
            // Where the children start: after the header, and the fields of the full boxes and
            // sample entries on the way.
            pos += 8 + match &m[pos + 4..pos + 8] {
                b"stsd" => 8,
                b"mp4a" => 28,
                b"esds" => break,
                _ => 0,
            };
        } else {
            pos += size;
        }
    }
    m
}

fn decoder(env: &Env, path: &str, body: Vec<u8>) -> Result<Decoder<File>, Error> {
    env.server
        .route(path, Route::new(body).content_type("audio/mp4"));
    env.remote_path(path)
}

fn ladder(env: &Env, variant: usize) -> (Result<Decoder<Hls>, Error>, url::Url) {
    let url = env.server.url("/media/hls-he/master.m3u8");
    let config = HlsConfig::builder()
        .url(url.clone())
        .downloader(env.dl.clone())
        .abr_mode(AbrMode::Fixed(variant))
        .buffer_ahead(std::time::Duration::from_millis(500))
        .build();
    let stream = env.rt.block_on(Stream::<Hls>::new(config)).unwrap();
    let config = DecoderConfig::builder()
        .origin(RedactedUrl::new(&url))
        .build();
    (Decoder::new(stream, config), url)
}

/// The rate and channels of the first chunk.
fn first_chunk<T: kithara_stream::StreamType>(d: &mut Decoder<T>) -> (u32, u16) {
    let c = d.next_chunk().unwrap().unwrap();
    (c.sample_rate, c.channels)
}

fn assert_feature_off(err: Result<impl std::fmt::Debug, Error>, codec: &str, origin: &str) {
    let err = err.unwrap_err();
    assert!(
        matches!(&err, Error::CodecFeatureOff { codec: c, feature: "fdk-aac", .. } if c == codec),
        "{err:?}"
    );
    assert_eq!(err.missing_feature(), Some("fdk-aac"));
    assert_eq!(err.origin().to_string(), origin);
    let message = err.to_string();
    assert!(
        message.contains(codec) && message.contains("the `fdk-aac` feature of kithara-decode"),
        "{message}"
    );
}

#[cfg(not(feature = "fdk-aac"))]
#[test]
fn without_fdk_aac_signalled_he_aac_names_the_feature() {
    let env = Env::new();
    for (i, (form, asc)) in explicit_ascs().into_iter().enumerate() {
        let path = format!("/he-{i}.m4a");
        let err = decoder(&env, &path, he_m4a(&asc));
        assert_feature_off(err, "HE-AAC", env.server.url(&path).as_str());
        let _ = form;
    }
    // The ladder's HE-AAC variants (CODECS mp4a.40.29, mp4a.40.5); its AAC-LC one decodes.
    for (variant, codec) in [(0, "HE-AACv2"), (1, "HE-AAC")] {
        let (d, url) = ladder(&env, variant);
        assert_feature_off(d, codec, url.as_str());
    }
    // Its AAC-LC variant decodes; a switch onto an HE-AAC variant fails at that boundary.
    let (d, url) = ladder(&env, 2);
    let mut d = d.unwrap();
    assert_eq!(first_chunk(&mut d), (44_100, 2));
    let abr = d.with_stream(|s| s.source().abr_handle()).unwrap();
    abr.set_mode(AbrMode::Fixed(1));
    let err = loop {
        match d.next_chunk() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the switch to the HE-AAC variant decoded"),
            Err(e) => break e,
        }
    };
    assert_feature_off(Err::<(), _>(err), "HE-AAC", url.as_str());
}

/// The limit: SBR signalled only inside the frames is not detected, and the stream plays its
/// AAC-LC core at half the rate (ADTS, and an MP4 with an AAC-LC configuration).
#[cfg(not(feature = "fdk-aac"))]
#[test]
fn without_fdk_aac_implicit_he_aac_plays_its_core_at_half_the_rate() {
    let env = Env::new();
    assert_eq!(first_chunk(&mut env.remote("chirp-he.aac")), (22_050, 2));
    assert_eq!(first_chunk(&mut env.remote("chirp-he.m4a")), (22_050, 2));
}

/// With `fdk-aac`, the MP4 decodes at full rate whether its configuration signals SBR
/// explicitly (both forms) or not, like its ADTS original.
#[cfg(feature = "fdk-aac")]
#[test]
fn with_fdk_aac_he_aac_in_mp4_decodes_at_full_rate() {
    let env = Env::new();
    let adts = crate::common::decode_all(&mut env.remote("chirp-he.aac")).0;
    let plain = std::fs::read(media_path("chirp-he.m4a")).unwrap();
    let mut cases = vec![("implicit", plain)];
    cases.extend(explicit_ascs().map(|(form, asc)| (form, he_m4a(&asc))));
    for (i, (form, body)) in cases.into_iter().enumerate() {
        let mut d = decoder(&env, &format!("/he-{i}.m4a"), body).unwrap();
        let mut pcm = Vec::new();
        while let Some(c) = d.next_chunk().unwrap() {
            assert_eq!((c.sample_rate, c.channels), (44_100, 2), "{form}");
            pcm.extend_from_slice(&c.samples);
        }
        let n = pcm.len().min(adts.len());
        let c = kithara_test_support::pcm::compare(&adts[..n], &pcm[..n], 2, 4096);
        assert!(
            c.lag == 0 && c.snr_db > 40.0,
            "{form}: against the ADTS decode {c:?}"
        );
    }
}
