use std::time::Duration;

use kithara_stream::AudioCodec;
use proptest::prelude::*;
use url::Url;

use super::*;
use crate::error::Error;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn parse(text: &str, base: &str) -> Result<Playlist> {
    parse_any(text.as_bytes(), &url(base), &ParseOptions::default())
}

fn media(text: &str, base: &str) -> MediaPlaylist {
    match parse(text, base).unwrap() {
        Playlist::Media(m) => m,
        Playlist::Master(_) => panic!("expected a media playlist"),
    }
}

const MASTER: &str = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"audio/en/index.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Deutsch\",LANGUAGE=\"de-DE\",URI=\"audio/de/index.m3u8?lang=de\"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\",URI=\"subs.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=40000,AVERAGE-BANDWIDTH=33000,CODECS=\"mp4a.40.2\"
low/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=10000,URI=\"iframes.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=80000,CODECS=\"avc1.42e01e,mp4a.40.5\",AUDIO=\"aud\"
mid/index.m3u8?token=abc
#EXT-X-STREAM-INF:BANDWIDTH=160000,CODECS=\"mp4a.40.34\"
https://cdn.example/high/index.m3u8
";

#[test]
fn master_variants_and_renditions() {
    // The playlist was redirected: URIs resolve against the final URL.
    let Playlist::Master(m) = parse(MASTER, "http://final.example/hls/master.m3u8?sig=1").unwrap()
    else {
        panic!("expected a master playlist");
    };
    assert_eq!(m.variants.len(), 3, "the I-frame variant is left out");
    let v = &m.variants;
    assert_eq!(v[0].url.as_str(), "http://final.example/hls/low/index.m3u8");
    assert_eq!(
        v[1].url.as_str(),
        "http://final.example/hls/mid/index.m3u8?token=abc"
    );
    assert_eq!(v[2].url.as_str(), "https://cdn.example/high/index.m3u8");
    assert_eq!(
        (v[0].bandwidth, v[0].average_bandwidth, v[0].bitrate()),
        (40_000, Some(33_000), 33_000)
    );
    assert_eq!(v[1].bitrate(), 80_000);
    assert_eq!(v[0].audio_codec, Some(AudioCodec::AacLc));
    assert_eq!(
        v[1].audio_codec,
        Some(AudioCodec::HeAac),
        "video codecs are skipped"
    );
    assert_eq!(v[2].audio_codec, Some(AudioCodec::Mp3));
    assert_eq!(v[1].audio_group.as_deref(), Some("aud"));
    assert_eq!(v[2].media_info().variant_index, Some(2));
    assert_eq!(m.bitrates(), vec![33_000, 80_000, 160_000]);

    assert_eq!(m.audio_renditions.len(), 2, "subtitles are left out");
    assert_eq!(m.select_rendition("aud", None).unwrap().name, "English");
    assert_eq!(
        m.select_rendition("aud", Some("de")).unwrap().name,
        "Deutsch"
    );
    assert_eq!(
        m.select_rendition("aud", Some("DE-de")).unwrap().name,
        "Deutsch"
    );
    assert_eq!(
        m.select_rendition("aud", Some("fr")).unwrap().name,
        "English",
        "falls back to DEFAULT"
    );
    assert!(m.select_rendition("nope", None).is_none());
    // By NAME first (case-insensitive), over the language; an unknown name falls back.
    assert_eq!(
        m.select_audio("aud", Some("deutsch"), Some("en"))
            .unwrap()
            .name,
        "Deutsch"
    );
    assert_eq!(
        m.select_audio("aud", Some("Klingon"), Some("de"))
            .unwrap()
            .name,
        "Deutsch"
    );
    assert_eq!(
        m.media_url_for(1, Some("Deutsch"), None).unwrap().as_str(),
        "http://final.example/hls/audio/de/index.m3u8?lang=de"
    );
    assert_eq!(
        m.media_url(1, Some("de")).unwrap().as_str(),
        "http://final.example/hls/audio/de/index.m3u8?lang=de"
    );
    assert_eq!(
        m.media_url(1, None).unwrap().as_str(),
        "http://final.example/hls/audio/en/index.m3u8"
    );
    assert_eq!(
        m.media_url(0, Some("de")).unwrap(),
        &v[0].url,
        "no group: the variant itself"
    );
    assert!(m.media_url(3, None).is_none());
}

