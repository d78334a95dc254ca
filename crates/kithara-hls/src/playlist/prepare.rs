//! The playlist text made ready for `m3u8-rs`, one line at a time, the way players read what
//! real servers write (hls.js is the reference for leniency; RFC 8216bis for what is an error):
//!
//! - the last line ends with a newline (`m3u8-rs` ends a tag or comment only at a line break, so a
//!   final `#EXT-X-…` or `# …` line without one became a phantom segment URI);
//! - whitespace after a tag's colon, around numbers and in attribute lists is dropped
//!   (`#EXT-X-MEDIA-SEQUENCE: 280238` was read as 0, `#EXTINF:6.0 ,` lost segments);
//! - a decimal `EXT-X-TARGETDURATION` (`6.006`) is read as its integer part, at least 1, as hls.js
//!   does;
//! - `EXT-X-DEFINE` variables (`NAME`/`VALUE`, `QUERYPARAM`) are substituted in URI lines and
//!   quoted attribute values; a reference to an undefined variable is an error;
//! - comments and `#EXTINF` titles are dropped (`m3u8-rs` read a comma in a title as the start of
//!   the segment's URI);
//! - malformed structure is an error that names the line: a segment URI without `#EXTINF`, an
//!   `#EXTINF` or `#EXT-X-STREAM-INF` without a URI after it, an attribute list with broken
//!   quoting, a malformed `EXT-X-BYTERANGE`;
//! - the keys in force at each segment are worked out here, per `KEYFORMAT` (see [`keys_at`]).

use std::collections::HashMap;

use kithara_stream::RedactedUrl;
use url::Url;

use super::{
    attrs::{Attrs, Value},
    ParseOptions,
};
use crate::error::{Error, Result};

/// The text to hand to `m3u8-rs`, and what was read on the way.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) text: String,
    /// For a media playlist: the key tag that applies to each segment, in segment order (see
    /// [`keys_at`]).
    pub(super) keys: Vec<Option<m3u8_rs::Key>>,
}

/// Tags whose value is a single number or enumerated string.
const SINGLE_VALUE: [&str; 5] = [
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-VERSION",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-TARGETDURATION",
];

/// Tags with an attribute list that kithara reads (their lists are checked and written back
/// without whitespace).
const ATTRIBUTE_LISTS: [&str; 6] = [
    "EXT-X-KEY",
    "EXT-X-MAP",
    "EXT-X-STREAM-INF",
    "EXT-X-MEDIA",
    "EXT-X-DEFINE",
    "EXT-X-SESSION-KEY",
];

/// Where the line pass stands.
struct Pass<'a> {
    url: &'a Url,
    master: bool,
    out: String,
    vars: HashMap<String, String>,
    /// The line of an `#EXTINF` (media) or `#EXT-X-STREAM-INF` (master) waiting for its URI.
    pending: Option<(usize, String)>,
    keys: KeyState,
    segment_keys: Vec<Option<m3u8_rs::Key>>,
    max_segments: usize,
}

pub(super) fn prepare(
    text: &str,
    url: &Url,
    master: bool,
    options: &ParseOptions,
) -> Result<Prepared> {
    let mut p = Pass {
        url,
        master,
        out: String::with_capacity(text.len() + 1),
        vars: HashMap::new(),
        pending: None,
        keys: KeyState::default(),
        segment_keys: Vec::new(),
        max_segments: options.max_segments,
    };
    for (i, raw) in text.lines().enumerate() {
        p.line(i + 1, raw.trim())?;
    }
    if let Some((line, text)) = p.pending.take() {
        let what = if master { "variant" } else { "segment" };
        return Err(line_error(
            url,
            line,
            &text,
            format!("no {what} URI follows it"),
        ));
    }
    Ok(Prepared {
        text: p.out,
        keys: p.segment_keys,
    })
}

