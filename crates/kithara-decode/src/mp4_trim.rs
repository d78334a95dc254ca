//! Encoder delay and padding of AAC in MP4/M4A, which symphonia's MP4 reader does not apply
//! (symphonia issue 544): read from the first audio track's edit list (`edts`/`elst`: the edit's
//! `media_time` is the delay, its `segment_duration` the valid length) or, without a delay there,
//! from iTunes' `iTunSMPB` tag (`udta`/`meta`/`ilst`/`----`, or the QuickTime `keys` form ffmpeg
//! writes: delay, padding, original length).
//!
//! Only the `moov` box is read (the reader reads it anyway); a fragmented file (`mvex`) is left
//! alone, its fragments carry their own timing.

use std::io::{Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

/// Top-level boxes walked to find `moov`.
const MAX_TOP_BOXES: usize = 32;
/// A larger `moov` is not read for trimming (a long file's sample tables are a few MB).
const MAX_MOOV: u64 = 64 << 20;

/// What the container declares, in the audio track's media timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trim {
    /// Samples before the first one to play (the encoder's priming).
    pub(crate) delay: u64,
    /// Samples to play from there, when declared.
    pub(crate) frames: Option<u64>,
    /// Samples per second of the values above.
    pub(crate) timescale: u32,
}

impl Trim {
    /// The delay and length in frames at `rate`.
    pub(crate) fn at_rate(&self, rate: u32) -> (u64, Option<u64>) {
        let scale = |v: u64| {
            if self.timescale == rate || self.timescale == 0 {
                v
            } else {
                let f = u128::from(v) * u128::from(rate) / u128::from(self.timescale);
                u64::try_from(f).unwrap_or(u64::MAX)
            }
        };
        (scale(self.delay), self.frames.map(scale))
    }
}

/// The trim the file at `source` declares; the source is back at byte 0 afterwards. I/O errors
/// and malformed boxes mean no trim (the reader reports them if they matter).
pub(crate) fn read_trim(source: &mut Box<dyn MediaSource>) -> Option<Trim> {
    let moov = read_moov(source);
    // The reader starts at byte 0 whatever happened.
    source.seek(SeekFrom::Start(0)).ok()?;
    parse_moov(&moov?)
}

fn read_moov(source: &mut Box<dyn MediaSource>) -> Option<Vec<u8>> {
    let mut pos = 0u64;
    for _ in 0..MAX_TOP_BOXES {
        source.seek(SeekFrom::Start(pos)).ok()?;
        let mut hdr = [0u8; 16];
        let mut n = 0;
        while n < 16 {
            match source.read(&mut hdr[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        let (size, head) = box_size(&hdr[..n])?;
        if &hdr[4..8] == b"moov" {
            let len = size.checked_sub(head).filter(|&l| l <= MAX_MOOV)?;
            source.seek(SeekFrom::Start(pos.checked_add(head)?)).ok()?;
            let mut body = Vec::with_capacity(usize::try_from(len).ok()?);
            source.take(len).read_to_end(&mut body).ok()?;
            return Some(body);
        }
        pos = pos.checked_add(size)?;
    }
    None
}

/// A box's total size and header length from its first bytes (`size == 0`, to the end, is not
/// followed).
fn box_size(b: &[u8]) -> Option<(u64, u64)> {
    let size = u32::from_be_bytes(b.get(..4)?.try_into().ok()?);
    let (size, head) = match size {
        1 => (u64::from_be_bytes(b.get(8..16)?.try_into().ok()?), 16),
        s => (u64::from(s), 8),
    };
    (size >= head).then_some((size, head))
}

/// The child boxes of a box's payload: `(type, payload)`.
fn children(mut b: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let (size, head) = box_size(b)?;
        let kind: [u8; 4] = b.get(4..8)?.try_into().ok()?;
        let size = usize::try_from(size).ok()?;
        let head = usize::try_from(head).ok()?;
        let payload = b.get(head..size)?;
        b = &b[size..];
        Some((kind, payload))
    })
}

fn child<'a>(b: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(b).find(|(k, _)| k == kind).map(|(_, p)| p)
}

