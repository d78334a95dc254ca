//! Encodes a 16-bit WAV to ADTS AAC with Fraunhofer's FDK AAC encoder, for the HE-AAC fixtures
//! (`scripts/make-fixtures.sh`): ffmpeg builds without `libfdk_aac` have no HE-AAC encoder.
//!
//! ```text
//! cargo run -p kithara-decode --features fdk-aac --example he_aac_encode -- IN.wav OUT.aac he|he2|lc KBITS
//! ```
//!
//! The input is padded with 4096 frames of silence, so the encoder's look-ahead holds no audio
//! when the input ends (the encoder binding cannot flush).

use std::{error::Error, fs, io::Write};

use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, Encoder, EncoderParams, Transport};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, profile, kbits] = args.as_slice() else {
        return Err("usage: he_aac_encode IN.wav OUT.aac he|he2|lc KBITS".into());
    };
    let reader = hound::WavReader::open(input)?;
    let spec = reader.spec();
    let mut pcm = reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()?;
    let ch = usize::from(spec.channels);
    pcm.extend(std::iter::repeat_n(0, 4096 * ch));
    let audio_object_type = match profile.as_str() {
        "he" => AudioObjectType::Mpeg4HeAac,
        "he2" => AudioObjectType::Mpeg4HeAacV2,
        "lc" => AudioObjectType::Mpeg4LowComplexity,
        other => return Err(format!("unknown profile {other}").into()),
    };
    let encoder = Encoder::new(EncoderParams {
        bit_rate: BitRate::Cbr(kbits.parse::<u32>()? * 1000),
        sample_rate: spec.sample_rate,
        transport: Transport::Adts,
        channels: if ch == 2 {
            ChannelMode::Stereo
        } else {
            ChannelMode::Mono
        },
        audio_object_type,
    })
    .map_err(|e| format!("encoder: {e}"))?;
    let mut out = fs::File::create(output)?;
    let mut buf = vec![0u8; 8192];
    let mut rest = pcm.as_slice();
    while !rest.is_empty() {
        let info = encoder
            .encode(rest, &mut buf)
            .map_err(|e| format!("encode: {e}"))?;
        out.write_all(&buf[..info.output_size])?;
        if info.input_consumed == 0 && info.output_size == 0 {
            break;
        }
        rest = &rest[info.input_consumed.min(rest.len())..];
    }
    Ok(())
}