impl Pass<'_> {
    fn line(&mut self, n: usize, line: &str) -> Result<()> {
        if line.is_empty() || (line.starts_with('#') && !line.starts_with("#EXT")) {
            return Ok(());
        }
        if !line.starts_with('#') {
            return self.uri(n, line);
        }
        let (tag, value) = match line.split_once(':') {
            Some((t, v)) => (&t[1..], Some(v.trim())),
            None => (&line[1..], None),
        };
        let bad = |detail: String| line_error(self.url, n, line, detail);
        let value = match (tag, value) {
            ("EXT-X-TARGETDURATION", Some(v)) => Some(target_duration(v).map_err(bad)?),
            (t, Some(v)) if SINGLE_VALUE.contains(&t) => Some(v.to_owned()),
            ("EXTINF", Some(v)) => {
                if let Some((prev, _)) = &self.pending {
                    return Err(bad(format!("the #EXTINF on line {prev} has no URI")));
                }
                self.pending = Some((n, line.to_owned()));
                // The title is left out: m3u8-rs takes a comma in it for the end of the line.
                let duration = v.split_once(',').map_or(v, |(d, _)| d);
                Some(format!("{},", duration.trim()))
            }
            ("EXT-X-BYTERANGE", Some(v)) => Some(byte_range(v).map_err(bad)?),
            (t, Some(v)) if ATTRIBUTE_LISTS.contains(&t) => {
                let mut attrs = Attrs::parse(v).map_err(bad)?;
                self.substitute_attrs(&mut attrs).map_err(bad)?;
                self.tag_read(n, line, tag, &attrs)?;
                if tag == "EXT-X-DEFINE" {
                    return Ok(());
                }
                Some(attrs.write())
            }
            (_, v) => v.map(str::to_owned),
        };
        self.out.push('#');
        self.out.push_str(tag);
        if let Some(v) = value {
            self.out.push(':');
            self.out.push_str(&v);
        }
        self.out.push('\n');
        Ok(())
    }

    /// What a tag with an attribute list means to the pass itself.
    fn tag_read(&mut self, n: usize, line: &str, tag: &str, attrs: &Attrs) -> Result<()> {
        match tag {
            "EXT-X-STREAM-INF" if !self.master => {
                let detail = "a variant in a media playlist (a master playlist where a media \
                              playlist was expected?)";
                return Err(line_error(self.url, n, line, detail.to_owned()));
            }
            "EXT-X-STREAM-INF" => {
                if let Some((prev, _)) = &self.pending {
                    let detail = format!("the #EXT-X-STREAM-INF on line {prev} has no URI");
                    return Err(line_error(self.url, n, line, detail));
                }
                self.pending = Some((n, line.to_owned()));
            }
            "EXT-X-DEFINE" => self
                .define(attrs)
                .map_err(|d| line_error(self.url, n, line, d))?,
            "EXT-X-KEY" => self
                .keys
                .read(attrs)
                .map_err(|d| line_error(self.url, n, line, d))?,
            _ => {}
        }
        Ok(())
    }

    fn uri(&mut self, n: usize, line: &str) -> Result<()> {
        let uri = substitute(line, &self.vars).map_err(|d| line_error(self.url, n, line, d))?;
        if self.pending.take().is_none() && !self.master {
            return Err(line_error(
                self.url,
                n,
                line,
                "a segment URI without #EXTINF before it".to_owned(),
            ));
        }
        if !self.master {
            if self.segment_keys.len() >= self.max_segments {
                return Err(Error::TooManySegments {
                    url: RedactedUrl::new(self.url),
                    limit: self.max_segments,
                });
            }
            self.segment_keys.push(self.keys.in_force());
        }
        self.out.push_str(&uri);
        self.out.push('\n');
        Ok(())
    }

    fn define(&mut self, attrs: &Attrs) -> std::result::Result<(), String> {
        let (name, value) = if let Some(name) = attrs.get("NAME") {
            let value = attrs
                .get("VALUE")
                .ok_or("NAME without VALUE")?
                .text()
                .to_owned();
            (name.text().to_owned(), value)
        } else if let Some(param) = attrs.get("QUERYPARAM") {
            let param = param.text();
            let value = self
                .url
                .query_pairs()
                .find(|(k, _)| k == param)
                .map(|(_, v)| v.into_owned())
                .ok_or_else(|| format!("the playlist's URL has no query parameter {param:?}"))?;
            (param.to_owned(), value)
        } else if attrs.get("IMPORT").is_some() {
            return Err("IMPORT (a variable of the multivariant playlist) is not supported".into());
        } else {
            return Err("neither NAME, QUERYPARAM nor IMPORT".into());
        };
        if self.vars.insert(name.clone(), value).is_some() {
            return Err(format!("variable {name:?} defined twice"));
        }
        Ok(())
    }

    fn substitute_attrs(&self, attrs: &mut Attrs) -> std::result::Result<(), String> {
        for (_, v) in &mut attrs.0 {
            if let Value::Quoted(s) = v {
                *s = substitute(s, &self.vars)?;
            }
        }
        Ok(())
    }
}

