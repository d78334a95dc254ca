//! ICY (SHOUTcast / Icecast) in-band metadata: stripping the blocks out of the body before any
//! byte reaches storage, parsing `StreamTitle` / `StreamUrl`, and the station headers.
//!
//! With `Icy-MetaData: 1` a station answers `icy-metaint: N` and sends, after every `N` audio
//! bytes, one length byte `k` and `16 * k` bytes of text (`StreamTitle='…';StreamUrl='…';`,
//! zero-padded). [`IcyStripper`] is a push state machine fed with the network's chunks as they
//! come, so a block may start, end or be split anywhere across them, at any `metaint` from 1.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use kithara_stream::{NowPlaying, RawField, StationInfo};

/// Where the stripper is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// This many audio bytes until the next block.
    Audio(usize),
    /// The block's length byte comes next.
    Len,
    /// This many block bytes still to come.
    Meta(usize),
}

/// Removes the metadata blocks from an ICY body. See the module docs.
#[derive(Debug)]
pub(crate) struct IcyStripper {
    metaint: usize,
    phase: Phase,
    block: Vec<u8>,
}

/// What one network chunk held: its audio bytes, and each complete block with the number of audio
/// bytes of this chunk that came before its end (where the block takes effect).
#[derive(Debug, Default)]
pub(crate) struct Stripped {
    pub(crate) audio: Bytes,
    pub(crate) blocks: Vec<(usize, Vec<u8>)>,
}

impl IcyStripper {
    /// A stripper for `icy-metaint: metaint` (`None` for 0: no blocks at all).
    pub(crate) fn new(metaint: usize) -> Option<Self> {
        (metaint > 0).then(|| Self {
            metaint,
            phase: Phase::Audio(metaint),
            block: Vec::new(),
        })
    }

    /// Splits `chunk` into its audio bytes (a slice of it when it holds no block byte) and the
    /// blocks that end in it.
    pub(crate) fn feed(&mut self, chunk: Bytes) -> Stripped {
        let mut out = Stripped::default();
        if let Phase::Audio(left) = self.phase {
            if chunk.len() < left {
                self.phase = Phase::Audio(left - chunk.len());
                out.audio = chunk;
                return out;
            }
        }
        let mut audio = BytesMut::with_capacity(chunk.len());
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            match self.phase {
                Phase::Audio(left) => {
                    let k = left.min(rest.len());
                    audio.extend_from_slice(&rest[..k]);
                    rest = &rest[k..];
                    self.phase = if k == left {
                        Phase::Len
                    } else {
                        Phase::Audio(left - k)
                    };
                }
                Phase::Len => {
                    let n = usize::from(rest[0]) * 16;
                    rest = &rest[1..];
                    self.phase = if n == 0 {
                        Phase::Audio(self.metaint)
                    } else {
                        self.block.clear();
                        Phase::Meta(n)
                    };
                }
                Phase::Meta(left) => {
                    let k = left.min(rest.len());
                    self.block.extend_from_slice(&rest[..k]);
                    rest = &rest[k..];
                    if k == left {
                        out.blocks
                            .push((audio.len(), std::mem::take(&mut self.block)));
                        self.phase = Phase::Audio(self.metaint);
                    } else {
                        self.phase = Phase::Meta(left - k);
                    }
                }
            }
        }
        out.audio = audio.freeze();
        out
    }
}

/// Parses one metadata block (`StreamTitle='…';StreamUrl='…';`, zero-padded); `None` when it
/// carries no field. Never panics: any bytes give some answer. Values may contain quotes (`Guns
/// N' Roses`): a value ends at the `';` that is followed by the end or by the next `Key='`.
pub(crate) fn parse_block(block: &[u8]) -> Option<NowPlaying> {
    let end = block.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&block[..end]);
    let mut raw = Vec::new();
    let mut rest: &str = &text;
    while let Some(eq) = rest.find("='") {
        let key = rest[..eq].trim().trim_start_matches(';').trim();
        let value_from = &rest[eq + 2..];
        let (value, next) = split_value(value_from);
        if !key.is_empty() {
            raw.push(RawField::new(key, value.as_bytes()));
        }
        rest = next;
    }
    if raw.is_empty() {
        return None;
    }
    let field = |name: &str| {
        raw.iter()
            .find(|f| f.key.eq_ignore_ascii_case(name))
            .map(|f| String::from_utf8_lossy(&f.value).into_owned())
            .filter(|v| !v.trim().is_empty())
    };
    let title = field("StreamTitle");
    let url = field("StreamUrl");
    let np = match title {
        Some(t) => NowPlaying::titled(t),
        None => NowPlaying::default(),
    };
    Some(np.with_url(url).with_raw(raw))
}

/// The value at the start of `s` and what follows its `';`.
fn split_value(s: &str) -> (&str, &str) {
    let mut from = 0;
    while let Some(i) = s[from..].find("';") {
        let at = from + i;
        let after = &s[at + 2..];
        if after.trim().is_empty() || starts_with_key(after) {
            return (&s[..at], after);
        }
        from = at + 2;
    }
    // No terminator: the value runs to the end (trailing quote dropped).
    (s.strip_suffix('\'').unwrap_or(s), "")
}

/// Whether `s` starts with `Key='` (letters, digits, `_`, `-`).
fn starts_with_key(s: &str) -> bool {
    let s = s.trim_start();
    let key_len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        .count();
    key_len > 0 && s[key_len..].starts_with("='")
}

