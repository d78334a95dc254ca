//! Tags at the end of a file (ID3v1, APEv2) over loopback: read when the file's last bytes are
//! present (a fully read file, a local file), never requested by default, fetched with one ranged
//! request when `DecoderConfig::fetch_tail_tags` asks for it.

use std::{io::Read, time::Duration};

use kithara_decode::{Decoder, DecoderConfig, Tags};
use kithara_file::{File, FileConfig};
use kithara_stream::{RedactedUrl, Stream};
use kithara_test_support::{Fault, Route};

use crate::common::{decode_all, media_path, Env};

/// Bytes read from the end of a file for its tags (the decoder's bound).
const MAX_TAIL: usize = 16 * 1024;

/// An ID3v1.1 tag.
fn id3v1(title: &str, artist: &str, album: &str, track: u8) -> Vec<u8> {
    let mut t = b"TAG".to_vec();
    for (s, n) in [(title, 30), (artist, 30), (album, 30), ("2026", 4)] {
        let mut f = s.as_bytes().to_vec();
        f.resize(n, 0);
        t.extend(f);
    }
    let mut comment = vec![0u8; 30];
    comment[29] = track;
    t.extend(comment);
    t.push(0);
    t
}

/// An APEv2 tag with a header and a footer, of UTF-8 items.
fn ape(items: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, value) in items {
        body.extend(u32::try_from(value.len()).unwrap().to_le_bytes());
        body.extend(0u32.to_le_bytes());
        body.extend(key.as_bytes());
        body.push(0);
        body.extend(value.as_bytes());
    }
    let part = |flags: u32| {
        let mut p = b"APETAGEX".to_vec();
        p.extend(2000u32.to_le_bytes());
        p.extend(u32::try_from(body.len() + 32).unwrap().to_le_bytes());
        p.extend(u32::try_from(items.len()).unwrap().to_le_bytes());
        p.extend(flags.to_le_bytes());
        p.extend([0u8; 8]);
        p
    };
    [part(0xA000_0000), body.clone(), part(0x8000_0000)].concat()
}

/// The three files: MP3 with ID3v1 only, with APE only, with ID3v2 + APE + ID3v1; and the tags
/// each must show once its tail is read (`title, artist, album, track`).
fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let mp3 = std::fs::read(media_path("chirp.mp3")).unwrap();
    let v1 = [mp3.clone(), id3v1("v1 title", "v1 artist", "v1 album", 7)].concat();
    let apev2 = [
        mp3,
        ape(&[
            ("Title", "ape title"),
            ("Artist", "ape artist"),
            ("Album", "ape album"),
            ("Track", "5/9"),
        ]),
    ]
    .concat();
    let all = [
        crate::nowplaying::tagged_mp3("kit big"),
        ape(&[("Title", "ape title"), ("Album", "ape album")]),
        id3v1("v1 title", "v1 artist", "v1 album", 7),
    ]
    .concat();
    vec![
        ("/v1.mp3", v1, ("v1 title", "v1 artist", "v1 album", 7)),
        (
            "/ape.mp3",
            apev2,
            ("ape title", "ape artist", "ape album", 5),
        ),
        // ID3v2 (head) wins title and artist, APE gives the album, ID3v1 the track.
        ("/all.mp3", all, ("kit big", "kithara", "ape album", 7)),
    ]
}

type Expect = (&'static str, &'static str, &'static str, u64);

fn assert_tags(tags: &Tags, want: Expect, path: &str) {
    assert_eq!(tags.title.as_deref(), Some(want.0), "{path}: {tags:?}");
    assert_eq!(tags.artist.as_deref(), Some(want.1), "{path}");
    assert_eq!(tags.album.as_deref(), Some(want.2), "{path}");
    assert_eq!(tags.track_number, Some(want.3), "{path}");
}

/// The `Range` headers of the requests for `path`.
fn ranges(env: &Env, path: &str) -> Vec<Option<String>> {
    env.server
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.range)
        .collect()
}

/// A route whose first response sends the first 8 KiB, then nothing until the client leaves: the
/// tail is absent while the decoder opens.
fn stalled(body: Vec<u8>) -> Route {
    Route::new(body)
        .content_type("audio/mpeg")
        .fault(Fault::Stall {
            after: 8 * 1024,
            stall: Duration::MAX,
            times: 1,
        })
}

/// A decoder of `path`, fetching the tail tags or not. The peer's seek threshold is lowered
/// from its 256 KiB so that a seek to the tail of these small files is a request of its own
/// rather than waiting for the running one to get there.
fn decoder(env: &Env, path: &str, fetch: bool) -> Decoder<File> {
    let stream = env.open_with(path, |c| c.seek_threshold = 1024).unwrap();
    let config = DecoderConfig::builder()
        .origin(RedactedUrl::new(&env.server.url(path)))
        .fetch_tail_tags(fetch)
        .build();
    Decoder::new(stream, config).unwrap()
}

