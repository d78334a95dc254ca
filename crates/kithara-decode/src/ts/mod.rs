//! AAC in MPEG-TS, which symphonia lacks: [`TsReader`] is a symphonia [`FormatReader`] over the
//! `demux` module, handing the ADTS frames of the first AAC stream to symphonia's AAC decoder.
//!
//! Timestamps count frames from the first ADTS frame (1024 per frame, time base 1 / sample rate),
//! so the output timeline has no gap and no overlap; the PTS only move the count forward when
//! frames were lost (a continuity gap drops the PES it hit), so the audio after a loss keeps its
//! place in time. Seeking is exact: the reader goes back to byte 0 when the target is behind
//! it, then skips whole frames up to the one that holds the target. That costs a read of the bytes
//! before the target, which suits the short TS segments of HLS (whose seeks go through the
//! playlist) but not long TS files.

mod adts;
pub(crate) mod demux;

use std::io::{Read, Seek, SeekFrom};

use symphonia::core::{
    codecs::{
        audio::{well_known::CODEC_ID_AAC, AudioCodecParameters},
        CodecParameters,
    },
    errors::{seek_error, Error as SymError, Result as SymResult, SeekErrorKind},
    formats::{
        FormatId, FormatInfo, FormatOptions, FormatReader, SeekMode, SeekTo, SeekedTo, Track,
    },
    io::{MediaSourceStream, ReadBytes},
    meta::{Metadata, MetadataLog},
    packet::Packet,
    units::{Duration as Dur, TimeBase, Timestamp},
};

use self::demux::{AdtsFrame, Demuxer, PACKET_LEN, SYNC};

/// The format identifier of the TS reader (symphonia has none for MPEG-TS).
pub const FORMAT_ID_MPEG_TS: FormatId =
    FormatId::new(symphonia::core::common::FourCc::new(*b"MP2T"));

const TS_FORMAT_INFO: FormatInfo = FormatInfo {
    format: FORMAT_ID_MPEG_TS,
    short_name: "mpegts",
    long_name: "MPEG transport stream (AAC in ADTS)",
};

/// Frames per AAC-LC access unit.
const AAC_FRAMES: u64 = 1024;
/// Bytes scanned for the first audio frame before giving up.
const MAX_SCAN: u64 = 2 * 1024 * 1024;

/// Why a TS stream cannot be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The audio stream type has no decoder here.
    Unsupported(&'static str),
    /// Reading or parsing failed.
    Sym(SymError),
}

impl From<SymError> for OpenError {
    fn from(e: SymError) -> Self {
        Self::Sym(e)
    }
}

impl From<std::io::Error> for OpenError {
    fn from(e: std::io::Error) -> Self {
        Self::Sym(SymError::IoError(e))
    }
}

/// A symphonia format reader for AAC (ADTS) carried in an MPEG transport stream.
pub struct TsReader<'s> {
    mss: MediaSourceStream<'s>,
    demux: Demuxer,
    tracks: Vec<Track>,
    media_info: symphonia::core::formats::MediaInfo,
    metadata: MetadataLog,
    next_ts: u64,
    first_pts: Option<u64>,
    /// Sample rate of the track.
    rate: u32,
    /// Bytes of a packet cut short by the end of the stream.
    cut_short: bool,
}

impl std::fmt::Debug for TsReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsReader")
            .field("next_ts", &self.next_ts)
            .field("first_pts", &self.first_pts)
            .finish_non_exhaustive()
    }
}

impl<'s> TsReader<'s> {
    /// Opens a transport stream for code that runs symphonia itself: reads until the first audio
    /// frame and builds the AAC track from its ADTS header.
    ///
    /// # Errors
    ///
    /// `Unsupported` when the program's audio is not AAC in ADTS (LATM, MPEG audio, AC-3);
    /// `DecodeError` when no audio frame turns up in the first 2 MiB; `IoError` from the source.
    pub fn try_new(mss: MediaSourceStream<'s>, _opts: FormatOptions) -> SymResult<Self> {
        Self::open(mss).map_err(|e| match e {
            OpenError::Unsupported(what) => SymError::Unsupported(what),
            OpenError::Sym(e) => e,
        })
    }

