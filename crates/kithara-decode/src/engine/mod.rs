//! [`Core`]: the format reader, the codec and the timeline bookkeeping of a decoder, independent of
//! the stream type: packets in, [`PcmChunk`]s out, seeks with pre-roll and discard, and the
//! classification of errors (truncated, malformed, stream failure).

use std::{sync::Arc, time::Duration};

use kithara_stream::ContainerFormat;
use symphonia::core::{
    codecs::audio::{AudioCodecParameters, AudioDecoderOptions},
    errors::Error as SymError,
    formats::{FormatReader, TrackType},
    io::MediaSource,
    units::{Time, TimeBase},
};

mod seek;
mod timeline;

use crate::{
    chunk::{frames_to_duration, PcmChunk},
    codecs::Codec,
    config::DecoderConfig,
    error::{Error, Origin, Result},
    info::{codec_label, codec_of, TrackInfo},
    media_source::{LayoutGate, Progress},
    probe,
};

/// What [`Core::next_chunk`] produced.
// Moved once per chunk: boxing the chunk would cost an allocation per chunk to save a copy.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Step {
    /// Decoded audio.
    Chunk(PcmChunk),
    /// The reader reached the end of the track.
    End,
    /// The reader reached a boundary of the stream (its source ended there): a new reader must
    /// take over at the boundary.
    Boundary(kithara_stream::Boundary),
    /// A further file starts at this stream byte (MPEG audio files back to back): a new reader
    /// must take over there.
    Join(u64),
}

/// Consecutive undecodable packets tolerated (each is skipped with a warning) before giving up.
const MAX_BAD_PACKETS: u32 = 8;

/// Format reader + codec + timeline bookkeeping, independent of the stream type.
pub(crate) struct Core {
    reader: Box<dyn FormatReader>,
    codec: Codec,
    params: AudioCodecParameters,
    dec_opts: AudioDecoderOptions,
    track_id: u32,
    time_base: Option<TimeBase>,
    pub(crate) info: TrackInfo,
    origin: Origin,
    pos: Arc<Progress>,
    gapless: bool,
    /// Frame index (at the track's rate) of the next frame to hand out.
    pub(crate) next_frame: u64,
    /// After a seek: output before this frame is discarded.
    discard_before: Option<u64>,
    done: bool,
    bad_packets: u32,
    /// The frame the first packet is placed at, for a reader opened mid-stream (its timestamps
    /// start from its own first packet); taken when that packet arrives.
    rebase: Option<u64>,
    /// Added to every packet's frame index (see `rebase`).
    frame_offset: i64,
    /// Encoder delay the container declares (frames decoded before time zero): an MPEG frame `j`
    /// of an MP3 starts at output frame `j × samples per frame − priming`.
    pub(crate) priming: u64,
    /// With gapless trimming, the frame the track ends at (the container declares its padding):
    /// output past it is dropped. A reader opened mid-file does not see the declaration, so it is
    /// carried over from the reader that did.
    pub(crate) end_frame: Option<u64>,
    /// Whether the codec's output delay is taken off the timeline (frame `t` of its output belongs
    /// `delay` frames earlier): always, but for a codec adopted from the reader before (whose
    /// output already lags by that delay, which that reader took off).
    trim_delay: bool,
    /// The reader was opened mid-file by a fast MPEG audio seek: its own seek cannot go back
    /// before where it opened.
    pub(crate) mid_file: bool,
    /// Frames by which the timeline may be off, either way: 0, except after a seek by a
    /// variable-bitrate file's table, which places the reader's first frame by an estimate.
    pub(crate) uncertainty: u64,
    /// The output frame this reader's own timeline starts at (a file joined back to back).
    origin_frame: u64,
    /// The stream position when audio last went out (or the reader opened, or sought).
    silent_from: u64,
    /// Stream bytes consumed without audio before that is a stall.
    max_silent: u64,
}

