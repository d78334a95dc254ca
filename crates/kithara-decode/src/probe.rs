//! Opening a format reader: sniff the first bytes (empty? HTML? TS?), then pick the reader from the
//! [`MediaInfo`] hints instead of letting symphonia guess, with the source's layout hidden so that
//! probing never reads the tail of the file.
//!
//! | container | how it is opened | layout while opening |
//! |---|---|---|
//! | MPEG audio, ADTS, FLAC, WAV, AIFF, CAF | symphonia's probe restricted to that one reader (plus ID3v2/APE readers for leading tags) | hidden |
//! | MPEG-TS | [`TsReader`](crate::ts::TsReader) | hidden |
//! | MP4/M4A, fMP4 | `IsoMp4Reader` | hidden when the top-level atom headers show `moov` before the media (so a truncated `mdat` still plays); otherwise visible: `moov` sits at the end, and one seek there beats downloading the whole `mdat` |
//! | Ogg, Matroska | `OggReader`, `MkvReader` | visible: their seek index needs the physical end of the stream |
//! | no hint | the magic numbers above first, then symphonia's full probe (content sniffing, not extension guessing) | as above; hidden for the probe |

use std::io::{Read, Seek, SeekFrom};

use kithara_stream::{ContainerFormat, MediaInfo};
use symphonia::core::{
    errors::Error as SymError,
    formats::{probe::Hint, probe::Probe, probe::ProbeOptions, FormatOptions, FormatReader},
    io::{MediaSource, MediaSourceStream},
    meta::MetadataOptions,
};
use symphonia::default::{formats, meta};

use crate::{
    error::{Error, Origin, Result},
    media_source::LayoutGate,
    ts::{OpenError, TsReader},
};

/// Bytes looked at before probing.
const SNIFF: usize = 512;

/// An opened reader and the container it reads.
pub(crate) struct Opened {
    pub(crate) reader: Box<dyn FormatReader>,
    pub(crate) container: Option<ContainerFormat>,
    /// Channel count known from the container before decoding (TS: the ADTS header).
    pub(crate) channels_hint: Option<u16>,
    /// Encoder delay and padding an MP4/M4A file declares (its reader does not apply them).
    pub(crate) trim: Option<crate::mp4_trim::Trim>,
}

