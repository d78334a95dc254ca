use proptest::prelude::*;

use super::*;

/// An ID3v1 tag; v1.1 when `track` is given.
pub(super) fn id3v1_tag(title: &str, artist: &str, album: &str, track: Option<u8>) -> Vec<u8> {
    let mut t = b"TAG".to_vec();
    for (s, n) in [(title, 30), (artist, 30), (album, 30), ("2026", 4)] {
        let mut f = s.as_bytes().to_vec();
        f.resize(n, 0);
        t.extend(f);
    }
    let mut comment = b"a comment".to_vec();
    comment.resize(30, 0);
    if let Some(n) = track {
        comment[29] = n;
    }
    t.extend(comment);
    t.push(12); // genre
    t
}

/// An APEv2 tag (with a header when asked) of `(key, flags, value)` items.
pub(super) fn ape_tag(items: &[(&str, u32, &[u8])], header: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, flags, value) in items {
        body.extend((value.len() as u32).to_le_bytes());
        body.extend(flags.to_le_bytes());
        body.extend(key.as_bytes());
        body.push(0);
        body.extend(*value);
    }
    let size = (body.len() + 32) as u32;
    let part = |is_header: bool| {
        let mut p = b"APETAGEX".to_vec();
        p.extend(2000u32.to_le_bytes());
        p.extend(size.to_le_bytes());
        p.extend((items.len() as u32).to_le_bytes());
        let flags =
            if header { 0x8000_0000u32 } else { 0 } | if is_header { 0x2000_0000 } else { 0 };
        p.extend(flags.to_le_bytes());
        p.extend([0u8; 8]);
        p
    };
    let mut out = if header { part(true) } else { Vec::new() };
    out.extend(body);
    out.extend(part(false));
    out
}

