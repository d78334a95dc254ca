//! ADTS headers: the 7- or 9-byte prefix of each AAC frame in TS and `.aac` files.

/// A parsed ADTS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AdtsHeader {
    /// MPEG-4 audio object type (2 = AAC-LC).
    pub(crate) object_type: u8,
    /// Sampling frequency index (into the MPEG-4 table).
    pub(crate) sf_index: u8,
    /// Sample rate in Hz.
    pub(crate) sample_rate: u32,
    /// Channel configuration (0 = defined in the payload).
    pub(crate) channels: u8,
    /// Whole frame length, header included.
    pub(crate) frame_len: usize,
    /// Header length (7, or 9 with CRC).
    pub(crate) header_len: usize,
}

const SAMPLE_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

impl AdtsHeader {
    /// The 2-byte MPEG-4 AudioSpecificConfig equivalent to this header.
    pub(crate) fn audio_specific_config(&self) -> [u8; 2] {
        let v = (u16::from(self.object_type) << 11)
            | (u16::from(self.sf_index) << 7)
            | (u16::from(self.channels) << 3);
        v.to_be_bytes()
    }

    /// Number of channels (configuration 7 is 7.1).
    pub(crate) fn channel_count(&self) -> u16 {
        match self.channels {
            7 => 8,
            n => u16::from(n),
        }
    }

    /// Parses a header at the start of `b` (at least 7 bytes), `None` if it is not one.
    pub(crate) fn parse(b: &[u8]) -> Option<Self> {
        let b: &[u8; 7] = b.get(..7)?.try_into().ok()?;
        if b[0] != 0xFF || b[1] & 0xF6 != 0xF0 {
            return None;
        }
        let header_len = if b[1] & 1 == 1 { 7 } else { 9 };
        let object_type = ((b[2] >> 6) & 3) + 1;
        let sf_index = (b[2] >> 2) & 0xF;
        let sample_rate = *SAMPLE_RATES.get(usize::from(sf_index))?;
        let channels = ((b[2] & 1) << 2) | (b[3] >> 6);
        let frame_len =
            (usize::from(b[3] & 3) << 11) | (usize::from(b[4]) << 3) | usize::from(b[5] >> 5);
        (frame_len > header_len).then_some(Self {
            object_type,
            sf_index,
            sample_rate,
            channels,
            frame_len,
            header_len,
        })
    }
}