const VOD: &str = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:3
#EXT-X-MEDIA-SEQUENCE:5
#EXT-X-DISCONTINUITY-SEQUENCE:2
#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"
#EXT-X-KEY:METHOD=AES-128,URI=\"/keys/k1?auth=t\",IV=0x00000000000000000000000000000001
#EXTINF:2.002,
#EXT-X-BYTERANGE:1000@720
media.mp4?v=1
#EXTINF:2.002,
#EXT-X-BYTERANGE:1200
media.mp4?v=1
#EXT-X-KEY:METHOD=NONE
#EXTINF:1.5,
#EXT-X-BYTERANGE:300@5000
media.mp4?v=1
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI=\"other/init.mp4\"
#EXT-X-KEY:METHOD=AES-128,URI=\"k2\"
#EXTINF:2.000,
other/seg.m4s
#EXT-X-ENDLIST
";

#[test]
fn media_segments() {
    let m = media(VOD, "http://h/a/b/index.m3u8?token=x");
    assert_eq!(m.target_duration, Duration::from_secs(3));
    assert_eq!((m.media_sequence, m.discontinuity_sequence), (5, 2));
    assert!(m.end_list && !m.is_live());
    assert_eq!(
        m.duration(),
        Duration::from_millis(2002 + 2002 + 1500 + 2000)
    );
    let s = &m.segments;
    assert_eq!(s.len(), 4);
    assert_eq!(
        s.iter().map(|s| s.sequence).collect::<Vec<_>>(),
        [5, 6, 7, 8]
    );
    assert_eq!(s[0].url.as_str(), "http://h/a/b/media.mp4?v=1");
    assert_eq!(s[0].byte_range, Some(720..1720));
    assert_eq!(
        s[1].byte_range,
        Some(1720..2920),
        "implicit offset follows the previous range"
    );
    assert_eq!(s[2].byte_range, Some(5000..5300));
    assert_eq!(s[3].byte_range, None);
    assert_eq!(s[1].start, Duration::from_millis(2002));
    assert_eq!(s[3].end(), m.duration());

    let init = s[0].init.as_ref().unwrap();
    assert_eq!(init.url.as_str(), "http://h/a/b/init.mp4");
    assert_eq!(init.byte_range, Some(0..720));
    assert_eq!(s[2].init, s[0].init, "EXT-X-MAP applies until the next one");
    let init2 = s[3].init.as_ref().unwrap();
    assert_eq!(
        (init2.url.as_str(), init2.byte_range.clone()),
        ("http://h/a/b/other/init.mp4", None)
    );

    let k = s[0].key.as_ref().unwrap();
    assert_eq!(k.uri.as_str(), "http://h/keys/k1?auth=t");
    assert_eq!(s[0].iv(), Some(1u128.to_be_bytes()));
    assert_eq!(s[1].key, s[0].key, "EXT-X-KEY applies until the next one");
    assert_eq!(s[2].key, None, "METHOD=NONE clears the key");
    assert_eq!(s[3].key.as_ref().unwrap().uri.as_str(), "http://h/a/b/k2");
    assert_eq!(
        s[3].iv(),
        Some(8u128.to_be_bytes()),
        "IV from the media sequence number"
    );

    assert!(!s[2].discontinuity && s[3].discontinuity);
    assert_eq!(s[2].discontinuity_sequence, 2);
    assert_eq!(s[3].discontinuity_sequence, 3);

    assert_eq!(s[0].id(), s[0].id());
    assert_ne!(s[0].id(), s[1].id(), "same resource, different ranges");
    assert_eq!(
        s[0].init.as_ref().unwrap().id().byte_range(),
        Some(&(0..720))
    );

    assert_eq!(m.segment_at(Duration::ZERO), Some(0));
    assert_eq!(m.segment_at(Duration::from_millis(2002)), Some(1));
    assert_eq!(m.segment_at(Duration::from_millis(4003)), Some(1));
    assert_eq!(m.segment_at(Duration::from_millis(6504)), Some(3));
    assert_eq!(m.segment_at(m.duration()), None);
    assert_eq!(m.segment_by_sequence(7).unwrap().sequence, 7);
    assert!(m.segment_by_sequence(4).is_none() && m.segment_by_sequence(9).is_none());
}

