//! What one soak stream is (its [`Kind`]) and the fault each of its runs gets ([`Injected`]),
//! with the error classes a fault may end a run with.

use std::time::Duration;

use bytes::Bytes;
use kithara_loopback::{media, Fault, Route};
use kithara_stream::ErrorClass;

use super::verify::Pieces;

/// What a soak stream reads, and through what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A generated body as a progressive file, in memory.
    File,
    /// A generated body as a progressive file, through the persistent cache.
    CachedFile,
    /// A VOD HLS variant (`dir` = `ts`, `fmp4`, `aes`), locked on itself (a media playlist).
    Hls {
        dir: &'static str,
        variant: u8,
        cached: bool,
    },
    /// A live HLS window over the TS segments, slid by the soak until it ends.
    Live,
    /// A bundled file decoded, the PCM compared with a clean decode.
    Decode(&'static str),
}

impl Kind {
    /// The kind of stream number `slot`: every kind in turn, some through the cache.
    pub(crate) fn of_slot(slot: usize) -> Kind {
        let variant = u8::try_from(slot / 8 % 3).unwrap_or(0);
        let cached = slot / 8 % 2 == 1;
        match slot % 8 {
            0 => Kind::File,
            1 => Kind::CachedFile,
            2 => Kind::Hls {
                dir: "ts",
                variant,
                cached,
            },
            3 => Kind::Hls {
                dir: "fmp4",
                variant,
                cached: false,
            },
            4 => Kind::Hls {
                dir: "aes",
                variant: 0,
                cached: !cached,
            },
            5 => Kind::Live,
            6 => Kind::Decode(if slot / 8 % 2 == 0 {
                "chirp.mp3"
            } else {
                "chirp.flac"
            }),
            _ => Kind::Decode("hls/ts/v2.m3u8"),
        }
    }

    /// Short name, as the report counts runs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::CachedFile => "file (cache)",
            Kind::Hls {
                dir: "ts",
                cached: true,
                ..
            } => "hls ts (cache)",
            Kind::Hls { dir: "ts", .. } => "hls ts",
            Kind::Hls { dir: "fmp4", .. } => "hls fmp4",
            Kind::Hls { cached: true, .. } => "hls aes (cache)",
            Kind::Hls { .. } => "hls aes",
            Kind::Live => "hls live",
            Kind::Decode(name) if name.ends_with(".m3u8") => "decode hls",
            Kind::Decode(_) => "decode file",
        }
    }
}

/// The fault a run gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Injected {
    /// Nothing.
    None,
    /// The connection reset after some body bytes, once.
    Reset,
    /// Two `503`s, then success.
    Unavailable,
    /// `503` for ever.
    Down,
    /// `404`.
    Gone,
    /// A pause of half a second to five mid-body, once (longer than the soak's inactivity
    /// timeout of 3 s, it is retried).
    Stall,
    /// The body paced at 1 to 4 MiB/s.
    Throttle,
    /// A body that ends early (full `Content-Length` announced), once.
    Short,
    /// The resource replaced (new body, new `ETag`) while the run reads it.
    Changed,
}