/// Opens a reader over `source`. `gate` hides the source's layout and is revealed once the reader
/// exists (or earlier for the containers that need it, see the module docs).
pub(crate) fn open(
    mut source: Box<dyn MediaSource>,
    gate: &LayoutGate,
    hints: MediaInfo,
    origin: &Origin,
    max_probe_bytes: u32,
) -> Result<Opened> {
    let head = sniff(&mut source, origin)?;
    if head.is_empty() {
        return Err(Error::Empty {
            origin: origin.clone(),
        });
    }
    if is_html(&head) {
        return Err(Error::HtmlPage {
            origin: origin.clone(),
            found: String::from_utf8_lossy(&head[..head.len().min(64)]).into_owned(),
        });
    }
    let container = hints.container.or_else(|| magic(&head));
    let moov_first =
        container == Some(ContainerFormat::Mp4) && moov_before_media(&mut source, &head, origin)?;
    let trim = if container == Some(ContainerFormat::Mp4) {
        crate::mp4_trim::read_trim(&mut source)
    } else {
        None
    };
    let mss = MediaSourceStream::new(source, Default::default());
    let opts = FormatOptions::default();
    let unknown = |source: SymError| Error::UnknownFormat {
        origin: origin.clone(),
        found: hex(&head[..head.len().min(16)]),
        source,
    };

    let mut channels_hint = None;
    let reader: Box<dyn FormatReader> = match container {
        Some(ContainerFormat::MpegTs) => match TsReader::open(mss) {
            Ok(r) => {
                channels_hint = r.channel_count();
                Box::new(r)
            }
            Err(OpenError::Unsupported(codec)) => {
                return Err(Error::UnsupportedCodec {
                    origin: origin.clone(),
                    codec: codec.to_owned(),
                    container: "MPEG-TS".to_owned(),
                })
            }
            Err(OpenError::Sym(e)) => return Err(map_open_error(e, origin, "MPEG-TS", unknown)),
        },
        Some(ContainerFormat::Mp4) if moov_first => {
            // `moov` first: the reader needs no seek to open, so the layout stays hidden while
            // it does. With the length visible, symphonia skips an `mdat` that runs past the end
            // of the file (a truncated download) and hands out no packet at all; hidden, it
            // plays the audio that arrived, then reports the end.
            Box::new(
                formats::IsoMp4Reader::try_new(mss, opts)
                    .map_err(|e| map_open_error(e, origin, "MP4", unknown))?,
            )
        }
        Some(ContainerFormat::Mp4 | ContainerFormat::Fmp4) => {
            gate.reveal();
            Box::new(
                formats::IsoMp4Reader::try_new(mss, opts)
                    .map_err(|e| map_open_error(e, origin, "MP4", unknown))?,
            )
        }
        Some(ContainerFormat::Ogg) => {
            gate.reveal();
            Box::new(
                formats::OggReader::try_new(mss, opts)
                    .map_err(|e| map_open_error(e, origin, "Ogg", unknown))?,
            )
        }
        Some(ContainerFormat::Mkv) => {
            gate.reveal();
            Box::new(
                formats::MkvReader::try_new(mss, opts)
                    .map_err(|e| map_open_error(e, origin, "Matroska", unknown))?,
            )
        }
        Some(c) => {
            let mut probe = Probe::new_with_options(&probe_options(max_probe_bytes));
            match c {
                ContainerFormat::MpegAudio => probe.register_format::<formats::MpaReader<'_>>(),
                ContainerFormat::Adts => probe.register_format::<formats::AdtsReader<'_>>(),
                ContainerFormat::Flac => probe.register_format::<formats::FlacReader<'_>>(),
                ContainerFormat::Wav => probe.register_format::<formats::WavReader<'_>>(),
                ContainerFormat::Aiff => probe.register_format::<formats::AiffReader<'_>>(),
                ContainerFormat::Caf => probe.register_format::<formats::CafReader<'_>>(),
                _ => symphonia::default::register_enabled_formats(&mut probe),
            }
            probe.register_metadata::<meta::Id3v2Reader<'_>>();
            probe.register_metadata::<meta::ApeReader<'_>>();
            probe
                .probe(&Hint::new(), mss, opts, MetadataOptions::default())
                .map_err(|e| map_open_error(e, origin, "unknown", unknown))?
        }
        None => {
            let mut probe = Probe::new_with_options(&probe_options(max_probe_bytes));
            symphonia::default::register_enabled_formats(&mut probe);
            let reader = probe
                .probe(&Hint::new(), mss, opts, MetadataOptions::default())
                .map_err(|e| map_open_error(e, origin, "unknown", unknown))?;
            reader
        }
    };
    gate.reveal();
    let container = container.or_else(|| crate::info::container_of(reader.format_info().format));
    Ok(Opened {
        reader,
        container,
        channels_hint,
        trim,
    })
}

fn probe_options(max_probe_bytes: u32) -> ProbeOptions {
    ProbeOptions {
        max_probe_depth: max_probe_bytes.max(64 * 1024),
        ..ProbeOptions::default()
    }
}

/// Maps an error from building a reader: I/O failures of the stream stay stream errors; an early
/// end is a truncated file; the rest means the bytes are not what the hints said.
fn map_open_error(
    e: SymError,
    origin: &Origin,
    container: &str,
    unknown: impl FnOnce(SymError) -> Error,
) -> Error {
    match e {
        SymError::IoError(io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof && io.get_ref().is_none() =>
        {
            Error::Truncated {
                origin: origin.clone(),
                pos: 0,
                decoded: std::time::Duration::ZERO,
                expected: None,
            }
        }
        SymError::IoError(io) => Error::Stream {
            origin: origin.clone(),
            pos: 0,
            source: io,
        },
        // From a probe, `Unsupported` means no reader matched; from a reader, a feature it lacks.
        SymError::Unsupported(what) if container != "unknown" => Error::UnsupportedCodec {
            origin: origin.clone(),
            codec: what.to_owned(),
            container: container.to_owned(),
        },
        other => unknown(other),
    }
}

/// Reads up to [`SNIFF`] bytes from the start, then seeks back to byte 0.
fn sniff(source: &mut Box<dyn MediaSource>, origin: &Origin) -> Result<Vec<u8>> {
    let mut head = vec![0u8; SNIFF];
    let mut n = 0;
    let io = |e| Error::Stream {
        origin: origin.clone(),
        pos: 0,
        source: e,
    };
    while n < SNIFF {
        match source.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(io(e)),
        }
    }
    head.truncate(n);
    if n > 0 {
        source.seek(SeekFrom::Start(0)).map_err(io)?;
    }
    Ok(head)
}

