//! A corpus of playlists written to the spec (RFC 8216bis) and to what real servers emit, each with
//! its expected reading: the classes of real-world playlists that were misread or rejected
//! (no final newline, whitespace, keys, variables, decimal target durations), malformed ones whose
//! error must name the line, and hostile ones (local schemes, integer limits, caps).

use std::time::Duration;

use url::Url;

use super::*;
use crate::error::Error;

const BASE: &str = "http://h.example/live/index.m3u8?token=t0k";

fn read(text: &str) -> Result<Playlist> {
    parse_any(
        text.as_bytes(),
        &Url::parse(BASE).unwrap(),
        &ParseOptions::default(),
    )
}

fn media(text: &str) -> MediaPlaylist {
    match read(text) {
        Ok(Playlist::Media(m)) => m,
        other => panic!("expected a media playlist: {other:?}\n{text}"),
    }
}

fn master(text: &str) -> MasterPlaylist {
    match read(text) {
        Ok(Playlist::Master(m)) => m,
        other => panic!("expected a master playlist: {other:?}\n{text}"),
    }
}

fn uris(m: &MediaPlaylist) -> Vec<&str> {
    m.segments.iter().map(|s| s.url.path()).collect()
}

/// The line number of a `BadLine` error.
fn bad_line(text: &str) -> usize {
    match read(text) {
        Err(Error::BadLine { line, .. }) => line,
        other => panic!("expected an error naming a line: {other:?}\n{text}"),
    }
}

const TWO: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXTINF:6,\nb.ts\n";

#[test]
fn a_last_line_without_a_newline_is_not_a_segment() {
    for last in [
        "#EXT-X-RENDITION-REPORT:URI=\"../alt/index.m3u8\",LAST-MSN=2",
        "#EXT-X-PART:DURATION=1.0,URI=\"b.part1.ts\"",
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"b.part2.ts\"",
        "#EXT-X-CUE-OUT:30",
        "# written by an encoder",
        "#EXT-X-ENDLIST",
    ] {
        let m = media(&format!("{TWO}{last}"));
        assert_eq!(uris(&m), ["/live/a.ts", "/live/b.ts"], "{last}");
        assert_eq!(m.end_list, last == "#EXT-X-ENDLIST", "{last}");
    }
    // In a master, a final comment leaves the last variant's URI alone.
    let m = master(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2000\nhigh.m3u8\n# end",
    );
    assert_eq!(m.variants[1].url.path(), "/live/high.m3u8");
}

#[test]
fn whitespace_servers_write_is_read_as_hls_js_reads_it() {
    let m = media(
        "#EXTM3U\r\n#EXT-X-VERSION: 3\r\n#EXT-X-TARGETDURATION: 6\r\n#EXT-X-MEDIA-SEQUENCE: 280238\r\n\
         #EXT-X-DISCONTINUITY-SEQUENCE: 2\r\n#EXTINF:6.0 ,\r\na.ts\r\n#EXTINF: 5.5,title, with comma\r\nb.ts \r\n",
    );
    assert_eq!(m.media_sequence, 280_238);
    assert_eq!(m.target_duration, Duration::from_secs(6));
    assert_eq!(m.discontinuity_sequence, 2);
    assert_eq!(uris(&m), ["/live/a.ts", "/live/b.ts"]);
    assert_eq!(m.segments[1].duration, Duration::from_millis(5500));
    assert_eq!(m.segments[1].sequence, 280_239);
    // Attribute lists with spaces.
    let m = master(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=128000, CODECS=\"mp4a.40.2\" , AVERAGE-BANDWIDTH = 96000\nlow.m3u8\n",
    );
    assert_eq!(
        (m.variants[0].bandwidth, m.variants[0].average_bandwidth),
        (128_000, Some(96_000))
    );
    assert_eq!(m.variants[0].codecs.as_deref(), Some("mp4a.40.2"));
}

#[test]
fn an_aes_key_without_iv_takes_the_sequence_number_read_through_whitespace() {
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE: 7\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\"\n#EXTINF:6,\na.ts\n",
    );
    assert_eq!(m.segments[0].iv(), Some(7u128.to_be_bytes()));
}