#[test]
fn exact_duration_sum() {
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:3\n");
    for i in 0..1000 {
        text.push_str(&format!("#EXTINF:2.002,\ns{i}.ts\n"));
    }
    let m = media(&text, "http://h/live.m3u8");
    assert!(m.is_live());
    assert_eq!(m.duration(), Duration::from_millis(2002 * 1000));
}

#[test]
fn implicit_offset_needs_a_previous_range_of_the_same_resource() {
    let first = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100\na.ts\n";
    assert!(matches!(
        parse(first, "http://h/i.m3u8"),
        Err(Error::BadAttribute {
            tag: "EXT-X-BYTERANGE",
            ..
        })
    ));
    let other = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\na.ts\n#EXTINF:2,\n#EXT-X-BYTERANGE:100\nb.ts\n";
    assert!(matches!(
        parse(other, "http://h/i.m3u8"),
        Err(Error::BadAttribute {
            tag: "EXT-X-BYTERANGE",
            ..
        })
    ));
}

#[test]
fn map_byterange_without_offset_starts_at_zero() {
    let t = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"64\"\n#EXTINF:2,\na.m4s\n";
    let m = media(t, "http://h/i.m3u8");
    assert_eq!(m.segments[0].init.as_ref().unwrap().byte_range, Some(0..64));
}

#[test]
fn unsupported_encryption_fails_the_playlist() {
    let t = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k\"\n#EXTINF:2,\na.ts\n";
    assert!(matches!(
        parse(t, "http://h/i.m3u8"),
        Err(Error::UnsupportedEncryption { method, .. }) if method == "SAMPLE-AES"
    ));
}

#[test]
fn bad_bodies() {
    let base = "http://h/i.m3u8?token=secret";
    let html = "\u{feff}  <!DOCTYPE html><html><body>Login</body></html>";
    let e = parse(html, base).unwrap_err();
    assert!(matches!(e, Error::HtmlInsteadOfPlaylist { .. }));
    assert!(!e.to_string().contains("secret"));
    assert!(matches!(
        parse("#EXTINF:2,\na.ts\n", base),
        Err(Error::MissingHeader { .. })
    ));
    assert!(matches!(parse("", base), Err(Error::MissingHeader { .. })));
    assert!(matches!(
        parse_any(b"#EXTM3U\n\xff\xfe\n", &url(base), &ParseOptions::default()),
        Err(Error::NotUtf8 { .. })
    ));
    assert!(matches!(
        parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-ENDLIST\n", base),
        Err(Error::NoSegments { .. })
    ));
    assert!(matches!(
        parse(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:abc,\na.ts\n",
            base
        ),
        Err(Error::BadAttribute { .. })
    ));
    let uri = parse(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://[::1\n",
        base,
    );
    assert!(matches!(uri, Err(Error::BadUri { .. })), "{uri:?}");
}

#[test]
fn size_cap_is_checked_before_parsing() {
    let body = vec![b'x'; 101];
    let opts = ParseOptions::default().max_bytes(100);
    let e = parse_any(&body, &url("http://h/i.m3u8"), &opts).unwrap_err();
    assert!(matches!(
        e,
        Error::PlaylistTooLarge {
            size: 101,
            limit: 100,
            ..
        }
    ));
    assert_eq!(ParseOptions::default().max_bytes, 4 * 1024 * 1024);
    let ok = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n";
    let cap = ParseOptions::default().max_bytes(ok.len() as u64);
    assert!(parse_media(ok.as_bytes(), &url("http://h/i.m3u8"), &cap).is_ok());
}

#[test]
fn master_without_variants_or_bandwidth() {
    let t = "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=10000,URI=\"i.m3u8\"\n";
    let r = parse(t, "http://h/m.m3u8");
    assert!(
        matches!(
            r,
            Err(Error::NoVariants { .. }) | Err(Error::BadAttribute { .. })
        ),
        "{r:?}"
    );
}