/// Most top-level MP4 atoms looked at before giving up on finding `moov`.
const MAX_TOP_ATOMS: usize = 32;

/// Whether the MP4 file's `moov` atom comes before its media (`mdat` or `moof`): walks the
/// top-level atom headers from byte 0 (reading 16 bytes per atom, from `head` while it lasts),
/// then rewinds. Any doubt (a malformed header, an atom to the end of the file) answers `false`.
fn moov_before_media(
    source: &mut Box<dyn MediaSource>,
    head: &[u8],
    origin: &Origin,
) -> Result<bool> {
    let io = |pos, e| Error::Stream {
        origin: origin.clone(),
        pos,
        source: e,
    };
    let mut pos = 0u64;
    let mut found = false;
    let mut moved = false;
    for _ in 0..MAX_TOP_ATOMS {
        let mut hdr = [0u8; 16];
        let n = match usize::try_from(pos).ok().and_then(|p| head.get(p..p + 16)) {
            Some(h) => {
                hdr.copy_from_slice(h);
                16
            }
            None => {
                moved = true;
                source.seek(SeekFrom::Start(pos)).map_err(|e| io(pos, e))?;
                read_up_to(source, &mut hdr).map_err(|e| io(pos, e))?
            }
        };
        if n < 8 {
            break;
        }
        let size32 = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let size = match size32 {
            0 => break,
            1 if n == 16 => u64::from_be_bytes([
                hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15],
            ]),
            1 => break,
            s => u64::from(s),
        };
        match &hdr[4..8] {
            b"moov" => {
                found = true;
                break;
            }
            b"mdat" | b"moof" => break,
            _ if size < 8 => break,
            _ => pos = pos.saturating_add(size),
        }
    }
    if moved {
        source.seek(SeekFrom::Start(0)).map_err(|e| io(0, e))?;
    }
    Ok(found)
}

/// Reads until `buf` is full or the source ends; the bytes read.
fn read_up_to(source: &mut Box<dyn MediaSource>, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// An HTML document (after optional BOM and whitespace).
fn is_html(head: &[u8]) -> bool {
    let s = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let s = &s[start..];
    let lower: Vec<u8> = s.iter().take(16).map(u8::to_ascii_lowercase).collect();
    lower.starts_with(b"<!doctype html")
        || lower.starts_with(b"<html")
        || lower.starts_with(b"<head")
        || lower.starts_with(b"<body")
}

/// Containers recognised by their magic numbers, for streams without hints. The ones listed are
/// those whose readers must be built with the layout visible (and TS, which symphonia lacks); the
/// rest is left to symphonia's probe.
fn magic(head: &[u8]) -> Option<ContainerFormat> {
    if is_ts(head) {
        Some(ContainerFormat::MpegTs)
    } else if head.get(4..8) == Some(b"ftyp") || head.get(4..8) == Some(b"styp") {
        Some(ContainerFormat::Mp4)
    } else if head.starts_with(b"OggS") {
        Some(ContainerFormat::Ogg)
    } else if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some(ContainerFormat::Mkv)
    } else {
        None
    }
}

/// MPEG-TS: sync bytes at 0 and at every 188 bytes that were sniffed.
fn is_ts(head: &[u8]) -> bool {
    head.len() >= 188 && head.iter().step_by(188).all(|&b| b == 0x47)
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert!(is_html(b"\xEF\xBB\xBF  <!DOCTYPE html><html>"));
        assert!(is_html(b"\n<html lang=en>"));
        assert!(!is_html(b"ID3\x04"));
        let mut ts = vec![0u8; 376];
        ts[0] = 0x47;
        ts[188] = 0x47;
        assert!(is_ts(&ts));
        ts[188] = 0;
        assert!(!is_ts(&ts));
    }
}
