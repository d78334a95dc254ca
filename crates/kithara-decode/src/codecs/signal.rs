//! Where a stream says it is HE-AAC before any audio is decoded: the container's
//! AudioSpecificConfig (MP4, fMP4) or the playlist's `CODECS` (HLS). symphonia decodes only the
//! AAC-LC core of such a stream, at half the rate, so without the `fdk-aac` feature the decoder
//! refuses it with the feature's name instead.
//!
//! ADTS (and AAC in MPEG-TS, which carries ADTS) signals SBR and PS only implicitly: the ADTS
//! header names the core (AAC-LC at half the rate), and the SBR payload sits in a fill element
//! after the core's channel elements in each raw data block. Finding it means parsing those
//! elements (section data, scale factors and spectral data, Huffman-coded): the AAC decoding
//! itself. symphonia's decoder does meet the fill element, but keeps what it saw to itself. So an
//! ADTS stream is not classed here: without `fdk-aac` it plays its core at half the rate.

use kithara_stream::AudioCodec;

/// The HE-AAC profile an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) signals explicitly:
/// object type 5 (SBR) or 29 (PS), or an AAC-LC configuration followed by the sync extension
/// `0x2b7` with SBR present (and `0x548` with PS present for v2). `None` for anything else,
/// including a configuration too short or malformed to say.
pub(crate) fn he_aac_in_asc(asc: &[u8]) -> Option<AudioCodec> {
    let mut r = Bits { data: asc, pos: 0 };
    let aot = object_type(&mut r)?;
    match aot {
        5 => return Some(AudioCodec::HeAac),
        29 => return Some(AudioCodec::HeAacV2),
        _ => {}
    }
    sampling_frequency(&mut r)?;
    let channels = r.read(4)?;
    // The sync extension follows an AAC-LC GASpecificConfig; a program config element (channel
    // configuration 0) is not walked.
    if aot != 2 || channels == 0 {
        return None;
    }
    // GASpecificConfig: frameLengthFlag, dependsOnCoreCoder (+ 14 bits of delay), extensionFlag
    // (+ extensionFlag3 for AAC-LC).
    r.read(1)?;
    if r.read(1)? == 1 {
        r.read(14)?;
    }
    if r.read(1)? == 1 {
        r.read(1)?;
    }
    if r.left() < 16 || r.read(11)? != 0x2b7 || object_type(&mut r)? != 5 || r.read(1)? != 1 {
        return None;
    }
    sampling_frequency(&mut r)?;
    if r.left() >= 12 && r.read(11)? == 0x548 && r.read(1)? == 1 {
        return Some(AudioCodec::HeAacV2);
    }
    Some(AudioCodec::HeAac)
}

/// An audio object type: 5 bits, 31 escaping to 32 + 6 more bits.
fn object_type(r: &mut Bits<'_>) -> Option<u32> {
    match r.read(5)? {
        31 => Some(32 + r.read(6)?),
        t => Some(t),
    }
}

/// A sampling frequency index: 4 bits, 15 followed by a 24-bit frequency.
fn sampling_frequency(r: &mut Bits<'_>) -> Option<()> {
    if r.read(4)? == 15 {
        r.read(24)?;
    }
    Some(())
}

/// A most-significant-bit-first reader over a byte slice.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    /// The next `n` (at most 32) bits; `None` past the end.
    fn read(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            let bit = (byte >> (7 - self.pos % 8)) & 1;
            v = (v << 1) | u32::from(bit);
            self.pos += 1;
        }
        Some(v)
    }

    fn left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs `(value, bits)` fields MSB first, zero-padded to a byte.
    pub(crate) fn pack(fields: &[(u32, usize)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = 0;
        for &(v, bits) in fields {
            for i in (0..bits).rev() {
                if n % 8 == 0 {
                    out.push(0);
                }
                let last = out.len() - 1;
                out[last] |= (((v >> i) & 1) as u8) << (7 - n % 8);
                n += 1;
            }
        }
        out
    }

    #[test]
    fn explicit_signalling_is_found() {
        // AAC-LC, 22.05 kHz (index 7), stereo: what aac_adtstoasc writes (0x13 0x90).
        let lc = [(2, 5), (7, 4), (2, 4), (0, 3)];
        assert_eq!(pack(&lc), [0x13, 0x90]);
        assert_eq!(he_aac_in_asc(&pack(&lc)), None);
        // Hierarchical: object type 5 / 29, then the extension rate and the core.
        let he = [(5, 5), (7, 4), (2, 4), (4, 4), (2, 5), (0, 3)];
        assert_eq!(he_aac_in_asc(&pack(&he)), Some(AudioCodec::HeAac));
        let he2 = [(29, 5), (7, 4), (1, 4), (4, 4), (2, 5), (0, 3)];
        assert_eq!(he_aac_in_asc(&pack(&he2)), Some(AudioCodec::HeAacV2));
        // Backward compatible: AAC-LC, then 0x2b7, object type 5, SBR present, 44.1 kHz.
        let sync = [lc.as_slice(), &[(0x2b7, 11), (5, 5), (1, 1), (4, 4)]].concat();
        assert_eq!(he_aac_in_asc(&pack(&sync)), Some(AudioCodec::HeAac));
        let ps = [sync.as_slice(), &[(0x548, 11), (1, 1)]].concat();
        assert_eq!(he_aac_in_asc(&pack(&ps)), Some(AudioCodec::HeAacV2));
        // SBR present flag off, another sync word, an escaped rate.
        let off = [lc.as_slice(), &[(0x2b7, 11), (5, 5), (0, 1), (4, 4)]].concat();
        assert_eq!(he_aac_in_asc(&pack(&off)), None);
        let other = [lc.as_slice(), &[(0x2b6, 11), (5, 5), (1, 1), (4, 4)]].concat();
        assert_eq!(he_aac_in_asc(&pack(&other)), None);
        let escaped = [
            (2, 5),
            (15, 4),
            (22_050, 24),
            (2, 4),
            (0, 3),
            (0x2b7, 11),
            (5, 5),
            (1, 1),
            (4, 4),
        ];
        assert_eq!(he_aac_in_asc(&pack(&escaped)), Some(AudioCodec::HeAac));
    }

    #[test]
    fn short_or_odd_configurations_say_nothing() {
        for asc in [&[][..], &[0x13], &[0xff, 0xff], &[0x10, 0x00], &[0xf8]] {
            assert_eq!(he_aac_in_asc(asc), None, "{asc:02x?}");
        }
    }
}