/// The station's headers (`icy-*`, with the older `ice-*` / `x-audiocast-*` names as fallbacks).
pub(crate) fn station_info(headers: &HeaderMap) -> StationInfo {
    let get = |names: &[&str]| {
        names.iter().find_map(|n| {
            headers
                .get(*n)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
                .filter(|v| !v.is_empty())
        })
    };
    let bitrate = get(&["icy-br", "ice-bitrate", "x-audiocast-bitrate"]).and_then(|v| {
        v.split(|c: char| !c.is_ascii_digit())
            .find(|p| !p.is_empty())
            .and_then(|p| p.parse::<u32>().ok())
    });
    StationInfo::builder()
        .maybe_name(get(&["icy-name", "ice-name", "x-audiocast-name"]))
        .maybe_genre(get(&["icy-genre", "ice-genre", "x-audiocast-genre"]))
        .maybe_bitrate_kbps(bitrate)
        .maybe_url(get(&["icy-url", "ice-url", "x-audiocast-url"]))
        .maybe_description(get(&[
            "icy-description",
            "ice-description",
            "x-audiocast-description",
        ]))
        .build()
}

/// The `icy-metaint` a response announced (0 or absent: no blocks).
pub(crate) fn metaint(headers: &HeaderMap) -> usize {
    headers
        .get("icy-metaint")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
}

/// Whether a response looks like a station's (any `icy-*` header).
pub(crate) fn has_icy_headers(headers: &HeaderMap) -> bool {
    headers
        .keys()
        .any(|k| k.as_str().starts_with("icy-") || k.as_str().starts_with("ice-"))
}

/// The stripper and the block parser exposed to the fuzz targets (built with `--cfg fuzzing` by
/// cargo-fuzz only).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz_api {
    use bytes::Bytes;
    use kithara_stream::NowPlaying;

    /// [`IcyStripper`](super::IcyStripper) behind a public face.
    #[derive(Debug)]
    pub struct Stripper(super::IcyStripper);

    impl Stripper {
        /// A stripper for `icy-metaint: metaint` (`None` for 0).
        pub fn new(metaint: usize) -> Option<Self> {
            super::IcyStripper::new(metaint).map(Self)
        }

        /// One network chunk in: its audio bytes, and each block that ends in it with the number
        /// of this chunk's audio bytes before it.
        pub fn feed(&mut self, chunk: &[u8]) -> (Bytes, Vec<(usize, Vec<u8>)>) {
            let out = self.0.feed(Bytes::copy_from_slice(chunk));
            (out.audio, out.blocks)
        }
    }

    /// Parses one metadata block.
    pub fn parse_block(block: &[u8]) -> Option<NowPlaying> {
        super::parse_block(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wire(audio: &[u8], metaint: usize, texts: &mut dyn FnMut(usize) -> Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, piece) in audio.chunks(metaint).enumerate() {
            out.extend_from_slice(piece);
            if piece.len() == metaint {
                let t = texts(i);
                let k = t.len().div_ceil(16);
                out.push(k as u8);
                let mut b = t.clone();
                b.resize(k * 16, 0);
                out.extend_from_slice(&b);
            }
        }
        out
    }

    #[test]
    fn titles_with_quotes_and_urls() {
        let np = parse_block(b"StreamTitle='Guns N' Roses - Patience';StreamUrl='http://x/';\0\0")
            .unwrap();
        assert_eq!(np.title.as_deref(), Some("Guns N' Roses - Patience"));
        assert_eq!(np.url.as_deref(), Some("http://x/"));
        assert_eq!(np.raw.len(), 2);
        assert!(parse_block(b"\0\0\0").is_none());
        assert_eq!(
            parse_block(b"StreamTitle='no end")
                .and_then(|n| n.title)
                .as_deref(),
            Some("no end")
        );
    }

    #[test]
    fn blocks_split_anywhere_are_removed() {
        for metaint in [1usize, 3, 16, 1000] {
            let audio: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
            let w = wire(&audio, metaint, &mut |i| {
                if i % 3 == 0 {
                    format!("StreamTitle='T{i}';").into_bytes()
                } else {
                    Vec::new()
                }
            });
            for step in [1usize, 2, 7, 100, 4096] {
                let mut s = IcyStripper::new(metaint).unwrap();
                let mut got = Vec::new();
                let mut titles = Vec::new();
                for c in w.chunks(step) {
                    let out = s.feed(Bytes::copy_from_slice(c));
                    for (at, b) in out.blocks {
                        titles.push((got.len() + at, parse_block(&b).and_then(|n| n.title)));
                    }
                    got.extend_from_slice(&out.audio);
                }
                assert_eq!(got, audio, "metaint {metaint} step {step}");
                assert_eq!(titles[0], (metaint, Some(String::from("T0"))));
                assert_eq!(titles[1], (4 * metaint, Some(String::from("T3"))));
            }
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(block in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_block(&block);
        }

        #[test]
        fn parsing_text_never_panics(s in "[A-Za-z=';\\- é\u{1F600}]{0,80}") {
            let _ = parse_block(s.as_bytes());
        }

        #[test]
        fn stripping_never_panics(metaint in 1usize..50, chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..20)) {
            let mut s = IcyStripper::new(metaint).unwrap();
            let total: usize = chunks.iter().map(Vec::len).sum();
            let mut audio = 0;
            for c in chunks {
                audio += s.feed(Bytes::from(c)).audio.len();
            }
            prop_assert!(audio <= total);
        }
    }
}
