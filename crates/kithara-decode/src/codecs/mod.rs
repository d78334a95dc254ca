//! The codecs the decoder makes: symphonia's own decoders, plus the ones the optional features
//! add — libopus for Opus (`opus`), Fraunhofer's FDK AAC for HE-AAC v1/v2 (`fdk-aac`) — and the
//! feature a codec needs when it is off.
//!
//! With `fdk-aac`, AAC goes through [`fdk::AacDecoder`], which decodes the first access unit with
//! FDK AAC and keeps FDK for a stream that carries SBR or PS (HE-AAC), symphonia's decoder for
//! plain AAC-LC (the two agree on AAC-LC within 0.01 dB of SNR against ffmpeg, but symphonia's has
//! no output delay, so AAC-LC timing and gapless trims stay exactly as they were).

use std::sync::LazyLock;

use kithara_stream::AudioCodec;

use symphonia::core::{
    codecs::{
        audio::{
            well_known::{CODEC_ID_AAC, CODEC_ID_OPUS},
            AudioCodecParameters, AudioDecoder, AudioDecoderOptions,
        },
        registry::CodecRegistry,
    },
    errors::Result,
};

#[cfg(feature = "fdk-aac")]
mod fdk;
mod signal;

pub(super) static REGISTRY: LazyLock<CodecRegistry> = LazyLock::new(|| {
    let mut registry = CodecRegistry::new();
    symphonia::default::register_enabled_codecs(&mut registry);
    #[cfg(feature = "opus")]
    registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
    registry
});

/// The codec a track needs and the cargo feature of kithara-decode that decodes it, when that
/// feature is off in this build: Opus without `opus`; AAC signalled as HE-AAC (by the container's
/// AudioSpecificConfig, or by `hint`, the playlist's `CODECS`) without `fdk-aac`, which symphonia
/// would decode at half the rate. ADTS signals HE-AAC only inside its frames: see [`signal`].
pub(crate) fn missing_feature(
    params: &AudioCodecParameters,
    hint: Option<AudioCodec>,
) -> Option<(String, &'static str)> {
    if params.codec == CODEC_ID_OPUS && cfg!(not(feature = "opus")) {
        return Some((crate::info::codec_label(params.codec), "opus"));
    }
    if params.codec != CODEC_ID_AAC || cfg!(feature = "fdk-aac") {
        return None;
    }
    let signalled = params.extra_data.as_deref().and_then(signal::he_aac_in_asc);
    let he = signalled.or(hint.filter(|c| matches!(c, AudioCodec::HeAac | AudioCodec::HeAacV2)));
    he.map(|c| (c.to_string(), "fdk-aac"))
}

/// A track's codec.
pub(crate) enum Codec {
    /// A decoder of the registry (symphonia's, libopus), and the frames its output lags the
    /// media by (Opus's pre-skip, which the Ogg reader declares and does not apply; 0 for the
    /// others).
    Plain(Box<dyn AudioDecoder>, u64),
    /// AAC, HE-AAC through FDK AAC.
    #[cfg(feature = "fdk-aac")]
    Aac(Box<fdk::AacDecoder>),
}

impl Codec {
    /// The codec for `params`.
    pub(crate) fn make(params: &AudioCodecParameters, opts: &AudioDecoderOptions) -> Result<Self> {
        #[cfg(feature = "fdk-aac")]
        if params.codec == CODEC_ID_AAC {
            return fdk::AacDecoder::new(params, opts).map(|d| Self::Aac(Box::new(d)));
        }
        if params.codec == CODEC_ID_OPUS {
            // The adapter would drop the pre-skip from its first output, which the timeline
            // places by the packet's timestamp (a gap after it): it is taken off the timeline
            // instead, like FDK's delay, so that seeks and boundaries see it too.
            let pre_skip = params.extra_data.as_deref().map_or(0, opus_pre_skip);
            let mut params = params.clone();
            params.extra_data = None;
            return REGISTRY
                .make_audio_decoder(&params, opts)
                .map(|d| Self::Plain(d, pre_skip));
        }
        REGISTRY
            .make_audio_decoder(params, opts)
            .map(|d| Self::Plain(d, 0))
    }

    /// The decoder itself.
    pub(crate) fn decoder(&mut self) -> &mut dyn AudioDecoder {
        match self {
            Self::Plain(d, _) => d.as_mut(),
            #[cfg(feature = "fdk-aac")]
            Self::Aac(d) => d.as_mut(),
        }
    }

    /// The codec's short name.
    pub(crate) fn short_name(&self) -> &'static str {
        match self {
            Self::Plain(d, _) => d.codec_info().short_name,
            #[cfg(feature = "fdk-aac")]
            Self::Aac(d) => d.codec_info().short_name,
        }
    }

    /// Output frames a restarted decoder needs, past the usual pre-roll, before its output matches
    /// a continuous decode: FDK's delay plus the warm-up of HE-AAC v2's parametric stereo (16
    /// access units: measured, a seek with fewer comes out below 10 dB against the linear decode).
    pub(crate) fn extra_preroll(&self) -> u64 {
        match self.delay() {
            0 => 0,
            delay => delay + 16 * 2048,
        }
    }

    /// Output frames by which the decoder's output lags the media (FDK AAC's output delay, Opus's
    /// pre-skip; 0 for the others, whose first output is the first packet's).
    pub(crate) fn delay(&self) -> u64 {
        match self {
            Self::Plain(_, delay) => *delay,
            #[cfg(feature = "fdk-aac")]
            Self::Aac(d) => d.delay(),
        }
    }
}

/// The pre-skip of an Ogg Opus identification header (`OpusHead`, RFC 7845 §5.1): 48 kHz samples
/// to drop from the start of the decoded output.
fn opus_pre_skip(head: &[u8]) -> u64 {
    match head.get(..12) {
        Some(h) if h.starts_with(b"OpusHead") => u64::from(u16::from_le_bytes([h[10], h[11]])),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_pre_skip_is_read_from_the_head() {
        let mut head = b"OpusHead\x01\x02".to_vec();
        head.extend_from_slice(&312u16.to_le_bytes());
        head.extend_from_slice(&[0x80, 0xbb, 0, 0, 0, 0, 0]);
        assert_eq!(opus_pre_skip(&head), 312);
        assert_eq!(opus_pre_skip(b"OpusHead"), 0);
        assert_eq!(opus_pre_skip(b"OpusTags\x01\x02\x38\x01"), 0);
    }
}