fn audio() -> Vec<u8> {
    (0..4000u32).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn id3v1_fields_and_v1_1_track_number() {
    let mut f = audio();
    f.extend(id3v1_tag("kit tail", "kithara", "fixtures", Some(7)));
    let t = parse(&f);
    assert_eq!(t.title.as_deref(), Some("kit tail"));
    assert_eq!(t.artist.as_deref(), Some("kithara"));
    assert_eq!(t.album.as_deref(), Some("fixtures"));
    assert_eq!(t.track_number, Some(7));
    assert_eq!(extent(&f[f.len() - 160..]), 128);
    // ID3v1.0: the comment runs to its end, no track number.
    let mut v10 = id3v1_tag("kit tail", "", "", None);
    v10[125..127].copy_from_slice(b"xy");
    let t = parse(&v10);
    assert_eq!(
        (t.title.as_deref(), t.artist, t.track_number),
        (Some("kit tail"), None, None)
    );
}

#[test]
fn latin1_text_is_decoded() {
    let t = parse(
        &id3v1_tag("caf\u{e9}", "", "", None)
            .iter()
            .map(|&b| if b == 0xc3 { 0 } else { b })
            .collect::<Vec<_>>(),
    );
    // "café" in UTF-8 is c3 a9: with c3 zeroed the field ends before it.
    assert_eq!(t.title.as_deref(), Some("caf"));
    let mut raw = id3v1_tag("", "", "", None);
    raw[3..8].copy_from_slice(b"caf\xe9 ");
    assert_eq!(parse(&raw).title.as_deref(), Some("caf\u{e9}"));
}

#[test]
fn ape_items_at_the_end_and_before_id3v1() {
    let items: &[(&str, u32, &[u8])] = &[
        ("Title", 0, b"ape title"),
        ("ARTIST", 0, b"ape artist\0second"),
        ("Album", 0, b"ape album"),
        ("Track", 0, b"3/12"),
        ("Cover Art (Front)", 2, b"front.png\0\x89PNG"),
        ("Comment", 4, b"a locator"),
    ];
    for header in [false, true] {
        let tag = ape_tag(items, header);
        let mut f = audio();
        f.extend(&tag);
        let t = parse(&f);
        assert_eq!(t.title.as_deref(), Some("ape title"));
        assert_eq!(t.artist.as_deref(), Some("ape artist"));
        assert_eq!(t.album.as_deref(), Some("ape album"));
        assert_eq!(t.track_number, Some(3));
        assert!(t.has_cover_art);
        assert_eq!(extent(&f[f.len() - 160..]), tag.len() as u64);
        // APE before ID3v1: APE's fields win, ID3v1 fills the rest.
        let items: &[(&str, u32, &[u8])] = &[("Title", 0, b"ape title")];
        let mut f = audio();
        let tag = ape_tag(items, header);
        f.extend(&tag);
        f.extend(id3v1_tag("v1 title", "v1 artist", "", Some(9)));
        let t = parse(&f);
        assert_eq!(t.title.as_deref(), Some("ape title"));
        assert_eq!(t.artist.as_deref(), Some("v1 artist"));
        assert_eq!(t.track_number, Some(9));
        assert_eq!(extent(&f[f.len() - 160..]), tag.len() as u64 + 128);
    }
}

#[test]
fn an_ape_tag_larger_than_the_bytes_held_is_skipped_but_its_extent_known() {
    let big = vec![b'x'; 500];
    let items: &[(&str, u32, &[u8])] = &[("Title", 0, &big)];
    let tag = ape_tag(items, false);
    let mut f = audio();
    f.extend(&tag);
    f.extend(id3v1_tag("v1", "", "", None));
    let end = &f[f.len() - 160..];
    assert_eq!(parse(end).title.as_deref(), Some("v1"));
    assert_eq!(extent(end), tag.len() as u64 + 128);
    assert_eq!(
        parse(&f).title.as_deref(),
        Some(&*String::from_utf8(big).unwrap())
    );
}

#[test]
fn hostile_ape_footers_give_nothing() {
    for (size, count) in [
        (u32::MAX, u32::MAX),
        (0, 1),
        (31, 1),
        (32, u32::MAX),
        (33, 2),
    ] {
        let mut f = audio();
        f.extend(b"APETAGEX");
        f.extend(2000u32.to_le_bytes());
        f.extend(size.to_le_bytes());
        f.extend(count.to_le_bytes());
        f.extend(0x8000_0000u32.to_le_bytes());
        f.extend([0u8; 8]);
        let t = parse(&f);
        assert!(t.is_empty() && t.raw.is_empty(), "{size} {count}: {t:?}");
        assert!(extent(&f) <= u64::from(size) + 32);
    }
    // An item whose value length runs past the tag.
    let mut tag = ape_tag(&[("Title", 0, b"abc")], false);
    tag[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(parse(&tag).is_empty());
}

proptest! {
    /// Any bytes, with or without markers planted at the places looked at, parse without panic;
    /// what comes out is bounded by the bytes given.
    #[test]
    fn any_tail_parses_within_bounds(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        plant_ape in any::<bool>(),
        plant_v1 in any::<bool>(),
        size in any::<u32>(),
        count in any::<u32>(),
    ) {
        let n = bytes.len();
        if plant_v1 && n >= 128 {
            bytes[n - 128..n - 125].copy_from_slice(b"TAG");
        }
        let footer_end = if plant_v1 && n >= 128 { n - 128 } else { n };
        if plant_ape && footer_end >= 32 {
            let f = footer_end - 32;
            bytes[f..f + 8].copy_from_slice(b"APETAGEX");
            bytes[f + 8..f + 12].copy_from_slice(&2000u32.to_le_bytes());
            bytes[f + 12..f + 16].copy_from_slice(&size.to_le_bytes());
            bytes[f + 16..f + 20].copy_from_slice(&count.to_le_bytes());
        }
        let t = parse(&bytes);
        let _ = extent(&bytes);
        prop_assert!(t.raw.len() <= 32);
        for s in [&t.title, &t.artist, &t.album].into_iter().flatten() {
            prop_assert!(s.len() <= 2 * n);
        }
        for f in &t.raw {
            prop_assert!(f.value.len() <= 1024);
        }
    }
}
