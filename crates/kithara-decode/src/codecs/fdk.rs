//! AAC through Fraunhofer's FDK AAC decoder (the `fdk-aac` crate, which builds the library from
//! its bundled C++ sources): AAC-LC, HE-AAC v1 (SBR) and v2 (PS) at their full output rate, where
//! symphonia's decoder plays only the half-rate AAC-LC core of an HE-AAC stream.
//!
//! [`AacDecoder`] decodes the first access unit with FDK and keeps it when the stream carries SBR
//! or PS (its output rate or channel count differs from the AAC-LC core's); for plain AAC-LC it
//! hands over to symphonia's decoder, from that first access unit on.
//!
//! Every packet is one raw access unit: the decoder is configured from the AudioSpecificConfig
//! the container gives (MP4, TS) or one built from the ADTS header's rate and channels (an SBR or
//! PS payload is then found in the stream itself: implicit signalling, as ADTS always is).

use fdk_aac::dec::{Decoder, DecoderError, Transport};
use symphonia::core::{
    audio::{
        layouts, AsGenericAudioBufferRef, Audio, AudioBuffer, AudioMut, AudioSpec, Channels,
        GenericAudioBufferRef,
    },
    codecs::{
        audio::{
            well_known::{
                profiles::{CODEC_PROFILE_AAC_HE, CODEC_PROFILE_AAC_HE_V2, CODEC_PROFILE_AAC_LC},
                CODEC_ID_AAC,
            },
            AudioCodecParameters, AudioDecoder, AudioDecoderOptions, FinalizeResult,
        },
        registry::SupportedAudioCodec,
        CodecInfo, CodecProfile, CodecProfileInfo,
    },
    errors::{Error, Result},
    packet::PacketRef,
};

/// The `short_name` of this decoder's [`CodecInfo`].
pub(crate) const NAME: &str = "fdk-aac";

/// Output frames per channel of one access unit at most (1024 of the core, doubled by SBR).
const MAX_FRAMES: usize = 2048;
/// Channels decoded at most (the 7.1 of AAC's channel configurations).
const MAX_CHANNELS: usize = 8;

/// The sampling frequencies of an AudioSpecificConfig, by index.
const RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

const fn profile(
    profile: CodecProfile,
    short_name: &'static str,
    long_name: &'static str,
) -> CodecProfileInfo {
    CodecProfileInfo {
        profile,
        short_name,
        long_name,
    }
}

static SUPPORTED: &[SupportedAudioCodec] = &[SupportedAudioCodec {
    id: CODEC_ID_AAC,
    info: CodecInfo {
        short_name: NAME,
        long_name: "Advanced Audio Coding (Fraunhofer FDK AAC)",
        profiles: &[
            profile(CODEC_PROFILE_AAC_LC, "aac-lc", "Low Complexity"),
            profile(CODEC_PROFILE_AAC_HE, "aac-he", "High Efficiency (SBR)"),
            profile(
                CODEC_PROFILE_AAC_HE_V2,
                "aac-he-v2",
                "High Efficiency v2 (SBR + PS)",
            ),
        ],
    },
}];

/// The FDK AAC decoder and the buffer it decodes into.
struct Fdk {
    fdk: Decoder,
    /// The AudioSpecificConfig the decoder was configured with (again on a reset).
    asc: Vec<u8>,
    pcm: Vec<i16>,
    buf: AudioBuffer<i16>,
}

impl Fdk {
    fn new(params: &AudioCodecParameters) -> Result<Self> {
        let asc = match params.extra_data.as_deref() {
            Some(asc) if asc.len() >= 2 => asc.to_vec(),
            _ => lc_config(params)?,
        };
        let fdk = open(&asc)?;
        let channels = params
            .channels
            .clone()
            .unwrap_or(layouts::CHANNEL_LAYOUT_STEREO);
        let rate = params.sample_rate.unwrap_or(44_100);
        Ok(Self {
            fdk,
            asc,
            pcm: vec![0; MAX_FRAMES * MAX_CHANNELS],
            buf: AudioBuffer::new(AudioSpec::new(rate, channels), MAX_FRAMES),
        })
    }

    fn reset(&mut self) {
        // The overlap and SBR state belong to the audio before the seek: start afresh.
        match open(&self.asc) {
            Ok(fdk) => self.fdk = fdk,
            Err(e) => tracing::warn!(error = %e, "fdk-aac: reopening after a reset failed"),
        }
    }

    /// Whether the stream carries SBR or PS: the output differs from the AAC-LC core in rate or
    /// channel count.
    fn extended(&self) -> bool {
        let info = self.fdk.stream_info();
        info.sampleRate != info.aacSampleRate || info.numChannels != info.aacNumChannels
    }

    /// Output frames by which the output lags the input.
    fn delay(&self) -> u64 {
        u64::from(self.fdk.stream_info().outputDelay)
    }

    /// Decodes one access unit into `buf`.
    fn decode(&mut self, data: &[u8]) -> Result<()> {
        let consumed = self.fdk.fill(data).map_err(fdk_error)?;
        if consumed != data.len() {
            tracing::debug!(
                consumed,
                len = data.len(),
                "fdk-aac: access unit not consumed whole"
            );
        }
        self.buf.clear();
        match self.fdk.decode_frame(&mut self.pcm) {
            Ok(()) => {}
            // Nothing to output yet (the decoder waits for more of the stream).
            Err(DecoderError::NOT_ENOUGH_BITS) => return Ok(()),
            Err(e) => return Err(fdk_error(e)),
        }
        let info = self.fdk.stream_info();
        let rate = u32::try_from(info.sampleRate).unwrap_or(0);
        let channels = usize::try_from(info.numChannels).unwrap_or(0);
        let frames = usize::try_from(info.frameSize).unwrap_or(0);
        if rate == 0 || channels == 0 || channels > MAX_CHANNELS || frames > MAX_FRAMES {
            return Err(Error::DecodeError("aac: unexpected output format"));
        }
        let spec = AudioSpec::new(rate, layout(channels));
        if *self.buf.spec() != spec {
            tracing::debug!(
                rate,
                channels,
                delay = info.outputDelay,
                aot = info.aot,
                "fdk-aac: output format"
            );
            self.buf = AudioBuffer::new(spec, MAX_FRAMES);
        }
        self.buf.render_uninit(Some(frames));
        self.buf
            .copy_from_slice_interleaved(&&self.pcm[..frames * channels]);
        Ok(())
    }
}

