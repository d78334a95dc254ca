//! `EXT-X-KEY`: the encryption of a segment, its IV, and the cache that fetches each key once.
//!
//! Only `METHOD=AES-128` (whole-segment AES-128-CBC with PKCS7 padding) with the default
//! `identity` key format is decrypted. `METHOD=NONE` clears the key for the segments after it;
//! `SAMPLE-AES`, `SAMPLE-AES-CTR`, other key formats and unknown methods are refused with
//! [`Error::UnsupportedEncryption`], never played as garbage.

use std::collections::HashMap;
use std::fmt;

use kithara_stream::RedactedUrl;
use m3u8_rs::KeyMethod;
use url::Url;

use crate::error::{Error, Result};

/// Length of an AES-128 key and of its IV.
pub const KEY_LEN: usize = 16;

/// The most bytes read of a key response: a key is 16 bytes, so a key URI that points at a large
/// resource fails fast ([`Error::KeyLength`]) instead of downloading it.
pub const MAX_KEY_BYTES: u64 = 1024;

/// How one segment is encrypted: AES-128-CBC with the key at `uri`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SegmentKey {
    /// Where the 16-byte key is fetched from, absolute.
    pub uri: Url,
    /// The `IV` attribute, when the playlist gives one.
    pub iv: Option<[u8; KEY_LEN]>,
}

impl SegmentKey {
    /// A key at `uri` with an explicit IV, or `None` to derive it from the media sequence number.
    pub fn new(uri: Url, iv: Option<[u8; KEY_LEN]>) -> Self {
        Self { uri, iv }
    }

    /// The IV for the segment with media sequence number `sequence`: the playlist's `IV`, else
    /// the sequence number as a big-endian 128-bit integer (RFC 8216, section 5.2).
    pub fn iv_for(&self, sequence: u64) -> [u8; KEY_LEN] {
        self.iv
            .unwrap_or_else(|| u128::from(sequence).to_be_bytes())
    }
}

/// Converts an `m3u8-rs` key tag: `Ok(None)` for `METHOD=NONE`.
pub(crate) fn from_tag(key: &m3u8_rs::Key, base: &Url) -> Result<Option<SegmentKey>> {
    let bad = |detail: String| Error::BadAttribute {
        url: RedactedUrl::new(base),
        tag: "EXT-X-KEY",
        detail,
    };
    let resolve = |uri: &str| crate::playlist::resolve(base, uri);
    let unsupported = |method: String| -> Result<Option<SegmentKey>> {
        let uri = key.uri.as_deref().and_then(|u| resolve(u).ok());
        Err(Error::UnsupportedEncryption {
            method,
            uri: uri.as_ref().map(RedactedUrl::new),
        })
    };
    match &key.method {
        KeyMethod::None => Ok(None),
        KeyMethod::AES128 => {
            if let Some(format) = key.keyformat.as_deref() {
                if format != "identity" {
                    return unsupported(format!("AES-128 with KEYFORMAT={format}"));
                }
            }
            let uri = key
                .uri
                .as_deref()
                .ok_or_else(|| bad("METHOD=AES-128 without a URI".to_owned()))?;
            let iv = key.iv.as_deref().map(parse_iv).transpose().map_err(bad)?;
            Ok(Some(SegmentKey {
                uri: resolve(uri)?,
                iv,
            }))
        }
        KeyMethod::SampleAES => unsupported("SAMPLE-AES".to_owned()),
        KeyMethod::Other(m) => unsupported(m.clone()),
    }
}

/// Parses an `IV` attribute: `0x` followed by up to 32 hex digits (left-padded with zeros).
pub(crate) fn parse_iv(s: &str) -> Result<[u8; KEY_LEN], String> {
    let hex = s
        .trim()
        .strip_prefix("0x")
        .or_else(|| s.trim().strip_prefix("0X"))
        .ok_or_else(|| format!("IV {s:?} does not start with 0x"))?;
    if hex.is_empty() || hex.len() > 2 * KEY_LEN {
        return Err(format!("IV {s:?} is not 1 to 32 hex digits"));
    }
    let value =
        u128::from_str_radix(hex, 16).map_err(|_| format!("IV {s:?} is not hexadecimal"))?;
    Ok(value.to_be_bytes())
}