#[test]
fn keys_apply_per_key_format_and_the_later_one_wins() {
    let key =
        |m: &MediaPlaylist, i: usize| m.segments[i].key.as_ref().map(|k| k.uri.path().to_owned());
    // NONE, then a key before the same segment: the key applies.
    let m = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-KEY:METHOD=NONE\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"k1\"\n#EXTINF:6,\na.ts\n\
         #EXT-X-KEY:METHOD=NONE\n#EXTINF:6,\nb.ts\n",
    );
    assert_eq!(key(&m, 0).as_deref(), Some("/live/k1"));
    assert_eq!(key(&m, 1), None, "NONE clears it for what follows");
    // AES-128 offered beside a FairPlay key for the same segments: the usable one is used, in
    // either order.
    for (first, second) in [
        ("#EXT-X-KEY:METHOD=AES-128,URI=\"k2\"", "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://x\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\""),
        ("#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://x\",KEYFORMAT=\"com.apple.streamingkeydelivery\"", "#EXT-X-KEY:METHOD=AES-128,URI=\"k2\""),
    ] {
        let m = media(&format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n{first}\n{second}\n#EXTINF:6,\na.ts\n"
        ));
        assert_eq!(key(&m, 0).as_deref(), Some("/live/k2"));
    }
    // Only FairPlay: refused, never played as garbage.
    let r = read(
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://x\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n#EXTINF:6,\na.ts\n",
    );
    assert!(
        matches!(r, Err(Error::UnsupportedEncryption { .. })),
        "{r:?}"
    );
}

#[test]
fn variables_are_substituted_in_uris_and_quoted_values() {
    let m = media(
        "#EXTM3U\n#EXT-X-DEFINE:NAME=\"host\",VALUE=\"cdn.example\"\n#EXT-X-DEFINE:QUERYPARAM=\"token\"\n\
         #EXT-X-TARGETDURATION:6\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://{$host}/key?t={$token}\"\n\
         #EXTINF:6,\nhttps://{$host}/a.ts?t={$token}\n",
    );
    assert_eq!(m.segments[0].url.as_str(), "https://cdn.example/a.ts?t=t0k");
    assert_eq!(
        m.segments[0].key.as_ref().unwrap().uri.as_str(),
        "https://cdn.example/key?t=t0k"
    );
    // An undefined variable, or a query parameter the URL lacks, is an error on its line.
    assert_eq!(
        bad_line("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\n{$nope}/a.ts\n"),
        4
    );
    assert_eq!(
        bad_line("#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"missing\"\n#EXTINF:6,\na.ts\n"),
        2
    );
}

#[test]
fn a_decimal_target_duration_is_its_integer_part() {
    for (written, read) in [("6.006", 6), ("5.0", 5), ("0.5", 1), ("10", 10)] {
        let m = media(&format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:{written}\n#EXTINF:4,\na.ts\n"
        ));
        assert_eq!(m.target_duration, Duration::from_secs(read), "{written}");
    }
    assert_eq!(
        bad_line("#EXTM3U\n#EXT-X-TARGETDURATION:six\n#EXTINF:4,\na.ts\n"),
        2
    );
}

#[test]
fn malformed_lines_are_named() {
    // A URI without EXTINF.
    assert_eq!(
        bad_line("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\nb.ts\n"),
        5
    );
    // Two EXTINF in a row.
    assert_eq!(bad_line("#EXTM3U\n#EXTINF:6,\n#EXTINF:6,\na.ts\n"), 3);
    // Broken quoting.
    assert_eq!(
        bad_line("#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\n#EXTINF:6,\na.ts\n"),
        2
    );
    // A byte range without its offset after the @.
    assert_eq!(
        bad_line("#EXTM3U\n#EXTINF:6,\n#EXT-X-BYTERANGE:587500@\na.ts\n"),
        3
    );
    // A master cut after EXT-X-STREAM-INF.
    assert_eq!(
        bad_line("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2000\n"),
        4
    );
    // A media playlist cut after EXTINF.
    assert_eq!(bad_line("#EXTM3U\n#EXTINF:6,\na.ts\n#EXTINF:6,\n"), 4);
    // A master where a media playlist is expected (a variant that names its master).
    let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nindex.m3u8\n";
    let r = parse_media(
        text.as_bytes(),
        &Url::parse(BASE).unwrap(),
        &ParseOptions::default(),
    );
    assert!(matches!(r, Err(Error::BadLine { line: 2, .. })), "{r:?}");
}

