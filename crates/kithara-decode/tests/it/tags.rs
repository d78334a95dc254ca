//! File tags on `TrackInfo` and as the first now-playing: ID3v2 (MP3), Vorbis comments and a
//! picture (FLAC), `ilst` (M4A), each tagged in memory and served over loopback.

use kithara_test_support::Route;

use crate::common::{media_path, Env};

fn be32(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap().to_be_bytes()
}

fn le32(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap().to_le_bytes()
}

/// The FLAC fixture with a Vorbis comment block and a picture block after its STREAMINFO.
fn tagged_flac() -> Vec<u8> {
    let flac = std::fs::read(media_path("chirp.flac")).unwrap();
    let mut comment = Vec::new();
    comment.extend(le32(7));
    comment.extend(b"kithara");
    let fields = [
        "TITLE=kit big",
        "ARTIST=kithara",
        "ALBUM=fixtures",
        "TRACKNUMBER=3",
    ];
    comment.extend(le32(fields.len()));
    for f in fields {
        comment.extend(le32(f.len()));
        comment.extend(f.as_bytes());
    }
    let mut picture = Vec::new();
    picture.extend(be32(3)); // front cover
    picture.extend(be32(9));
    picture.extend(b"image/png");
    picture.extend(be32(0));
    picture.extend([be32(1), be32(1), be32(24), be32(0)].concat());
    let png = b"\x89PNG\r\n\x1a\n";
    picture.extend(be32(png.len()));
    picture.extend(png);
    // fLaC + STREAMINFO (34 bytes, not the last block) stay first.
    let mut out = flac[..4 + 4 + 34].to_vec();
    for (kind, body) in [(4u8, comment), (6u8, picture)] {
        out.push(kind);
        out.extend(&be32(body.len())[1..]);
        out.extend(body);
    }
    out.extend_from_slice(&flac[42..]);
    out
}

fn atom(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut a = be32(8 + body.len()).to_vec();
    a.extend(kind);
    a.extend(body);
    a
}

/// An `ilst` data atom of `kind` (1: UTF-8, 0: implicit, 14: PNG).
fn data(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0, kind, 0, 0, 0, 0];
    b.extend(value);
    atom(b"data", &b)
}

/// The M4A fixture (its `moov` is the last atom) with a `udta`/`meta`/`ilst` holding a title,
/// an artist, a track number and a cover.
fn tagged_m4a() -> Vec<u8> {
    let m4a = std::fs::read(media_path("chirp.m4a")).unwrap();
    let moov = m4a.windows(4).position(|w| w == b"moov").unwrap() - 4;
    let size = u32::from_be_bytes(m4a[moov..moov + 4].try_into().unwrap()) as usize;
    assert_eq!(moov + size, m4a.len(), "moov is the last atom");
    let ilst = [
        atom(b"\xa9nam", &data(1, b"kit big")),
        atom(b"\xa9ART", &data(1, b"kithara")),
        atom(b"trkn", &data(0, &[0, 0, 0, 3, 0, 10, 0, 0])),
        atom(b"covr", &data(14, b"\x89PNG\r\n\x1a\n")),
    ]
    .concat();
    let mut hdlr = vec![0u8; 8];
    hdlr.extend(b"mdirappl");
    hdlr.extend([0u8; 9]);
    let mut meta = vec![0u8; 4];
    meta.extend(atom(b"hdlr", &hdlr));
    meta.extend(atom(b"ilst", &ilst));
    let udta = atom(b"udta", &atom(b"meta", &meta));
    let mut out = m4a.clone();
    out.extend(&udta);
    out[moov..moov + 4].copy_from_slice(&be32(size + udta.len()));
    out
}

#[test]
fn tags_of_mp3_flac_and_m4a_are_on_the_track_info_and_the_first_chunk() {
    let env = Env::new();
    let cases = [
        (
            "/t.mp3",
            crate::nowplaying::tagged_mp3("kit big"),
            "audio/mpeg",
            None,
            None,
            false,
        ),
        (
            "/t.flac",
            tagged_flac(),
            "audio/flac",
            Some("fixtures"),
            Some(3),
            true,
        ),
        ("/t.m4a", tagged_m4a(), "audio/mp4", None, Some(3), true),
    ];
    for (path, body, ct, album, track, cover) in cases {
        env.server.route(path, Route::new(body).content_type(ct));
        let mut d = env.remote_path(path).unwrap();
        let tags = d.info().tags.clone();
        assert_eq!(tags.title.as_deref(), Some("kit big"), "{path}: {tags:?}");
        assert_eq!(tags.artist.as_deref(), Some("kithara"), "{path}");
        assert_eq!(tags.album.as_deref(), album, "{path}");
        assert_eq!(tags.track_number, track, "{path}");
        assert_eq!(tags.has_cover_art, cover, "{path}");
        assert_eq!(
            d.now_playing().and_then(|n| n.title.as_deref()),
            Some("kit big")
        );
        let first = d.next_chunk().unwrap().unwrap();
        assert_eq!(first.now_playing.len(), 1, "{path}");
        let np = &first.now_playing[0];
        assert_eq!((np.offset, np.seq), (0, None));
        assert_eq!(np.now_playing.artist.as_deref(), Some("kithara"));
        assert!(d.next_chunk().unwrap().unwrap().now_playing.is_empty());
    }
}

#[test]
fn an_untagged_file_has_empty_tags() {
    let env = Env::new();
    let d = env.remote("chirp.wav");
    assert!(d.info().tags.is_empty());
    assert!(d.now_playing().is_none());
}