/// Checks a fetched key body: exactly 16 bytes.
pub fn validate_key(uri: &Url, body: &[u8]) -> Result<[u8; KEY_LEN]> {
    <[u8; KEY_LEN]>::try_from(body).map_err(|_| Error::KeyLength {
        uri: RedactedUrl::new(uri),
        len: body.len(),
    })
}

/// The state of one key URI in a [`KeyCache`] (absent URIs have no entry).
#[derive(Clone)]
#[non_exhaustive]
pub enum KeyState {
    /// A fetch was handed out and has not completed.
    InFlight,
    /// The key, held in memory only.
    Ready([u8; KEY_LEN]),
    /// The fetch failed, or the body was not a valid key; final for this URI.
    Failed(Error),
}

impl fmt::Debug for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InFlight => f.write_str("InFlight"),
            // Key material never reaches logs.
            Self::Ready(_) => f.write_str("Ready(<redacted>)"),
            Self::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

/// What a [`KeyCache::lookup`] tells its caller to do.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeyLookup {
    /// The key is known.
    Ready([u8; KEY_LEN]),
    /// Nobody fetches this key yet: the caller must fetch it now and report with
    /// [`KeyCache::complete`] (or [`KeyCache::abandon`] if the fetch is cancelled).
    Fetch,
    /// A fetch is in flight; wait for its completion.
    Pending,
    /// The key cannot be had.
    Failed(Error),
}

impl fmt::Debug for KeyLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(_) => f.write_str("Ready(<redacted>)"),
            Self::Fetch => f.write_str("Fetch"),
            Self::Pending => f.write_str("Pending"),
            Self::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

/// Keys by URI, so that each key is fetched once however many segments (and variants) use it.
///
/// The cache only keeps state; the fetch itself is done by whoever [`lookup`](KeyCache::lookup)
/// answered [`KeyLookup::Fetch`]. States go absent → in flight → ready or failed; only an
/// [`abandon`](KeyCache::abandon)ed fetch goes back to absent.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: HashMap<Url, KeyState>,
}

impl KeyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks `uri` up; the first lookup of an absent URI answers [`KeyLookup::Fetch`] and marks it
    /// in flight, so no second fetch is handed out.
    pub fn lookup(&mut self, uri: &Url) -> KeyLookup {
        match self.entries.get(uri) {
            None => {
                self.entries.insert(uri.clone(), KeyState::InFlight);
                KeyLookup::Fetch
            }
            Some(KeyState::InFlight) => KeyLookup::Pending,
            Some(KeyState::Ready(k)) => KeyLookup::Ready(*k),
            Some(KeyState::Failed(e)) => KeyLookup::Failed(e.clone()),
        }
    }

    /// Records the outcome of the fetch of `uri`: the body (checked to be 16 bytes) or the
    /// download's error. Returns the key, or the error now stored for every later lookup.
    pub fn complete(
        &mut self,
        uri: &Url,
        body: std::result::Result<&[u8], kithara_stream::Error>,
    ) -> Result<[u8; KEY_LEN]> {
        let outcome = match body {
            Ok(body) => validate_key(uri, body),
            Err(source) => Err(Error::KeyFetch {
                uri: RedactedUrl::new(uri),
                source,
            }),
        };
        let state = match &outcome {
            Ok(k) => KeyState::Ready(*k),
            Err(e) => KeyState::Failed(e.clone()),
        };
        self.entries.insert(uri.clone(), state);
        outcome
    }

    /// Forgets an in-flight fetch that was cancelled before it completed, so that a later lookup
    /// fetches again. Ready and failed entries are left alone.
    pub fn abandon(&mut self, uri: &Url) {
        if matches!(self.entries.get(uri), Some(KeyState::InFlight)) {
            self.entries.remove(uri);
        }
    }

    /// The state of `uri`, `None` when absent.
    pub fn state(&self, uri: &Url) -> Option<&KeyState> {
        self.entries.get(uri)
    }
}

#[cfg(test)]
mod tests;