#[test]
fn only_http_resources_are_named() {
    for (text, bad) in [
        ("#EXTM3U\n#EXTINF:6,\nfile:///etc/passwd\n", "file:///etc/passwd"),
        (
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"data:text/plain;base64,AAAA\"\n#EXTINF:6,\na.ts\n",
            "data:text/plain;base64,AAAA",
        ),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\njavascript:alert(1)\n", "javascript:alert(1)"),
        ("#EXTM3U\n#EXT-X-MAP:URI=\"file:///init.mp4\"\n#EXTINF:6,\na.mp4\n", "file:///init.mp4"),
    ] {
        match read(text) {
            Err(Error::UnsafeUri { uri, .. }) => assert_eq!(uri, bad),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn numbers_at_the_limits_are_errors_not_panics() {
    for text in [
        format!(
            "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXTINF:6,\na.ts\n#EXTINF:6,\nb.ts\n",
            u64::MAX
        ),
        format!(
            "#EXTM3U\n#EXTINF:6,\n#EXT-X-BYTERANGE:10@{}\na.ts\n",
            u64::MAX
        ),
        "#EXTM3U\n#EXTINF:NaN,\na.ts\n".to_owned(),
        "#EXTM3U\n#EXTINF:-1,\na.ts\n".to_owned(),
        "#EXTM3U\n#EXTINF:1e308,\na.ts\n".to_owned(),
        "#EXTM3U\n#EXTINF:99999999999999999999,\na.ts\n".to_owned(),
        format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:{}\n#EXTINF:6,\na.ts\n",
            u64::MAX
        ),
        "#EXTM3U\n#EXT-X-TARGETDURATION:99999999999999999999\n#EXTINF:6,\na.ts\n".to_owned(),
    ] {
        assert!(read(&text).is_err(), "{text}");
    }
}

#[test]
fn the_segment_count_is_capped() {
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:1\n");
    for i in 0..=DEFAULT_MAX_SEGMENTS {
        text.push_str(&format!("#EXTINF:1,\n{i}\n"));
    }
    let r = read(&text);
    assert!(
        matches!(
            r,
            Err(Error::TooManySegments {
                limit: DEFAULT_MAX_SEGMENTS,
                ..
            })
        ),
        "{:?}",
        r.map(|_| ())
    );
    let capped = ParseOptions::default().max_segments(1);
    let r = parse_any(TWO.as_bytes(), &Url::parse(BASE).unwrap(), &capped);
    assert!(matches!(r, Err(Error::TooManySegments { limit: 1, .. })));
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    /// A line a playlist may hold, well-formed or not.
    fn line() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            Just("0".to_owned()),
            Just(u64::MAX.to_string()),
            Just("18446744073709551616".to_owned()),
            Just("-1".to_owned()),
            Just("1.5".to_owned()),
            Just(" 7 ".to_owned()),
            "[0-9]{1,25}",
            ".{0,8}",
        ];
        let tag = prop_oneof![
            Just("#EXTINF:"),
            Just("#EXT-X-TARGETDURATION:"),
            Just("#EXT-X-MEDIA-SEQUENCE:"),
            Just("#EXT-X-DISCONTINUITY-SEQUENCE:"),
            Just("#EXT-X-BYTERANGE:"),
            Just("#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x"),
            Just("#EXT-X-KEY:METHOD=NONE,URI="),
            Just("#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\""),
            Just("#EXT-X-STREAM-INF:BANDWIDTH="),
            Just("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\""),
            Just("#EXT-X-DEFINE:NAME=\"v\",VALUE=\""),
            Just("#EXT-X-DISCONTINUITY"),
            Just("#EXT-X-ENDLIST"),
            Just(""),
        ];
        prop_oneof![
            3 => (tag, number).prop_map(|(t, n)| format!("{t}{n}")),
            1 => "[a-z{}$/:.]{1,12}",
            1 => ".{0,30}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_playlist_reads_or_fails_with_an_error(lines in prop::collection::vec(line(), 0..40)) {
            let text = format!("#EXTM3U\n{}", lines.join("\n"));
            let url = Url::parse(BASE).unwrap();
            let _ = parse_any(text.as_bytes(), &url, &ParseOptions::default());
            let _ = parse_media(text.as_bytes(), &url, &ParseOptions::default());
        }
    }
}