    /// [`TsReader::try_new`], telling an unsupported stream type apart.
    pub(crate) fn open(mss: MediaSourceStream<'s>) -> Result<Self, OpenError> {
        let mut r = Self {
            mss,
            demux: Demuxer::default(),
            tracks: Vec::new(),
            media_info: symphonia::core::formats::MediaInfo::new(),
            metadata: MetadataLog::default(),
            next_ts: 0,
            first_pts: None,
            rate: 0,
            cut_short: false,
        };
        let start = r.mss.pos();
        let header = loop {
            if let Some(a) = r.demux.audio() {
                if let Some(name) = a.unsupported_name() {
                    return Err(OpenError::Unsupported(name));
                }
            }
            if let Some(f) = r.demux.peek_frame() {
                break f.header;
            }
            if r.mss.pos().saturating_sub(start) > MAX_SCAN || !r.read_packet()? {
                return Err(OpenError::Sym(SymError::DecodeError(
                    "mpegts: no AAC audio frame found",
                )));
            }
        };
        r.first_pts = r.demux.peek_frame().and_then(|f| f.pts);
        r.rate = header.sample_rate;
        let mut params = AudioCodecParameters::new();
        params
            .for_codec(CODEC_ID_AAC)
            .with_sample_rate(header.sample_rate)
            .with_max_frames_per_packet(AAC_FRAMES)
            .with_extra_data(Box::new(header.audio_specific_config()));
        let mut track = Track::new(0);
        track.with_codec_params(CodecParameters::Audio(params));
        if let Some(tb) = TimeBase::try_from_recip(header.sample_rate) {
            track.with_time_base(tb);
        }
        r.media_info = symphonia::core::formats::MediaInfo::from_track(&track);
        r.tracks.push(track);
        tracing::debug!(rate = header.sample_rate, channels = header.channels, first_pts = ?r.first_pts, "TS: AAC track");
        Ok(r)
    }

    /// The channel count of the first frame's header.
    pub(crate) fn channel_count(&self) -> Option<u16> {
        self.demux.peek_frame().map(|f| f.header.channel_count())
    }

    /// Reads and demuxes one packet; `false` at the end of the stream.
    fn read_packet(&mut self) -> SymResult<bool> {
        let mut p = [0u8; PACKET_LEN];
        // Find the sync byte (skipping junk between packets).
        let mut skipped = 0u64;
        loop {
            if !self.fill(&mut p[..1])? {
                return Ok(false);
            }
            if p[0] == SYNC {
                break;
            }
            skipped += 1;
        }
        if skipped > 0 {
            tracing::warn!(skipped, pos = self.mss.pos(), "TS: resynchronised");
        }
        if !self.fill(&mut p[1..])? {
            self.cut_short = true;
            return Ok(false);
        }
        self.demux.push_packet(&p);
        Ok(true)
    }

    /// Fills `buf` entirely; `false` if the stream ended first.
    fn fill(&mut self, buf: &mut [u8]) -> SymResult<bool> {
        let mut n = 0;
        while n < buf.len() {
            match self.mss.read(&mut buf[n..]) {
                Ok(0) => return Ok(false),
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(e) => return Err(SymError::IoError(e)),
            }
        }
        Ok(true)
    }

    /// The next frame, reading packets as needed; `None` at the end.
    fn next_frame(&mut self) -> SymResult<Option<AdtsFrame>> {
        loop {
            if let Some(f) = self.demux.pop_frame() {
                return Ok(Some(f));
            }
            if !self.read_packet()? {
                self.demux.finish();
                if let Some(f) = self.demux.pop_frame() {
                    return Ok(Some(f));
                }
                if self.cut_short || self.demux.has_partial() {
                    return Err(SymError::IoError(std::io::Error::from(
                        std::io::ErrorKind::UnexpectedEof,
                    )));
                }
                return Ok(None);
            }
        }
    }

