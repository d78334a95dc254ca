//! The codecs the decoder makes: symphonia's own decoders, plus the ones the optional features
//! add — libopus for Opus (`opus`), Fraunhofer's FDK AAC for HE-AAC v1/v2 (`fdk-aac`) — and the
//! feature a codec needs when it is off.
//!
//! With `fdk-aac`, AAC goes through [`fdk::AacDecoder`], which decodes the first access unit with
//! FDK AAC and keeps FDK for a stream that carries SBR or PS (HE-AAC), symphonia's decoder for
//! plain AAC-LC (the two agree on AAC-LC within 0.01 dB of SNR against ffmpeg, but symphonia's has
//! no output delay, so AAC-LC timing and gapless trims stay exactly as they were).

use std::sync::LazyLock;

use symphonia::core::{
    codecs::{
        audio::{
            well_known::CODEC_ID_OPUS, AudioCodecId, AudioCodecParameters, AudioDecoder,
            AudioDecoderOptions,
        },
        registry::CodecRegistry,
    },
    errors::Result,
};

#[cfg(feature = "fdk-aac")]
mod fdk;

pub(super) static REGISTRY: LazyLock<CodecRegistry> = LazyLock::new(|| {
    let mut registry = CodecRegistry::new();
    symphonia::default::register_enabled_codecs(&mut registry);
    #[cfg(feature = "opus")]
    registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
    registry
});

/// The cargo feature of kithara-decode that would decode `codec`, when it is off in this build.
pub(crate) fn missing_feature(codec: AudioCodecId) -> Option<&'static str> {
    (codec == CODEC_ID_OPUS && cfg!(not(feature = "opus"))).then_some("opus")
}

/// A track's codec.
pub(crate) enum Codec {
    /// A decoder of the registry (symphonia's, libopus).
    Plain(Box<dyn AudioDecoder>),
    /// AAC, HE-AAC through FDK AAC.
    #[cfg(feature = "fdk-aac")]
    Aac(Box<fdk::AacDecoder>),
}

impl Codec {
    /// The codec for `params`.
    pub(crate) fn make(params: &AudioCodecParameters, opts: &AudioDecoderOptions) -> Result<Self> {
        #[cfg(feature = "fdk-aac")]
        if params.codec == symphonia::core::codecs::audio::well_known::CODEC_ID_AAC {
            return fdk::AacDecoder::new(params, opts).map(|d| Self::Aac(Box::new(d)));
        }
        REGISTRY.make_audio_decoder(params, opts).map(Self::Plain)
    }

    /// The decoder itself.
    pub(crate) fn decoder(&mut self) -> &mut dyn AudioDecoder {
        match self {
            Self::Plain(d) => d.as_mut(),
            #[cfg(feature = "fdk-aac")]
            Self::Aac(d) => d.as_mut(),
        }
    }

    /// The codec's short name.
    pub(crate) fn short_name(&self) -> &'static str {
        match self {
            Self::Plain(d) => d.codec_info().short_name,
            #[cfg(feature = "fdk-aac")]
            Self::Aac(d) => d.codec_info().short_name,
        }
    }

    /// Output frames by which the decoder lags its input (FDK AAC's output delay; 0 for the
    /// others, whose first output is the first packet's).
    pub(crate) fn delay(&self) -> u64 {
        match self {
            Self::Plain(_) => 0,
            #[cfg(feature = "fdk-aac")]
            Self::Aac(d) => d.delay(),
        }
    }
}