proptest! {
    /// Byte ranges written with and without offsets resolve to consecutive ranges, and the
    /// segment starts are the running sums of the exact durations.
    #[test]
    fn ranges_and_starts(
        segs in proptest::collection::vec((1u64..10_000, any::<bool>(), 1u64..5000), 1..40),
        first_offset in 0u64..1_000_000,
    ) {
        let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:5\n");
        let mut expected = Vec::new();
        let mut next = first_offset;
        for (i, (len, explicit, ms)) in segs.iter().enumerate() {
            text.push_str(&format!("#EXTINF:{}.{:03},\n", ms / 1000, ms % 1000));
            if i == 0 || *explicit {
                text.push_str(&format!("#EXT-X-BYTERANGE:{len}@{next}\n"));
            } else {
                text.push_str(&format!("#EXT-X-BYTERANGE:{len}\n"));
            }
            text.push_str("all.ts\n");
            expected.push(next..next + len);
            next += len;
        }
        let m = media(&text, "http://h/i.m3u8");
        let got: Vec<_> = m.segments.iter().map(|s| s.byte_range.clone().unwrap()).collect();
        prop_assert_eq!(got, expected);
        let mut t = Duration::ZERO;
        for (s, (_, _, ms)) in m.segments.iter().zip(&segs) {
            prop_assert_eq!(s.start, t);
            t += Duration::from_millis(*ms);
        }
        prop_assert_eq!(m.duration(), t);
    }
}

#[test]
fn malformed_segment_tags_are_errors() {
    for tag in [
        "#EXT-X-KEY:METHOD=AES-128,IV=0x01",
        "#EXT-X-KEY:URI=\"k\"",
        "#EXT-X-MAP:BYTERANGE=\"10@0\"",
        "#EXT-X-BYTERANGE:x@y",
    ] {
        let t = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n{tag}\n#EXTINF:2,\na.ts\n");
        let r = parse(&t, "http://h/i.m3u8");
        // Named by its tag, or by its line (3) when the line itself is malformed.
        assert!(
            matches!(
                r,
                Err(Error::BadAttribute { .. } | Error::BadLine { line: 3, .. })
            ),
            "{tag}: {r:?}"
        );
    }
}

#[test]
fn stream_inf_without_bandwidth() {
    let t = "#EXTM3U\n#EXT-X-STREAM-INF:CODECS=\"mp4a.40.2\"\nlow.m3u8\n";
    let r = parse(t, "http://h/m.m3u8");
    assert!(
        matches!(
            r,
            Err(Error::BadAttribute {
                tag: "EXT-X-STREAM-INF",
                ..
            })
        ),
        "a variant must not vanish silently: {r:?}"
    );
    let media =
        "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"x\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n";
    assert!(matches!(
        parse(media, "http://h/m.m3u8"),
        Err(Error::BadAttribute {
            tag: "EXT-X-MEDIA",
            ..
        })
    ));
}

#[test]
fn crlf_and_blank_lines() {
    let t = "#EXTM3U\r\n\r\n#EXT-X-TARGETDURATION:2\r\n#EXTINF:1.5,\r\na.ts?x=1\r\n\r\n#EXTINF:0.5,\r\nb.ts\r\n#EXT-X-ENDLIST\r\n";
    let m = media(t, "http://h/i.m3u8");
    assert_eq!(m.segments.len(), 2);
    assert_eq!(m.segments[0].url.as_str(), "http://h/a.ts?x=1");
    assert_eq!(m.duration(), Duration::from_secs(2));
    assert!(m.end_list);
}

#[test]
fn durations_that_would_overflow_are_errors_not_panics() {
    let base = "http://h/i.m3u8";
    // Two segments of 2^63 s each: their sum overflows `Duration`.
    let huge = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:9223372036854775807,\na.ts\n\
                #EXTINF:9223372036854775807,\nb.ts\n#EXT-X-ENDLIST\n";
    assert!(
        matches!(parse(huge, base), Err(Error::BadAttribute { .. })),
        "{:?}",
        parse(huge, base)
    );
    // One segment longer than any presentation.
    let long = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:18446744073709551615.9,\na.ts\n";
    assert!(matches!(parse(long, base), Err(Error::BadAttribute { .. })));
    // A target duration whose multiples (reload intervals, live start offset) would overflow.
    let target = "#EXTM3U\n#EXT-X-TARGETDURATION:18446744073709551615\n#EXTINF:2,\na.ts\n";
    assert!(matches!(
        parse(target, base),
        Err(Error::BadAttribute { .. })
    ));
    // At the bounds, accepted.
    let edge = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:86400\n#EXTINF:{},\na.ts\n",
        u32::MAX
    );
    let p = media(&edge, base);
    assert_eq!(p.duration(), Duration::from_secs(u64::from(u32::MAX)));
}