#[test]
fn by_default_an_absent_tail_is_not_requested_and_its_tags_are_not_read() {
    let env = Env::new();
    for (path, body, _) in cases() {
        env.server.route(path, stalled(body));
        let d = decoder(&env, path, false);
        let tags = &d.info().tags;
        assert_eq!(tags.album, None, "{path}: {tags:?}");
        assert_eq!(tags.track_number, None, "{path}");
        if path == "/all.mp3" {
            // The head's own tags are there.
            assert_eq!(tags.title.as_deref(), Some("kit big"));
        } else {
            assert_eq!(tags.title, None, "{path}");
        }
        assert_eq!(ranges(&env, path), [Some("bytes=0-".to_owned())], "{path}");
    }
}

#[test]
fn a_fully_read_file_has_its_tail_tags_without_another_request() {
    let env = Env::new();
    for (path, body, want) in cases() {
        let len = body.len();
        env.server
            .route(path, Route::new(body).content_type("audio/mpeg"));
        let mut stream = env.open_with(path, |_| {}).unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), len);
        std::io::Seek::rewind(&mut stream).unwrap();
        let mut d = Decoder::new(stream, DecoderConfig::default()).unwrap();
        assert_tags(&d.info().tags, want, path);
        assert_eq!(
            d.now_playing().and_then(|n| n.title.as_deref()),
            Some(want.0)
        );
        let (pcm, err) = decode_all(&mut d);
        assert!(err.is_none(), "{path}: {err:?}");
        assert_eq!(pcm.len(), 88_200 * 2, "{path}");
        assert_eq!(ranges(&env, path), [Some("bytes=0-".to_owned())], "{path}");
    }
}

#[test]
fn a_local_file_has_its_tail_tags() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    for (path, body, want) in cases() {
        let file = dir.path().join(path.trim_start_matches('/'));
        std::fs::write(&file, body).unwrap();
        let stream = env
            .rt
            .block_on(Stream::<File>::new(FileConfig::local(file).build()))
            .unwrap();
        let d = Decoder::new(stream, DecoderConfig::default()).unwrap();
        assert_tags(&d.info().tags, want, path);
    }
}

#[test]
fn with_fetch_tail_tags_one_ranged_request_fetches_the_tail() {
    let env = Env::new();
    for (path, body, want) in cases() {
        let len = body.len();
        env.server.route(path, stalled(body));
        let mut d = decoder(&env, path, true);
        assert_tags(&d.info().tags, want, path);
        let tail = format!("bytes={}-{}", len - MAX_TAIL.min(len), len - 1);
        let log = ranges(&env, path);
        assert_eq!(
            log[..2],
            [Some("bytes=0-".to_owned()), Some(tail)],
            "{path}: {log:?}"
        );
        // The reader went back: the file decodes to its end, and the tail was requested once.
        let (pcm, err) = decode_all(&mut d);
        assert!(err.is_none(), "{path}: {err:?}");
        assert_eq!(pcm.len(), 88_200 * 2, "{path}");
        let log = ranges(&env, path);
        let tail_requests = log
            .iter()
            .flatten()
            .filter_map(|r| {
                r.strip_prefix("bytes=")?
                    .split('-')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .filter(|&start| start >= len - MAX_TAIL.min(len))
            .count();
        assert_eq!(tail_requests, 1, "{path}: {log:?}");
    }
}

#[test]
fn the_second_open_through_the_cache_has_the_tail_tags_without_a_get() {
    use kithara_storage::{AssetStore, AssetStoreConfig, StorageKind};

    let env = Env::new();
    let tmp = tempfile::tempdir().unwrap();
    let store = AssetStore::new(AssetStoreConfig::builder().dir(tmp.path()).build()).unwrap();
    let (path, body, want) = cases().swap_remove(2);
    let cached = |c: &mut FileConfig| c.options.storage = Some(StorageKind::Cache(store.clone()));
    env.server
        .route(path, Route::new(body.clone()).content_type("audio/mpeg"));
    // First open: decoded to the end, so the cache holds the whole file.
    let stream = env.open_with(path, cached).unwrap();
    let mut d = Decoder::new(stream, DecoderConfig::default()).unwrap();
    let (_, err) = decode_all(&mut d);
    assert!(err.is_none(), "{err:?}");
    let stream = d.into_stream();
    stream.source().storage().unwrap().flush_cache().unwrap();
    drop(stream);
    // Second open: a server that would stall any body; the cache answers.
    env.server.clear_log();
    env.server.route(path, stalled(body));
    let stream = env.open_with(path, cached).unwrap();
    let d = Decoder::new(stream, DecoderConfig::default()).unwrap();
    assert_tags(&d.info().tags, want, path);
    let gets = env
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == path && r.method.as_str() == "GET")
        .count();
    assert_eq!(gets, 0);
}