impl Core {
    pub(crate) fn open(
        source: Box<dyn MediaSource>,
        gate: &LayoutGate,
        pos: Arc<Progress>,
        hints: kithara_stream::MediaInfo,
        origin: Origin,
        config: &DecoderConfig,
    ) -> Result<Self> {
        let opened = probe::open(source, gate, hints, &origin, config.max_probe_bytes)?;
        let mut reader = opened.reader;
        let tags = crate::tags::read_tags(reader.as_mut());
        let container_label = opened.container.map_or_else(
            || reader.format_info().short_name.to_owned(),
            |c| c.to_string(),
        );
        let track = reader
            .default_track(TrackType::Audio)
            .or_else(|| reader.first_track(TrackType::Audio))
            .ok_or_else(|| Error::NoAudioTrack {
                origin: origin.clone(),
                container: container_label.clone(),
            })?;
        let params = match track.codec_params.as_ref().and_then(|p| p.audio()) {
            Some(p) => p.clone(),
            None => {
                return Err(Error::NoAudioTrack {
                    origin,
                    container: container_label,
                })
            }
        };
        let dec_opts = AudioDecoderOptions::default().gapless(config.gapless);
        if let Some((codec, feature)) = crate::codecs::missing_feature(&params, hints.codec) {
            return Err(Error::CodecFeatureOff {
                origin,
                codec,
                container: container_label,
                feature,
            });
        }
        let codec = Codec::make(&params, &dec_opts).map_err(|_| Error::UnsupportedCodec {
            origin: origin.clone(),
            codec: codec_label(params.codec),
            container: container_label.clone(),
        })?;
        let sample_rate = params.sample_rate.unwrap_or(0);
        let channels = params
            .channels
            .as_ref()
            .and_then(|c| u16::try_from(c.count()).ok())
            .or(opened.channels_hint)
            .unwrap_or(0);
        let time_base = track.time_base;
        // The delay and length an MP4 declares and its reader does not apply (MP3's reader does).
        let (mp4_delay, mp4_frames) = opened
            .trim
            .filter(|_| config.gapless)
            .map_or((0, None), |t| t.at_rate(sample_rate));
        let frames = mp4_frames.or(track.num_frames);
        let priming = u64::from(track.delay.unwrap_or(0)).max(mp4_delay);
        let end_frame = match mp4_frames {
            Some(f) => Some(f),
            None => frames.filter(|_| config.gapless && track.padding.is_some()),
        };
        let duration = match (frames, sample_rate) {
            (Some(f), r) if r > 0 => Some(frames_to_duration(f, r)),
            _ => time_base
                .zip(track.duration)
                .and_then(|(tb, d)| tb.calc_duration(d))
                .and_then(time_to_duration),
        };
        let info = TrackInfo {
            codec: codec_of(params.codec),
            codec_name: codec.short_name().to_owned(),
            container: opened.container,
            sample_rate,
            channels,
            frames,
            duration,
            tags,
        };
        tracing::debug!(?info, "decoder opened");
        Ok(Self {
            track_id: track.id,
            reader,
            codec,
            params,
            dec_opts,
            time_base,
            info,
            origin,
            gapless: config.gapless,
            next_frame: 0,
            discard_before: None,
            done: false,
            bad_packets: 0,
            rebase: None,
            // Output frame 0 is the first after the MP4's declared delay.
            frame_offset: -i64::try_from(mp4_delay).unwrap_or(i64::MAX),
            priming,
            end_frame,
            trim_delay: true,
            mid_file: false,
            uncertainty: 0,
            origin_frame: 0,
            silent_from: pos.pos(),
            max_silent: config.max_silent_bytes,
            pos,
        })
    }

    /// Takes over `old`'s codec when both decode the same codec with the same set-up (a variant
    /// switch between renditions of one encoding): its state (AAC's overlap, the MP3 bit
    /// reservoir) then carries the audio across the boundary without a transient. Returns whether
    /// it did; otherwise this core keeps its freshly made codec.
    pub(crate) fn adopt_codec(&mut self, old: Core) -> bool {
        let (a, b) = (&self.params, &old.params);
        let same = a.codec == b.codec
            && a.sample_rate == b.sample_rate
            && a.channels == b.channels
            && a.extra_data == b.extra_data;
        if same {
            self.codec = old.codec;
            // Its output already lags by its delay, which the reader before took off the timeline.
            self.trim_delay = false;
        }
        same
    }

    fn stream_pos(&self) -> u64 {
        self.pos.pos()
    }

    /// A track timestamp as a frame index at the track's rate (exact, rounded to the nearest
    /// frame when the time base is not the rate's: HE-AAC's packets count the half-rate core).
    fn ts_to_frames(&self, ts: i64) -> i64 {
        match self.time_base {
            Some(tb)
                if u32::from(tb.numer) == 1 && u32::from(tb.denom) == self.info.sample_rate =>
            {
                ts
            }
            Some(tb) => {
                let num = i128::from(ts)
                    * i128::from(u32::from(tb.numer))
                    * i128::from(self.info.sample_rate);
                let den = i128::from(u32::from(tb.denom));
                i64::try_from((2 * num + den).div_euclid(2 * den)).unwrap_or(i64::MAX)
            }
            None => ts,
        }
    }

