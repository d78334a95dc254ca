//! Asset identity: [`AssetKey`] (canonical URL plus optional HLS segment
//! identity) and its hash, [`AssetId`], which alone names the asset's files.
//!
//! No part of a URL ever reaches a file name: names are the 64 hex digits of
//! a SHA-256 over length-prefixed identity fields, so `../`, `%2e%2e`,
//! absolute paths or NUL bytes in a URL cannot point outside the cache.

use std::fmt;
use std::ops::Range;

use sha2::{Digest, Sha256};
use url::Url;

/// Domain separation for the identity hash; bump when the fields change.
const HASH_DOMAIN: &[u8] = b"kithara-asset-v1\0";

/// What identifies one cached asset.
///
/// The URL is canonicalised: scheme and host lowercase, default port
/// dropped (both done by [`Url`] parsing) and the fragment removed. The
/// query is kept, because it selects content. HLS segments add their URI
/// and byte range, so two byte ranges of one file are two assets.
///
/// ```
/// use kithara_storage::AssetKey;
/// let a = AssetKey::new(&"HTTP://Example.COM:80/a.mp3#t=1".parse()?);
/// let b = AssetKey::new(&"http://example.com/a.mp3".parse()?);
/// assert_eq!(a.id(), b.id());
/// let seg = b.clone().with_segment("seg-1.ts", Some(0..1000));
/// assert_ne!(seg.id(), b.id());
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssetKey {
    url: Url,
    segment: Option<SegmentId>,
}

/// Identity of an HLS (init) segment within its asset key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SegmentId {
    uri: String,
    range: Option<Range<u64>>,
}

impl AssetKey {
    /// The key of the resource at `url` (canonicalised, see above).
    pub fn new(url: &Url) -> Self {
        let mut url = url.clone();
        url.set_fragment(None);
        // Special schemes (http, https) already have a lowercase host;
        // opaque hosts of other schemes keep their case unless we fold it.
        if let Some(lower) = url
            .host_str()
            .filter(|h| h.bytes().any(|b| b.is_ascii_uppercase()))
            .map(str::to_ascii_lowercase)
        {
            let _ = url.set_host(Some(&lower));
        }
        Self { url, segment: None }
    }

    /// Adds an HLS segment identity: its URI (as written in the playlist or
    /// resolved) and its `EXT-X-BYTERANGE` as a half-open byte range.
    #[must_use]
    pub fn with_segment(mut self, uri: impl Into<String>, range: Option<Range<u64>>) -> Self {
        self.segment = Some(SegmentId {
            uri: uri.into(),
            range,
        });
        self
    }

    /// The canonical URL of the key.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The hash naming the asset's files.
    pub fn id(&self) -> AssetId {
        let mut h = Sha256::new();
        h.update(HASH_DOMAIN);
        put_field(&mut h, self.url.as_str().as_bytes());
        match &self.segment {
            None => h.update([0u8]),
            Some(seg) => {
                h.update([1u8]);
                put_field(&mut h, seg.uri.as_bytes());
                match &seg.range {
                    None => h.update([0u8]),
                    Some(r) => {
                        h.update([1u8]);
                        h.update(r.start.to_le_bytes());
                        h.update(r.end.to_le_bytes());
                    }
                }
            }
        }
        AssetId(h.finalize().into())
    }

    /// A printable name for listings and logs: scheme, host, port and path,
    /// without query or credentials (they may hold tokens), plus the
    /// segment's byte range if any.
    pub fn label(&self) -> String {
        let mut s = format!("{}://", self.url.scheme());
        if let Some(host) = self.url.host_str() {
            s.push_str(host);
        }
        if let Some(port) = self.url.port() {
            s.push_str(&format!(":{port}"));
        }
        s.push_str(self.url.path());
        if let Some(seg) = &self.segment {
            let uri = seg.uri.split(['?', '#']).next().unwrap_or_default();
            s.push_str(&format!(" [{uri}"));
            if let Some(r) = &seg.range {
                s.push_str(&format!(" {}..{}", r.start, r.end));
            }
            s.push(']');
        }
        s
    }
}

fn put_field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// SHA-256 identity of an asset; its lowercase hex form names the files.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetId([u8; 32]);

impl AssetId {
    /// The raw hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Builds an id from raw hash bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Lowercase hex form (64 characters).
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
        s
    }

    /// Parses the hex form; `None` unless it is exactly 64 lowercase hex
    /// digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0])?;
            let lo = hex_digit(pair[1])?;
            out[i] = (hi << 4) | lo;
        }
        Some(Self(out))
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssetId({})", &self.to_hex()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(s: &str) -> AssetKey {
        AssetKey::new(&Url::parse(s).unwrap())
    }

    #[test]
    fn canonical_forms_share_an_id() {
        let base = key("http://example.com/a/b.mp3?x=1").id();
        assert_eq!(key("HTTP://EXAMPLE.com:80/a/b.mp3?x=1").id(), base);
        assert_eq!(key("http://example.com/a/b.mp3?x=1#frag").id(), base);
        assert_ne!(key("http://example.com/a/b.mp3?x=2").id(), base);
        assert_ne!(key("http://example.com:8080/a/b.mp3?x=1").id(), base);
        assert_ne!(key("https://example.com/a/b.mp3?x=1").id(), base);
        assert_eq!(key("https://h.org:443/p").id(), key("https://h.org/p").id());
        assert_eq!(
            key("Foo://Host.Example/x").id(),
            key("foo://host.example/x").id()
        );
    }

    #[test]
    fn segments_are_distinct_assets() {
        let k = key("http://h/p.m3u8");
        let a = k.clone().with_segment("s.ts", Some(0..10));
        let b = k.clone().with_segment("s.ts", Some(10..20));
        let c = k.clone().with_segment("s.ts", None);
        let ids = [k.id(), a.id(), b.id(), c.id()];
        for (i, x) in ids.iter().enumerate() {
            for y in &ids[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_eq!(a.label(), "http://h/p.m3u8 [s.ts 0..10]");
    }

    #[test]
    fn label_hides_query_and_credentials() {
        let k = key("https://user:secret@h.org:8443/a.mp3?token=abc#f");
        assert_eq!(k.label(), "https://h.org:8443/a.mp3");
        let s = k.with_segment("x.ts?sig=zzz", None);
        assert!(!s.label().contains("zzz"));
    }

    proptest! {
        #[test]
        fn hex_round_trips(bytes in any::<[u8; 32]>()) {
            let id = AssetId::from_bytes(bytes);
            let hex = id.to_hex();
            prop_assert_eq!(hex.len(), 64);
            prop_assert!(hex.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            prop_assert_eq!(AssetId::from_hex(&hex), Some(id));
        }

        #[test]
        fn from_hex_rejects_non_hex(s in ".{0,70}") {
            if let Some(id) = AssetId::from_hex(&s) {
                prop_assert_eq!(id.to_hex(), s);
            }
        }
    }
}