fn be(b: &[u8], at: usize, len: usize) -> Option<u64> {
    let bytes = b.get(at..at.checked_add(len)?)?;
    Some(bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// `(timescale, duration)` of an `mvhd` or `mdhd` payload.
fn timescale_and_duration(b: &[u8]) -> Option<(u32, u64)> {
    let (ts, dur) = if *b.first()? == 1 {
        (be(b, 20, 4)?, be(b, 24, 8)?)
    } else {
        (be(b, 12, 4)?, be(b, 16, 4)?)
    };
    Some((u32::try_from(ts).ok()?, dur))
}

/// The first edit that plays media: `(segment_duration, media_time)`.
fn first_edit(elst: &[u8]) -> Option<(u64, u64)> {
    let v1 = *elst.first()? == 1;
    let count = be(elst, 4, 4)?;
    let (entry, field) = if v1 { (20, 8) } else { (12, 4) };
    (0..count.min(64)).find_map(|i| {
        let at = 8 + usize::try_from(i).ok()? * entry;
        let seg = be(elst, at, field)?;
        let time = be(elst, at + field, field)?;
        // An empty edit (media_time -1) inserts silence: not a trim.
        let empty = if v1 {
            time == u64::MAX
        } else {
            time == u64::from(u32::MAX)
        };
        (!empty).then_some((seg, time))
    })
}

/// `iTunSMPB`'s `(delay, padding, original length)` from a `meta` payload: in iTunes' form (an
/// `ilst` item `----` named `iTunSMPB`) or in QuickTime's (an `ilst` item whose type is the
/// 1-based index of the `keys` entry `mdta` `iTunSMPB`, as ffmpeg writes it with
/// `-movflags +use_metadata_tags`).
fn meta_itunsmpb(meta: &[u8]) -> Option<(u64, u64, u64)> {
    // A full box in MP4, a plain one in QuickTime files.
    let body = if child(meta.get(4..)?, b"ilst").is_some() {
        meta.get(4..)?
    } else {
        meta
    };
    let ilst = child(body, b"ilst")?;
    let freeform = children(ilst)
        .filter(|(k, _)| k == b"----")
        .find_map(|(_, p)| {
            let name = child(p, b"name")?;
            (name.get(4..)? == b"iTunSMPB").then_some(())?;
            smpb_value(child(p, b"data")?)
        });
    freeform.or_else(|| {
        let index = keys_index(child(body, b"keys")?, b"mdtaiTunSMPB")?;
        children(ilst)
            .find(|(k, _)| u32::from_be_bytes(*k) == index)
            .and_then(|(_, p)| smpb_value(child(p, b"data")?))
    })
}

/// The 1-based index of the entry `namespace ‖ name` in a `keys` payload.
fn keys_index(keys: &[u8], wanted: &[u8]) -> Option<u32> {
    let mut entries = keys.get(8..)?;
    for index in 1..=u32::try_from(be(keys, 4, 4)?).ok()?.min(256) {
        let size = usize::try_from(be(entries, 0, 4)?).ok()?;
        if entries.get(4..size)? == wanted {
            return Some(index);
        }
        entries = entries.get(size.max(8)..)?;
    }
    None
}

/// The `(delay, padding, original length)` of an `iTunSMPB` `data` payload (type and locale,
/// then hexadecimal words: reserved, delay, padding, length).
fn smpb_value(data: &[u8]) -> Option<(u64, u64, u64)> {
    let text = std::str::from_utf8(data.get(8..)?).ok()?;
    let mut words = text.split_whitespace().map(|w| u64::from_str_radix(w, 16));
    let _reserved = words.next()?;
    Some((
        words.next()?.ok()?,
        words.next()?.ok()?,
        words.next()?.ok()?,
    ))
}

fn parse_moov(moov: &[u8]) -> Option<Trim> {
    if child(moov, b"mvex").is_some() {
        return None;
    }
    let (movie_ts, _) = timescale_and_duration(child(moov, b"mvhd")?)?;
    let trak = children(moov)
        .filter(|(k, _)| k == b"trak")
        .find_map(|(_, t)| {
            let mdia = child(t, b"mdia")?;
            (child(mdia, b"hdlr")?.get(8..12)? == b"soun").then_some((t, mdia))
        });
    let (trak, mdia) = trak?;
    let (timescale, media_dur) = timescale_and_duration(child(mdia, b"mdhd")?)?;
    let edit = child(trak, b"edts")
        .and_then(|e| child(e, b"elst"))
        .and_then(first_edit);
    let smpb = [
        child(moov, b"udta").and_then(|u| child(u, b"meta")),
        child(moov, b"meta"),
    ]
    .into_iter()
    .flatten()
    .find_map(meta_itunsmpb);
    match (edit, smpb) {
        (Some((seg, delay)), smpb) if delay > 0 || smpb.is_none() => {
            let declared = (seg > 0 && movie_ts > 0).then(|| {
                let f = u128::from(seg) * u128::from(timescale) / u128::from(movie_ts);
                u64::try_from(f).unwrap_or(u64::MAX)
            });
            let rest = media_dur.saturating_sub(delay);
            let frames = Some(declared.map_or(rest, |d| d.min(rest)));
            Some(Trim {
                delay,
                frames,
                timescale,
            })
        }
        (_, Some((delay, padding, original))) => Some(Trim {
            delay,
            frames: Some(if original > 0 {
                original
            } else {
                media_dur.saturating_sub(delay).saturating_sub(padding)
            }),
            timescale,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = u32::try_from(payload.len() + 8)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    }

    fn header(timescale: u32, duration: u32) -> Vec<u8> {
        let mut b = vec![0u8; 12];
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&[0u8; 8]);
        b
    }

    fn moov(edit: Option<(u32, u32)>, smpb: Option<&str>) -> Vec<u8> {
        let hdlr = [&[0u8; 8][..], b"soun", &[0u8; 12]].concat();
        let mdia = [mk(b"mdhd", &header(44_100, 90_112)), mk(b"hdlr", &hdlr)].concat();
        let mut trak = Vec::new();
        if let Some((seg, time)) = edit {
            let elst = [
                &[0u8, 0, 0, 0, 0, 0, 0, 1][..],
                &seg.to_be_bytes(),
                &time.to_be_bytes(),
                &[0, 1, 0, 0],
            ]
            .concat();
            trak.extend(mk(b"edts", &mk(b"elst", &elst)));
        }
        trak.extend(mk(b"mdia", &mdia));
        let mut moov = [mk(b"mvhd", &header(1000, 2043)), mk(b"trak", &trak)].concat();
        if let Some(s) = smpb {
            let name = mk(b"name", &[&[0u8; 4][..], b"iTunSMPB"].concat());
            let data = mk(
                b"data",
                &[&[0u8, 0, 0, 1, 0, 0, 0, 0][..], s.as_bytes()].concat(),
            );
            let free = mk(
                b"----",
                &[mk(b"mean", b"\0\0\0\0com.apple.iTunes"), name, data].concat(),
            );
            let meta = mk(b"meta", &[&[0u8; 4][..], &mk(b"ilst", &free)].concat());
            moov.extend(mk(b"udta", &meta));
        }
        moov
    }

    #[test]
    fn edit_list_gives_delay_and_length() {
        let t = parse_moov(&moov(Some((2000, 1024)), None)).unwrap();
        assert_eq!(
            (t.delay, t.frames, t.timescale),
            (1024, Some(88_200), 44_100)
        );
        assert_eq!(t.at_rate(22_050), (512, Some(44_100)));
    }

    #[test]
    fn itunsmpb_without_a_delay_in_the_edit_list() {
        let smpb = " 00000000 00000840 000001CA 0000000000015888 00000000";
        let t = parse_moov(&moov(Some((2043, 0)), Some(smpb))).unwrap();
        assert_eq!((t.delay, t.frames), (0x840, Some(0x15888)));
        let t = parse_moov(&moov(None, Some(smpb))).unwrap();
        assert_eq!((t.delay, t.frames), (0x840, Some(0x15888)));
    }

    #[test]
    fn itunsmpb_as_quicktime_keys() {
        let smpb = " 00000000 00000400 00000080 000000000000BB80 00000000";
        let key = |name: &[u8]| mk(b"mdta", name)[4..].to_vec();
        let keys = [
            &[0u8, 0, 0, 0, 0, 0, 0, 2][..],
            &[&12u32.to_be_bytes()[..], &key(b"name")].concat(),
            &[&16u32.to_be_bytes()[..], &key(b"iTunSMPB")].concat(),
        ]
        .concat();
        let data = mk(
            b"data",
            &[&[0u8, 0, 0, 1, 0, 0, 0, 0][..], smpb.as_bytes()].concat(),
        );
        let item = |i: u32, d: &[u8]| {
            let mut b = u32::try_from(d.len() + 8).unwrap().to_be_bytes().to_vec();
            b.extend_from_slice(&i.to_be_bytes());
            b.extend_from_slice(d);
            b
        };
        let ilst = mk(
            b"ilst",
            &[
                item(1, &mk(b"data", b"\0\0\0\x01\0\0\0\0x")),
                item(2, &data),
            ]
            .concat(),
        );
        let meta = [&[0u8; 4][..], &mk(b"keys", &keys), &ilst].concat();
        assert_eq!(meta_itunsmpb(&meta), Some((0x400, 0x80, 48_000)));
    }

    #[test]
    fn nothing_declared() {
        assert_eq!(parse_moov(&moov(None, None)), None);
        // An edit list without a delay: the whole media.
        let t = parse_moov(&moov(Some((0, 0)), None)).unwrap();
        assert_eq!((t.delay, t.frames), (0, Some(90_112)));
    }
}