    pub(crate) fn next_chunk(&mut self) -> Result<Step> {
        loop {
            if self.done {
                return Ok(Step::End);
            }
            let packet = match self.reader.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => {
                    self.done = true;
                    if let Some(j) = self.pos.join() {
                        return Ok(Step::Join(j));
                    }
                    if let Some(b) = self.pos.boundary() {
                        return Ok(Step::Boundary(b));
                    }
                    self.check_complete()?;
                    return Ok(Step::End);
                }
                Err(e) => {
                    self.done = true;
                    if let Some(j) = self.pos.join() {
                        tracing::debug!(error = %e, pos = j, "reader ended where a further file starts");
                        return Ok(Step::Join(j));
                    }
                    // The source ended at a boundary: readers that meet the end inside their
                    // framing report it as an error; the bytes after the boundary go on.
                    if let Some(b) = self.pos.boundary() {
                        tracing::debug!(error = %e, pos = b.pos, "reader ended at a boundary");
                        return Ok(Step::Boundary(b));
                    }
                    return Err(self.read_error(e));
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = match self.codec.decoder().decode(&packet) {
                Ok(buf) => {
                    let spec = buf.spec();
                    let (rate, ch) = (spec.rate(), spec.channels().count());
                    let mut samples = Vec::with_capacity(buf.frames() * ch);
                    buf.copy_to_vec_interleaved::<f32>(&mut samples);
                    (samples, rate, u16::try_from(ch).unwrap_or(u16::MAX))
                }
                Err(SymError::DecodeError(what)) => {
                    self.bad_packets += 1;
                    tracing::warn!(what, pts = packet.pts.get(), "undecodable packet skipped");
                    if self.bad_packets > MAX_BAD_PACKETS {
                        self.done = true;
                        return Err(self.malformed(SymError::DecodeError(what)));
                    }
                    continue;
                }
                Err(SymError::ResetRequired) => {
                    self.recreate_codec()?;
                    continue;
                }
                Err(e) => {
                    self.done = true;
                    return Err(self.read_error(e));
                }
            };
            self.bad_packets = 0;
            let (mut samples, rate, channels) = decoded;
            if rate != self.info.sample_rate || channels != self.info.channels {
                self.info.sample_rate = rate;
                self.info.channels = channels;
            }
            // After the rate is known: HE-AAC's first output sets it, and the offset is in its frames.
            if let Some(frame) = self.rebase.take() {
                let first = self.ts_to_frames(packet.pts.get());
                self.frame_offset = i64::try_from(frame)
                    .unwrap_or(i64::MAX)
                    .saturating_sub(first);
            }
            let ch = usize::from(channels.max(1));
            let Some(start) = self
                .place(&packet, &mut samples, ch)
                .filter(|_| !samples.is_empty())
            else {
                self.check_stall()?;
                continue;
            };
            self.silent_from = self.stream_pos();
            self.next_frame = start + (samples.len() / ch) as u64;
            return Ok(Step::Chunk(PcmChunk {
                samples,
                sample_rate: rate,
                channels,
                time: frames_to_duration(start, rate),
                byte_pos: self.stream_pos(),
                variant: self.pos.variant(),
                change: None,
                now_playing: Vec::new(),
            }));
        }
    }

    /// At the reader's clean end: a container that declares its length and got far less is truncated.
    fn check_complete(&self) -> Result<()> {
        let exact = !matches!(
            self.info.container,
            None | Some(ContainerFormat::Adts | ContainerFormat::MpegTs)
        );
        let Some(expected) = self.info.frames.filter(|_| exact) else {
            return Ok(());
        };
        let slack = 2 * self.params.max_frames_per_packet.unwrap_or(4096).max(1152);
        // On an estimated timeline the end lands anywhere within the estimate's bound.
        let slack = slack.saturating_add(self.uncertainty);
        if self.next_frame.saturating_sub(self.origin_frame) + slack < expected {
            return Err(self.truncated());
        }
        Ok(())
    }

    fn truncated(&self) -> Error {
        let rate = self.info.sample_rate;
        Error::Truncated {
            origin: self.origin.clone(),
            pos: self.stream_pos(),
            decoded: frames_to_duration(self.next_frame, rate),
            expected: self.info.frames.map(|f| frames_to_duration(f, rate)),
        }
    }

    fn malformed(&self, source: SymError) -> Error {
        Error::Malformed {
            origin: self.origin.clone(),
            container: self
                .info
                .container
                .map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
            pos: self.stream_pos(),
            source,
        }
    }

    /// Classifies an error of the reader or codec.
    fn read_error(&self, e: SymError) -> Error {
        match e {
            // symphonia's own end-of-data (no payload): the bytes ran out inside a frame.
            SymError::IoError(io)
                if io.kind() == std::io::ErrorKind::UnexpectedEof && io.get_ref().is_none() =>
            {
                self.truncated()
            }
            SymError::IoError(io) => Error::Stream {
                origin: self.origin.clone(),
                pos: self.stream_pos(),
                source: io,
            },
            // A reader that fails once the bytes have run out met a file cut short.
            other if self.pos.at_end() => {
                tracing::debug!(error = %other, "reader failed at the end of the stream");
                self.truncated()
            }
            other => self.malformed(other),
        }
    }

    fn recreate_codec(&mut self) -> Result<()> {
        tracing::debug!("codec reset required: recreating it");
        self.codec = Codec::make(&self.params, &self.dec_opts).map_err(|e| self.malformed(e))?;
        Ok(())
    }
}

pub(super) fn time_to_duration(t: Time) -> Option<Duration> {
    let (s, ns) = t.parts();
    Some(Duration::new(u64::try_from(s).ok()?, ns))
}
