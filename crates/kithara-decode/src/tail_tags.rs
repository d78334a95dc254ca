//! Tags at the end of a file: ID3v1 (the last 128 bytes, v1.1 track number) and APEv2 (a footer
//! `APETAGEX` at the end or just before ID3v1), read from the stream's bytes when they are
//! present already, or, when the [`DecoderConfig`](crate::DecoderConfig) asks for it, with one
//! read of the file's last [`MAX_TAIL`] bytes (one ranged request).
//!
//! A small parser rather than symphonia's `Id3v1Reader` / `ApeReader`: those read a
//! `MediaSourceStream` (a 64 KiB buffer for 128 bytes of ID3v1), and the APE reader sizes each
//! item's buffer from the tag's own length field (up to 4 MiB reserved before a hostile length
//! fails). Here every length is checked against the bytes held, at most [`MAX_TAIL`], and only
//! the fields kept are copied out.

use std::io::{Read, Seek, SeekFrom};

use kithara_stream::{Stream, StreamType};

use crate::tags::Tags;

/// Most bytes read from the end of a file for its tags: ID3v1 and an APE tag of text items
/// (an APE tag holding cover art is larger and is skipped).
pub(crate) const MAX_TAIL: u64 = 16 * 1024;
/// An ID3v1 tag's length.
const ID3V1: usize = 128;
/// An APE tag footer's (and header's) length.
const APE_FOOTER: usize = 32;
/// Enough of the end to find both tags' markers.
const FOOTERS: u64 = (ID3V1 + APE_FOOTER) as u64;
/// Most APE items looked at.
const MAX_APE_ITEMS: u32 = 64;

/// The tail tags of a stream that is not segmented and whose length is known: from the bytes
/// present, else (with `fetch`) by reading the last bytes. `None` when there are none to read.
pub(crate) fn read<T: StreamType>(s: &mut Stream<T>, fetch: bool) -> Option<Tags> {
    if s.timeline().maps_time() {
        return None;
    }
    let len = s.len()?;
    let tail = match present_tail(s, len) {
        Some(t) => t,
        None if fetch => match fetch_tail(s, len) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, len, "fetching the file's tail for its tags failed");
                return None;
            }
        },
        None => {
            tracing::debug!(
                len,
                "the file's tail is not present: its ID3v1/APE tags are not read"
            );
            return None;
        }
    };
    Some(parse(&tail))
}

/// The file's last bytes that hold its tail tags, when they are present: the last 160 bytes, or
/// more when an APE tag there reaches further back (up to [`MAX_TAIL`]).
fn present_tail<T: StreamType>(s: &mut Stream<T>, len: u64) -> Option<Vec<u8>> {
    let small = len.min(FOOTERS);
    let tail = present(s, len.checked_sub(small)?, small)?;
    let need = extent(&tail).min(len);
    if need > small && need <= MAX_TAIL {
        if let Some(more) = present(s, len - need, need) {
            return Some(more);
        }
    }
    Some(tail)
}

/// The `n` bytes from `at` when all are present.
fn present<T: StreamType>(s: &mut Stream<T>, at: u64, n: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(n).ok()?];
    let mut got = 0;
    while got < buf.len() {
        let pos = at.checked_add(got as u64)?;
        match s.read_present(pos, &mut buf[got..]) {
            Ok(0) | Err(_) => return None,
            Ok(k) => got += k,
        }
    }
    Some(buf)
}

/// Reads the last `min(len, MAX_TAIL)` bytes (the stream requests them if it must), then puts
/// the reader back where it was.
fn fetch_tail<T: StreamType>(s: &mut Stream<T>, len: u64) -> std::io::Result<Vec<u8>> {
    let n = len.min(MAX_TAIL);
    let back = s.position();
    s.seek(SeekFrom::Start(len - n))?;
    // n ≤ MAX_TAIL fits in usize.
    let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
    let read = s.read_exact(&mut buf);
    s.seek(SeekFrom::Start(back))?;
    read.map(|()| buf)
}

/// How many bytes from the end the tags in `tail` span (ID3v1, then an APE tag with its
/// header), as far as their markers say; 0 when there is none.
fn extent(tail: &[u8]) -> u64 {
    let (v1, body) = split_id3v1(tail);
    let v1 = if v1.is_some() { ID3V1 as u64 } else { 0 };
    let ape = ape_footer(body).map_or(0, |f| f.extent);
    v1.saturating_add(ape)
}

/// ID3v1 (and the bytes before it) when `tail` ends with one.
fn split_id3v1(tail: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match tail.len().checked_sub(ID3V1) {
        Some(at) if tail[at..].starts_with(b"TAG") => (Some(&tail[at..]), &tail[..at]),
        _ => (None, tail),
    }
}

/// The tags in a file's last bytes: an APE tag's fields first, then ID3v1's where APE has none.
pub(crate) fn parse(tail: &[u8]) -> Tags {
    let (v1, body) = split_id3v1(tail);
    let mut tags = ape(body).unwrap_or_default();
    if let Some(v1) = v1 {
        tags.fill_from(id3v1(v1));
    }
    tags
}