/// Replaces every `{$name}` in `s` by its value.
fn substitute(s: &str, vars: &HashMap<String, String>) -> std::result::Result<String, String> {
    if !s.contains("{$") {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("{$") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("a variable reference is not closed: {rest:?}"))?;
        let name = &after[..end];
        let value = vars
            .get(name)
            .ok_or_else(|| format!("variable {name:?} is not defined"))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `EXT-X-TARGETDURATION` as an integer: a decimal's integer part, at least 1.
fn target_duration(v: &str) -> std::result::Result<String, String> {
    let int = v.split_once('.').map_or(v, |(i, _)| i);
    let frac_ok = v
        .split_once('.')
        .is_none_or(|(_, f)| f.bytes().all(|b| b.is_ascii_digit()));
    match int.parse::<u64>() {
        Ok(n) if frac_ok => Ok(n.max(1).to_string()),
        _ => Err(format!("{v:?} is not a number of seconds")),
    }
}

/// `EXT-X-BYTERANGE`: `length[@offset]`, both decimal integers.
fn byte_range(v: &str) -> std::result::Result<String, String> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = match v.split_once('@') {
        Some((len, off)) => digits(len.trim()) && digits(off.trim()),
        None => digits(v),
    };
    if ok {
        Ok(v.split_whitespace().collect())
    } else {
        Err(format!("{v:?} is not length[@offset]"))
    }
}

fn line_error(url: &Url, line: usize, text: &str, detail: String) -> Error {
    let mut text = text.to_owned();
    if text.len() > 120 {
        let mut cut = 120;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    Error::BadLine {
        url: RedactedUrl::new(url),
        line,
        text,
        detail,
    }
}

/// The `EXT-X-KEY` tags in force, per `KEYFORMAT`: a key applies to every segment after it until
/// the next key of the same format; `METHOD=NONE` clears them all (servers write `NONE` and then a
/// new key before the same segment: the later one applies).
#[derive(Debug, Default)]
struct KeyState {
    by_format: Vec<(String, m3u8_rs::Key)>,
}

impl KeyState {
    fn read(&mut self, attrs: &Attrs) -> std::result::Result<(), String> {
        let text = |name: &str| attrs.get(name).map(|v| v.text().to_owned());
        let method: m3u8_rs::KeyMethod = text("METHOD")
            .ok_or("no METHOD")?
            .parse()
            .map_err(|e: String| e)?;
        if method == m3u8_rs::KeyMethod::None {
            self.by_format.clear();
            return Ok(());
        }
        let format = text("KEYFORMAT").unwrap_or_else(|| "identity".to_owned());
        let key = m3u8_rs::Key {
            method,
            uri: text("URI"),
            iv: text("IV"),
            keyformat: text("KEYFORMAT"),
            keyformatversions: text("KEYFORMATVERSIONS"),
        };
        match self.by_format.iter_mut().find(|(f, _)| *f == format) {
            Some(slot) => slot.1 = key,
            None => self.by_format.push((format, key)),
        }
        Ok(())
    }

    /// The key a segment is played with: the `identity` one (the only format kithara decrypts)
    /// when there is one, else the first other one (refused later as unsupported, never played
    /// as garbage); `None`: clear.
    fn in_force(&self) -> Option<m3u8_rs::Key> {
        self.by_format
            .iter()
            .find(|(f, _)| f == "identity")
            .or_else(|| self.by_format.first())
            .map(|(_, k)| k.clone())
    }
}

/// The key tags of a prepared media playlist, by segment (see [`KeyState`]).
pub(super) fn keys_at(prepared: &Prepared, index: usize) -> Option<&m3u8_rs::Key> {
    prepared.keys.get(index).and_then(Option::as_ref)
}