/// Which decoder an [`AacDecoder`] uses.
enum State {
    /// FDK: probing until the first access unit shows whether the stream is HE-AAC (`false`),
    /// then HE-AAC (`true`).
    Fdk(Box<Fdk>, bool),
    /// AAC-LC: symphonia's decoder.
    Lc(Box<dyn AudioDecoder>),
}

/// AAC through FDK for HE-AAC, symphonia for AAC-LC (see the module docs).
pub(crate) struct AacDecoder {
    params: AudioCodecParameters,
    opts: AudioDecoderOptions,
    state: State,
}

impl AacDecoder {
    pub(crate) fn new(params: &AudioCodecParameters, opts: &AudioDecoderOptions) -> Result<Self> {
        let state = match Fdk::new(params) {
            Ok(fdk) => State::Fdk(Box::new(fdk), false),
            Err(e) => {
                tracing::debug!(error = %e, "fdk-aac: not configured; symphonia's AAC decoder instead");
                State::Lc(super::REGISTRY.make_audio_decoder(params, opts)?)
            }
        };
        Ok(Self {
            params: params.clone(),
            opts: *opts,
            state,
        })
    }

    /// Output frames by which the decoder lags its input (FDK's, for HE-AAC).
    pub(crate) fn delay(&self) -> u64 {
        match &self.state {
            State::Fdk(fdk, _) => fdk.delay(),
            State::Lc(_) => 0,
        }
    }
}

/// A decoder for raw access units, configured with `asc`.
fn open(asc: &[u8]) -> Result<Decoder> {
    let mut fdk = Decoder::new(Transport::Raw);
    fdk.config_raw(asc).map_err(fdk_error)?;
    Ok(fdk)
}

fn fdk_error(e: DecoderError) -> Error {
    Error::DecodeError(e.message())
}

/// An AAC-LC AudioSpecificConfig for a stream known only by its rate and channel count (ADTS).
fn lc_config(params: &AudioCodecParameters) -> Result<Vec<u8>> {
    let rate = params.sample_rate.unwrap_or(0);
    let Some(index) = RATES.iter().position(|&r| r == rate) else {
        return Err(Error::Unsupported("aac: sample rate without an ADTS index"));
    };
    let channels = params.channels.as_ref().map_or(0, Channels::count);
    let config = match channels {
        1..=6 => channels,
        8 => 7,
        _ => {
            return Err(Error::Unsupported(
                "aac: channel count without a configuration",
            ))
        }
    };
    // Object type (5 bits) 2 = LC, frequency index (4), channel configuration (4), then the
    // GASpecificConfig: 1024-sample frames, no core coder, no extension (3 zero bits).
    let (index, config) = (index as u8, config as u8);
    Ok(vec![
        (2 << 3) | (index >> 1),
        ((index & 1) << 7) | (config << 3),
    ])
}

fn layout(channels: usize) -> Channels {
    match channels {
        1 => layouts::CHANNEL_LAYOUT_MONO,
        2 => layouts::CHANNEL_LAYOUT_STEREO,
        n => Channels::Discrete(u16::try_from(n).unwrap_or(u16::MAX)),
    }
}

impl AudioDecoder for AacDecoder {
    fn reset(&mut self) {
        match &mut self.state {
            State::Fdk(fdk, _) => fdk.reset(),
            State::Lc(d) => d.reset(),
        }
    }

    fn codec_info(&self) -> &CodecInfo {
        match &self.state {
            State::Lc(d) => d.codec_info(),
            State::Fdk(..) => &SUPPORTED[0].info,
        }
    }

    fn codec_params(&self) -> &AudioCodecParameters {
        &self.params
    }

    fn decode_ref(&mut self, packet: &PacketRef<'_>) -> Result<GenericAudioBufferRef<'_>> {
        let (mut probed, mut lc) = (false, false);
        if let State::Fdk(fdk, decided @ false) = &mut self.state {
            fdk.decode(packet.data)?;
            probed = true;
            // No output yet: not decided.
            if fdk.buf.frames() > 0 {
                *decided = fdk.extended();
                lc = !*decided;
                tracing::debug!(
                    extended = *decided,
                    delay = fdk.delay(),
                    "fdk-aac: the first access unit decoded"
                );
            }
        }
        if lc {
            // AAC-LC: symphonia's decoder, from this access unit on.
            self.state = State::Lc(super::REGISTRY.make_audio_decoder(&self.params, &self.opts)?);
            probed = false;
        }
        if probed {
            return Ok(self.last_decoded());
        }
        match &mut self.state {
            State::Fdk(fdk, _) => {
                fdk.decode(packet.data)?;
                Ok(fdk.buf.as_generic_audio_buffer_ref())
            }
            State::Lc(d) => d.decode_ref(packet),
        }
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> GenericAudioBufferRef<'_> {
        match &self.state {
            State::Fdk(fdk, _) => fdk.buf.as_generic_audio_buffer_ref(),
            State::Lc(d) => d.last_decoded(),
        }
    }
}