/// An ID3v1 tag (128 bytes from `TAG`): Latin-1 text fields, and the v1.1 track number (a zero
/// byte before the comment's last byte).
fn id3v1(t: &[u8]) -> Tags {
    let mut tags = Tags::default();
    let Some(t) = t.get(..ID3V1) else {
        return tags;
    };
    for (key, range) in [("TITLE", 3..33), ("ARTIST", 33..63), ("ALBUM", 63..93)] {
        let Some(text) = latin1(&t[range]) else {
            continue;
        };
        tags.push_raw(key, &text);
        let field = match key {
            "TITLE" => &mut tags.title,
            "ARTIST" => &mut tags.artist,
            _ => &mut tags.album,
        };
        *field = Some(text);
    }
    if t[125] == 0 && t[126] != 0 {
        let n = t[126];
        tags.track_number = Some(u64::from(n));
        tags.push_raw("TRACK", &n.to_string());
    }
    tags
}

/// A Latin-1 field up to its first NUL, trailing spaces removed; `None` when empty.
fn latin1(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s: String = b[..end].iter().map(|&c| char::from(c)).collect();
    let s = s.trim_end();
    (!s.is_empty()).then(|| s.to_owned())
}

/// What an APE footer says.
struct ApeFooter {
    /// Where the items start in the bytes given.
    items: usize,
    /// Where the footer starts.
    footer: usize,
    /// Items announced.
    count: u32,
    /// Bytes from the tag's start (its header, if any) to the end of the footer.
    extent: u64,
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The APE footer at the end of `b`, checked: its size covers the footer, and the items (which it
/// places before the footer) must lie within `b` for `items` to be found (else `extent` says how
/// far back the tag reaches).
fn ape_footer(b: &[u8]) -> Option<ApeFooter> {
    let footer = b.len().checked_sub(APE_FOOTER)?;
    let f = &b[footer..];
    if !f.starts_with(b"APETAGEX") || !matches!(le32(f, 8)?, 1000 | 2000) {
        return None;
    }
    // The tag's size counts the items and the footer, not the header.
    let size = u64::from(le32(f, 12)?);
    let count = le32(f, 16)?;
    let has_header = le32(f, 20)? & 0x8000_0000 != 0;
    let items_len = size.checked_sub(APE_FOOTER as u64)?;
    let header = if has_header { APE_FOOTER as u64 } else { 0 };
    let extent = size.checked_add(header)?;
    let items = usize::try_from(items_len)
        .ok()
        .and_then(|l| footer.checked_sub(l))
        .unwrap_or(usize::MAX);
    Some(ApeFooter {
        items,
        footer,
        count,
        extent,
    })
}

/// An APE tag ending at the end of `b`: its text items Title, Artist, Album, Track (any case),
/// and whether it carries cover art. `None` without a tag whose items all lie within `b`.
fn ape(b: &[u8]) -> Option<Tags> {
    let f = ape_footer(b)?;
    let mut rest = b.get(f.items..f.footer)?;
    let mut tags = Tags::default();
    for _ in 0..f.count.min(MAX_APE_ITEMS) {
        let Some((item, after)) = ape_item(rest) else {
            break;
        };
        rest = after;
        tags.add_ape(item);
    }
    Some(tags)
}

/// One APE item: its key, flags and value.
struct ApeItem<'a> {
    key: &'a str,
    flags: u32,
    value: &'a [u8],
}

/// Splits one item off `b`: value length, flags, a NUL-terminated ASCII key (at most 255
/// bytes), the value. `None` when any of it runs past `b`.
fn ape_item(b: &[u8]) -> Option<(ApeItem<'_>, &[u8])> {
    let len = usize::try_from(le32(b, 0)?).ok()?;
    let flags = le32(b, 4)?;
    let rest = b.get(8..)?;
    let nul = rest.iter().take(256).position(|&c| c == 0)?;
    let key = std::str::from_utf8(&rest[..nul]).ok()?;
    let start = nul + 1;
    let end = start.checked_add(len)?;
    let value = rest.get(start..end)?;
    Some((ApeItem { key, flags, value }, &rest[end..]))
}

impl Tags {
    fn add_ape(&mut self, item: ApeItem<'_>) {
        let key = item.key.to_ascii_lowercase();
        // Value type: bits 1-2 of the flags (0: UTF-8 text, 1: binary, 2: locator).
        match (item.flags >> 1) & 3 {
            1 if key.starts_with("cover art") => self.has_cover_art = true,
            0 => {
                let Ok(text) = std::str::from_utf8(item.value) else {
                    return;
                };
                // Several values are separated by NULs: the first is kept.
                let first = text.split('\0').next().unwrap_or_default().trim();
                if first.is_empty() {
                    return;
                }
                let value = Some(first.to_owned());
                match key.as_str() {
                    "title" => self.title = value,
                    "artist" => self.artist = value,
                    "album" => self.album = value,
                    // "3" or "3/12".
                    "track" => {
                        if let Some(n) = first.split('/').next().and_then(|n| n.trim().parse().ok())
                        {
                            self.track_number = Some(n);
                        }
                    }
                    _ => {}
                }
                self.push_raw(item.key, first);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "tail_tags_tests.rs"]
mod tests;