    /// Moves the frame counter forward when the frame's PTS says frames were lost before it (a
    /// continuity gap dropped a PES): the audio after the gap keeps its place in time. PTS that
    /// agree with the count within half a frame, or that go backwards, change nothing.
    fn place(&mut self, frame: &AdtsFrame) {
        let (Some(first), Some(pts)) = (self.first_pts, frame.pts) else {
            return;
        };
        // 33-bit PTS, 90 kHz.
        let ticks = pts.wrapping_sub(first) & ((1 << 33) - 1);
        let expected = (u128::from(ticks) * u128::from(self.rate) + 45_000) / 90_000;
        let expected = u64::try_from(expected).unwrap_or(u64::MAX);
        if expected > self.next_ts + AAC_FRAMES / 2 {
            tracing::warn!(
                from = self.next_ts,
                to = expected,
                "TS: frames missing before this PES, moving the timeline forward"
            );
            self.next_ts = expected;
        }
    }

    fn rewind(&mut self) -> SymResult<()> {
        self.mss.seek(SeekFrom::Start(0))?;
        self.demux.reset_stream();
        self.next_ts = 0;
        self.cut_short = false;
        Ok(())
    }
}

impl FormatReader for TsReader<'_> {
    fn format_info(&self) -> &FormatInfo {
        &TS_FORMAT_INFO
    }

    fn media_info(&self) -> &symphonia::core::formats::MediaInfo {
        &self.media_info
    }

    fn metadata(&mut self) -> Metadata<'_> {
        self.metadata.metadata()
    }

    fn seek(&mut self, _mode: SeekMode, to: SeekTo) -> SymResult<SeekedTo> {
        let required = match to {
            SeekTo::Timestamp { ts, .. } => ts,
            SeekTo::Time { time, .. } => {
                let tb = self.tracks.first().and_then(|t| t.time_base);
                match tb.and_then(|tb| tb.calc_timestamp(time)) {
                    Some(ts) => ts,
                    None => return seek_error(SeekErrorKind::OutOfRange),
                }
            }
        };
        let Ok(target) = u64::try_from(required.get()) else {
            return seek_error(SeekErrorKind::OutOfRange);
        };
        if target < self.next_ts {
            self.rewind()?;
        }
        // Skip whole frames before the one holding the target.
        while self.next_ts + AAC_FRAMES <= target {
            if let Some(frame) = self.demux.pop_frame() {
                self.place(&frame);
                if self.next_ts + AAC_FRAMES > target {
                    // A gap jumped past the target: this frame is the first one after it.
                    self.demux.push_front(frame);
                    break;
                }
                self.next_ts += AAC_FRAMES;
                continue;
            }
            if !self.read_packet()? {
                self.demux.finish();
                if self.demux.peek_frame().is_none() {
                    return seek_error(SeekErrorKind::OutOfRange);
                }
            }
        }
        Ok(SeekedTo {
            track_id: 0,
            required_ts: required,
            actual_ts: Timestamp::try_from(self.next_ts).unwrap_or(Timestamp::MAX),
        })
    }

    fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    fn next_packet(&mut self) -> SymResult<Option<Packet>> {
        let Some(frame) = self.next_frame()? else {
            return Ok(None);
        };
        self.place(&frame);
        let ts = Timestamp::try_from(self.next_ts).unwrap_or(Timestamp::MAX);
        self.next_ts += AAC_FRAMES;
        Ok(Some(Packet::new(
            0,
            ts,
            Dur::new(AAC_FRAMES),
            frame.payload,
        )))
    }

    fn into_inner<'s>(self: Box<Self>) -> MediaSourceStream<'s>
    where
        Self: 's,
    {
        self.mss
    }
}