impl Injected {
    /// Short name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Injected::None => "none",
            Injected::Reset => "reset",
            Injected::Unavailable => "503 then ok",
            Injected::Down => "503 always",
            Injected::Gone => "404",
            Injected::Stall => "stall",
            Injected::Throttle => "throttle",
            Injected::Short => "short body",
            Injected::Changed => "content changed",
        }
    }

    /// Picks a fault for a run of `kind`.
    pub(crate) fn pick(kind: Kind, rng: &mut fastrand::Rng) -> Injected {
        let roll = rng.u32(0..100);
        let fault = match roll {
            0..35 => Injected::None,
            35..45 => Injected::Reset,
            45..55 => Injected::Unavailable,
            55..60 => Injected::Down,
            60..65 => Injected::Gone,
            65..73 => Injected::Stall,
            73..85 => Injected::Throttle,
            85..92 => Injected::Short,
            _ => Injected::Changed,
        };
        match (kind, fault) {
            // Only a progressive file is replaced under the reader.
            (Kind::Hls { .. } | Kind::Live | Kind::Decode(_), Injected::Changed) => Injected::None,
            // A live window fails over nothing: permanent faults would only end it.
            (Kind::Live, Injected::Down | Injected::Gone) => Injected::Unavailable,
            _ => fault,
        }
    }

    /// The error classes a run with this fault may end with; any other is a failure.
    pub(crate) fn expected(self) -> &'static [ErrorClass] {
        match self {
            Injected::Down => &[ErrorClass::Network, ErrorClass::Key],
            Injected::Gone => &[ErrorClass::NotFound, ErrorClass::Key],
            Injected::Changed => &[ErrorClass::ContentChanged],
            _ => &[],
        }
    }

    /// `route` with this fault; `len` is the length of its body, `rng` picks the details.
    pub(crate) fn apply(self, route: Route, len: u64, rng: &mut fastrand::Rng) -> Route {
        let after = rng.u64(0..len.max(2) / 2);
        match self {
            Injected::None | Injected::Changed => route,
            Injected::Reset => route.fault(Fault::ResetAfter { after, times: 1 }),
            Injected::Unavailable => route.fault(Fault::FailFirst {
                count: 2,
                status: 503,
                retry_after: None,
            }),
            Injected::Down => route.fault(Fault::FailFirst {
                count: u32::MAX,
                status: 503,
                retry_after: None,
            }),
            Injected::Gone => route.status(404),
            Injected::Stall => route.fault(Fault::Stall {
                after,
                stall: Duration::from_millis(rng.u64(500..5000)),
                times: 1,
            }),
            Injected::Throttle => route.throttle(rng.u64(1 << 20..4 << 20)),
            Injected::Short => route.fault(Fault::ShortBody { after, times: 1 }),
        }
    }
}

/// The bundled files of one HLS variant (`hls/{dir}/v{variant}…`).
pub(crate) fn variant_files(dir: &str, variant: u8) -> Vec<&'static media::MediaFile> {
    let stem = format!("hls/{dir}/v{variant}");
    media::FILES
        .iter()
        .filter(|f| {
            f.name
                .strip_prefix(&stem)
                .is_some_and(|rest| rest.starts_with(['-', '.']))
        })
        .collect()
}

/// The segment URIs of a bundled media playlist, in order, and its `EXT-X-MAP` URI.
pub(crate) fn playlist_uris(name: &str) -> (Vec<String>, Option<String>) {
    let text = media::get(name).map_or("", |f| std::str::from_utf8(f.bytes).unwrap_or(""));
    let init = text.lines().find_map(|l| {
        l.strip_prefix("#EXT-X-MAP:URI=\"")
            .and_then(|r| r.split('"').next())
            .map(str::to_owned)
    });
    let segments = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    (segments, init)
}

/// What a variant's stream reads: the init section and the segments, decrypted (the AES-128
/// variant is the TS variant 0 encrypted, byte for byte).
pub(crate) fn pieces(dir: &str, variant: u8) -> Pieces {
    let (dir, variant) = if dir == "aes" {
        ("ts", 0)
    } else {
        (dir, variant)
    };
    let base = format!("hls/{dir}");
    let (uris, init) = playlist_uris(&format!("{base}/v{variant}.m3u8"));
    let load = |uri: &str| {
        media::get(&format!("{base}/{uri}"))
            .map_or_else(Bytes::new, |f| Bytes::from_static(f.bytes))
    };
    Pieces {
        init: init.as_deref().map(load),
        segments: uris.iter().map(|u| load(u)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_variants_are_found() {
        let p = pieces("fmp4", 1);
        assert!(p.init.as_ref().is_some_and(|i| !i.is_empty()));
        assert_eq!(p.segments.len(), 16);
        assert!(p.segments.iter().all(|s| !s.is_empty()));
        assert_eq!(pieces("aes", 0).segments, pieces("ts", 0).segments);
        // Playlist, key, 16 segments.
        assert_eq!(variant_files("aes", 0).len(), 18);
        assert_eq!(variant_files("ts", 1).len(), 17);
    }

    #[test]
    fn every_kind_is_run_in_eight_streams() {
        let kinds: Vec<&str> = (0..8).map(|s| Kind::of_slot(s).name()).collect();
        assert_eq!(kinds.len(), 8);
        assert!(kinds.contains(&"hls live") && kinds.contains(&"decode hls"));
    }
}
