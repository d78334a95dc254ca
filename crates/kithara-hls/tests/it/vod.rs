//! VOD presentations: exact bytes for every segment form, byte ranges, AES-128.

use std::time::Duration;

use kithara_stream::{AbrMode, Source};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ts_variant_bytes_are_the_segments_in_order() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/master.m3u8"), |c| {
        c.abr_mode = AbrMode::Fixed(1);
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    let got = got.unwrap();
    assert!(
        got == expected("ts", "v1.m3u8", None),
        "{} bytes",
        got.len()
    );
    assert_eq!(s.len(), Some(got.len() as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fmp4_starts_with_its_init_section() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/master-fmp4.m3u8"), |c| {
        c.abr_mode = AbrMode::Fixed(2);
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    assert!(got.unwrap() == expected("fmp4", "v2.m3u8", Some("v2-init.mp4")));
    // The layout names the init section: at the first boundary, and for a time seek into a
    // segment laid out after it (the decoder puts it in front of the segment's bytes).
    let init = 0..file("hls/fmp4/v2-init.mp4").len() as u64;
    let first = s.source().next_boundary(0).unwrap();
    assert_eq!((first.pos, first.init), (0, Some(init.clone())));
    let (_s, anchor) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let anchor = s.seek_time(Duration::from_secs(10)).unwrap();
        (s, anchor)
    })
    .await
    .unwrap();
    assert!(anchor.pos > init.end);
    assert_eq!(anchor.init, Some(init));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packed_adts_reads_through() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/master-adts.m3u8"), |c| {
        c.abr_mode = AbrMode::Fixed(0);
    })
    .await
    .unwrap();
    let (_s, got) = read_all(s).await;
    assert!(got.unwrap() == expected("adts", "v0.m3u8", None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_ranges_are_fetched_as_exactly_those_ranges() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/byterange/v0.m3u8"), |_| {})
        .await
        .unwrap();
    let (_s, got) = read_all(s).await;
    let whole = file("hls/byterange/v0.ts");
    assert!(got.unwrap() == whole, "the ranges cover the file in order");
    let text = std::str::from_utf8(file("hls/byterange/v0.m3u8")).unwrap();
    let ranges: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-BYTERANGE:"))
        .map(|r| {
            let (len, at) = r.split_once('@').unwrap();
            let (len, at): (u64, u64) = (len.parse().unwrap(), at.parse().unwrap());
            format!("bytes={}-{}", at, at + len - 1)
        })
        .collect();
    let seen: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/v0.ts"))
        .map(|r| r.range.expect("only ranged requests"))
        .collect();
    assert_eq!(seen, ranges, "one request per playlist range, nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes_128_segments_decrypt_to_the_clear_fixture_with_one_key_fetch() {
    let server = server();
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/aes/v0.m3u8"), |_| {})
        .await
        .unwrap();
    let (_s, got) = read_all(s).await;
    assert!(
        got.unwrap() == expected("ts", "v0.m3u8", None),
        "plaintext equals the clear TS"
    );
    let key_fetches = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/v0.key"))
        .count();
    assert_eq!(key_fetches, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_malformed_key_is_a_typed_error() {
    for (route, want_len) in [
        (
            kithara_test_support::Route::new(Vec::new()).status(404),
            None,
        ),
        (kithara_test_support::Route::new(vec![1u8; 15]), Some(15)),
    ] {
        let server = server();
        server.route("/media/hls/aes/v0.key", route);
        let dl = downloader();
        // The first segment's key is fetched while opening: an unusable key fails the open.
        let typed = open(&dl, server.url("/media/hls/aes/v0.m3u8"), |_| {})
            .await
            .unwrap_err();
        assert_eq!(typed.class(), kithara_stream::ErrorClass::Key, "{typed}");
        match (kithara_hls::Error::find(&typed), want_len) {
            (Some(kithara_hls::Error::KeyFetch { uri, source }), None) => {
                assert!(uri.as_str().ends_with("/v0.key"));
                assert_eq!(source.status(), Some(404));
            }
            (Some(kithara_hls::Error::KeyLength { len, .. }), Some(n)) => assert_eq!(*len, n),
            other => panic!("{typed}: {other:?}"),
        }
    }
}

/// A key URI that points at a large resource fails fast, without downloading it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_uri_at_a_huge_resource_fails_without_fetching_it() {
    let server = server();
    server.route(
        "/media/hls/aes/v0.key",
        kithara_test_support::Route::new(vec![7u8; 64 << 20]),
    );
    let dl = downloader();
    let typed = open(&dl, server.url("/media/hls/aes/v0.m3u8"), |_| {})
        .await
        .unwrap_err();
    assert_eq!(typed.class(), kithara_stream::ErrorClass::Key, "{typed}");
    // The client left the response early (the server never finished sending it).
    let ended = server
        .wait_until_async(PATIENCE, |log, _| {
            log.iter()
                .any(|r| r.path.ends_with("/v0.key") && r.end.is_some())
        })
        .await;
    assert!(ended);
    let key: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/v0.key"))
        .collect();
    assert!(
        key.iter()
            .all(|r| r.end == Some(kithara_test_support::ResponseEnd::ClientGone)),
        "{key:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_renditions_and_redirected_masters_resolve_relative_uris() {
    let server = server();
    // The master is reached through a redirect: its relative URIs resolve against where it was
    // finally served from, not against the URL that was asked for.
    server.route(
        "/go/elsewhere.m3u8",
        kithara_test_support::Route::new(Vec::new())
            .redirect("/media/hls/master-renditions.m3u8", 302),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/go/elsewhere.m3u8?session=1"), |c| {
        c.abr_mode = AbrMode::Fixed(1);
        c.language = Some("en".into());
    })
    .await
    .unwrap();
    let (_s, got) = read_all(s).await;
    assert!(got.unwrap() == expected("ts", "v1.m3u8", None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discontinuity_is_a_boundary_and_an_event() {
    let server = server();
    let uris = playlist_uris("hls/ts/v0.m3u8");
    let mut p = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n");
    for (i, u) in uris.iter().take(4).enumerate() {
        if i == 2 {
            p.push_str("#EXT-X-DISCONTINUITY\n");
        }
        p.push_str(&format!("#EXTINF:2.0,\nts/{u}\n"));
    }
    p.push_str("#EXT-X-ENDLIST\n");
    server.route("/media/hls/disc.m3u8", kithara_test_support::Route::new(p));
    let dl = downloader();
    let (tx, mut events) = event_channel();
    let s = open(&dl, server.url("/media/hls/disc.m3u8"), |c| {
        c.options.events = Some(tx);
    })
    .await
    .unwrap();
    let (s, got) = read_all(s).await;
    let got = got.unwrap();
    let first_two: usize = uris[..2]
        .iter()
        .map(|u| file(&format!("hls/ts/{u}")).len())
        .sum();
    let b = s.source().next_boundary(1).unwrap();
    assert_eq!(b.kind, kithara_stream::BoundaryKind::Discontinuity);
    assert_eq!(b.pos, first_two as u64);
    let at = std::iter::from_fn(|| events.try_recv().ok()).find_map(|e| match e {
        kithara_hls::HlsEvent::Discontinuity { pos } => Some(pos),
        _ => None,
    });
    assert_eq!(at, Some(first_two as u64));
    let want: usize = uris[..4]
        .iter()
        .map(|u| file(&format!("hls/ts/{u}")).len())
        .sum();
    assert_eq!(got.len(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_section_with_a_byte_range_is_fetched_as_that_range() {
    let server = server();
    let init_len = file("hls/fmp4/v0-init.mp4").len();
    let uris = playlist_uris("hls/fmp4/v0.m3u8");
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"v0-init.mp4\",BYTERANGE=\"{init_len}@0\"\n"
    );
    for u in uris.iter().take(3) {
        p.push_str(&format!("#EXTINF:2.0,\n{u}\n"));
    }
    p.push_str("#EXT-X-ENDLIST\n");
    server.route(
        "/media/hls/fmp4/mapped.m3u8",
        kithara_test_support::Route::new(p),
    );
    let dl = downloader();
    let s = open(&dl, server.url("/media/hls/fmp4/mapped.m3u8"), |_| {})
        .await
        .unwrap();
    let (_s, got) = read_all(s).await;
    let mut want = file("hls/fmp4/v0-init.mp4").to_vec();
    for u in uris.iter().take(3) {
        want.extend_from_slice(file(&format!("hls/fmp4/{u}")));
    }
    assert!(got.unwrap() == want);
    let init: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/v0-init.mp4"))
        .collect();
    assert_eq!(init.len(), 1);
    assert_eq!(
        init[0].range.as_deref(),
        Some(format!("bytes=0-{}", init_len - 1).as_str())
    );
}
