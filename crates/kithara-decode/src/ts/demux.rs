//! The MPEG-TS demultiplexer: 188-byte packets → PAT → PMT → the audio PID's PES packets →
//! ADTS frames with their PTS. Pure byte handling, no I/O, so it is unit-tested on built packets.
//!
//! Scope: one program (the first one in the PAT), PAT and PMT sections that fit in one packet
//! (always true for audio-only streams), AAC in ADTS (`stream_type` 0x0F). Continuity counters are
//! checked per PID: a repeated packet is dropped, a gap drops the partial PES and the partial ADTS
//! frame, so no frame is ever glued together from unrelated bytes.

use std::collections::{HashMap, VecDeque};

pub(crate) use super::adts::AdtsHeader;

/// Size of a transport stream packet.
pub(crate) const PACKET_LEN: usize = 188;
/// The sync byte that starts every packet.
pub(crate) const SYNC: u8 = 0x47;

/// What the PMT says about the first audio elementary stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AudioStream {
    pub(crate) pid: u16,
    pub(crate) stream_type: u8,
}

impl AudioStream {
    /// A name for a stream type we cannot decode, `None` for ADTS AAC.
    pub(crate) fn unsupported_name(&self) -> Option<&'static str> {
        match self.stream_type {
            0x0F => None,
            0x11 => Some("AAC in LATM"),
            0x03 | 0x04 => Some("MPEG audio in TS"),
            0x81 => Some("AC-3"),
            0x87 => Some("E-AC-3"),
            _ => Some("unknown TS stream type"),
        }
    }
}

/// One ADTS frame taken out of the elementary stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdtsFrame {
    pub(crate) header: AdtsHeader,
    /// The raw AAC payload (header stripped).
    pub(crate) payload: Vec<u8>,
    /// The PES timestamp (90 kHz) when this frame is the first to start in its PES.
    pub(crate) pts: Option<u64>,
}

/// The demultiplexer state.
#[derive(Debug, Default)]
pub(crate) struct Demuxer {
    pmt_pid: Option<u16>,
    audio: Option<AudioStream>,
    last_cc: HashMap<u16, u8>,
    /// The PES being assembled; `None` until a payload unit starts (or after a gap).
    pes: Option<Vec<u8>>,
    /// Elementary stream bytes not yet cut into frames, starting at absolute offset `es_base`.
    es: Vec<u8>,
    es_base: u64,
    /// (absolute ES offset where a PES payload began, its PTS).
    pts_marks: VecDeque<(u64, u64)>,
    frames: VecDeque<AdtsFrame>,
    /// Continuity gaps seen on the audio PID.
    pub(crate) discontinuities: u64,
}

impl Demuxer {
    /// The audio stream announced by the PMT, once seen.
    pub(crate) fn audio(&self) -> Option<AudioStream> {
        self.audio
    }

    /// The next complete ADTS frame.
    pub(crate) fn pop_frame(&mut self) -> Option<AdtsFrame> {
        self.frames.pop_front()
    }

    /// Puts a frame back at the head of the queue.
    pub(crate) fn push_front(&mut self, frame: AdtsFrame) {
        self.frames.push_front(frame);
    }

    /// The next complete ADTS frame, left in place.
    pub(crate) fn peek_frame(&self) -> Option<&AdtsFrame> {
        self.frames.front()
    }

    /// Forgets everything except the program layout (PAT/PMT), e.g. before reading from byte 0 again.
    pub(crate) fn reset_stream(&mut self) {
        self.last_cc.clear();
        self.pes = None;
        self.es.clear();
        self.es_base = 0;
        self.pts_marks.clear();
        self.frames.clear();
    }

    /// Whether bytes of an unfinished PES or ADTS frame are pending.
    pub(crate) fn has_partial(&self) -> bool {
        self.pes.as_ref().is_some_and(|p| !p.is_empty()) || !self.es.is_empty()
    }

    /// Feeds one 188-byte packet (starting with the sync byte).
    pub(crate) fn push_packet(&mut self, p: &[u8; PACKET_LEN]) {
        let pusi = p[1] & 0x40 != 0;
        let pid = (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]);
        let afc = (p[3] >> 4) & 3;
        let cc = p[3] & 0x0F;
        let mut at = 4;
        let mut discontinuity_flag = false;
        if afc & 2 != 0 {
            let af_len = usize::from(p[4]);
            discontinuity_flag = af_len > 0 && p[5] & 0x80 != 0;
            at = 5 + af_len;
        }
        if afc & 1 == 0 || at >= PACKET_LEN {
            return; // no payload
        }
        let payload = &p[at..];
        if let Some(&last) = self.last_cc.get(&pid) {
            if cc == last && !discontinuity_flag {
                tracing::trace!(pid, cc, "duplicate TS packet dropped");
                return;
            }
            if cc != (last + 1) & 0x0F
                && !discontinuity_flag
                && Some(pid) == self.audio.map(|a| a.pid)
            {
                self.discontinuities += 1;
                tracing::warn!(
                    pid,
                    expected = (last + 1) & 0x0F,
                    got = cc,
                    "TS continuity gap: dropping the partial PES"
                );
                self.pes = None;
                self.drop_partial_frame();
            }
        }
        self.last_cc.insert(pid, cc);

        if pid == 0 {
            if pusi {
                self.parse_pat(payload);
            }
        } else if Some(pid) == self.pmt_pid {
            if pusi {
                self.parse_pmt(payload);
            }
        } else if Some(pid) == self.audio.map(|a| a.pid) {
            if pusi {
                self.flush_pes();
                self.pes = Some(Vec::with_capacity(4096));
            }
            if let Some(pes) = &mut self.pes {
                pes.extend_from_slice(payload);
                if pes.len() > MAX_PES_BYTES {
                    // An audio PES is a few KiB: one that never ends is corrupt or hostile.
                    tracing::warn!(len = pes.len(), "TS: PES over the size bound dropped");
                    self.pes = None;
                } else if pes_complete(pes) {
                    self.flush_pes();
                }
            }
        }
    }

    /// Ends the stream: a pending PES is processed; a partial ADTS frame stays pending.
    pub(crate) fn finish(&mut self) {
        self.flush_pes();
    }

    fn parse_pat(&mut self, payload: &[u8]) {
        let Some(sec) = section(payload, 0x00) else {
            return;
        };
        // After the 5 bytes of transport_stream_id, version and section numbers: 4-byte entries.
        for e in sec.get(5..).unwrap_or_default().chunks_exact(4) {
            let program = u16::from_be_bytes([e[0], e[1]]);
            if program != 0 {
                self.pmt_pid = Some((u16::from(e[2] & 0x1F) << 8) | u16::from(e[3]));
                return;
            }
        }
    }

    fn parse_pmt(&mut self, payload: &[u8]) {
        let Some(sec) = section(payload, 0x02) else {
            return;
        };
        // program_number(2) version(1) section numbers(2) PCR PID(2) program_info_length(2).
        let Some(info_len) = sec
            .get(7..9)
            .map(|b| usize::from(b[0] & 0x0F) << 8 | usize::from(b[1]))
        else {
            return;
        };
        let mut es = sec.get(9 + info_len..).unwrap_or_default();
        let mut first_other = None;
        while es.len() >= 5 {
            let stream_type = es[0];
            let pid = (u16::from(es[1] & 0x1F) << 8) | u16::from(es[2]);
            let es_info = (usize::from(es[3] & 0x0F) << 8) | usize::from(es[4]);
            let candidate = AudioStream { pid, stream_type };
            match stream_type {
                0x0F => {
                    self.set_audio(candidate);
                    return;
                }
                0x11 | 0x03 | 0x04 | 0x81 | 0x87 => {
                    first_other.get_or_insert(candidate);
                }
                _ => {}
            }
            es = es.get(5 + es_info..).unwrap_or_default();
        }
        if let Some(other) = first_other {
            self.set_audio(other);
        }
    }

    fn set_audio(&mut self, a: AudioStream) {
        if self.audio != Some(a) {
            tracing::debug!(pid = a.pid, stream_type = a.stream_type, "TS audio stream");
            self.audio = Some(a);
        }
    }

    fn flush_pes(&mut self) {
        let Some(pes) = self.pes.take() else { return };
        if pes.len() < 9 || pes[..3] != [0, 0, 1] {
            if !pes.is_empty() {
                tracing::warn!(len = pes.len(), "TS: PES without a valid header dropped");
            }
            return;
        }
        let flags = pes[7];
        let header_end = 9 + usize::from(pes[8]);
        let pts = (flags & 0x80 != 0)
            .then(|| pes.get(9..14).map(parse_pts))
            .flatten();
        let end = match u16::from_be_bytes([pes[4], pes[5]]) {
            0 => pes.len(),
            n => (6 + usize::from(n)).min(pes.len()),
        };
        let Some(data) = pes.get(header_end..end) else {
            return;
        };
        if let Some(pts) = pts {
            self.pts_marks
                .push_back((self.es_base + self.es.len() as u64, pts));
        }
        self.es.extend_from_slice(data);
        self.cut_frames();
    }

    /// Cuts every complete ADTS frame out of `es`, resynchronising past junk.
    fn cut_frames(&mut self) {
        let mut at = 0;
        while let Some(rest) = self.es.get(at..) {
            if rest.len() < 7 {
                break;
            }
            let Some(h) = AdtsHeader::parse(rest) else {
                at += 1;
                continue;
            };
            if rest.len() < h.frame_len {
                break;
            }
            let abs = self.es_base + at as u64;
            let mut pts = None;
            while let Some(&(off, p)) = self.pts_marks.front() {
                if off > abs {
                    break;
                }
                pts = Some(p);
                self.pts_marks.pop_front();
            }
            self.frames.push_back(AdtsFrame {
                header: h,
                payload: rest[h.header_len..h.frame_len].to_vec(),
                pts,
            });
            at += h.frame_len;
        }
        if at > 0 {
            let skipped = at.min(self.es.len());
            self.es.drain(..skipped);
            self.es_base += skipped as u64;
        }
        // Of the marks before the bytes kept, only the last can still apply (to the next frame):
        // junk without frames must not pile them up.
        while self
            .pts_marks
            .get(1)
            .is_some_and(|&(off, _)| off <= self.es_base)
        {
            self.pts_marks.pop_front();
        }
    }

    fn drop_partial_frame(&mut self) {
        self.es_base += self.es.len() as u64;
        self.es.clear();
        self.pts_marks.clear();
    }
}

/// Whether a PES with a declared length has all its bytes.
fn pes_complete(pes: &[u8]) -> bool {
    pes.len() >= 6 && {
        let n = usize::from(u16::from_be_bytes([pes[4], pes[5]]));
        n != 0 && pes.len() >= 6 + n
    }
}

/// The body of a PSI section with `table_id` (after `section_length`, CRC excluded).
fn section(payload: &[u8], table_id: u8) -> Option<&[u8]> {
    let pointer = usize::from(*payload.first()?);
    let sec = payload.get(1 + pointer..)?;
    if *sec.first()? != table_id {
        return None;
    }
    let len = (usize::from(sec.get(1)? & 0x0F) << 8) | usize::from(*sec.get(2)?);
    // section_length counts the bytes after it, the 4-byte CRC included.
    sec.get(3..(3 + len).checked_sub(4)?)
}

fn parse_pts(b: &[u8]) -> u64 {
    (u64::from(b[0] >> 1 & 7) << 30)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] >> 1) << 15)
        | (u64::from(b[3]) << 7)
        | u64::from(b[4] >> 1)
}

/// The largest PES assembled (audio PES are a few KiB; a longer one is dropped as corrupt).
const MAX_PES_BYTES: usize = 1 << 20;

#[cfg(test)]
mod prop;
#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn packet(pid: u16, pusi: bool, cc: u8, payload: &[u8]) -> [u8; PACKET_LEN] {
        let mut p = [0xFFu8; PACKET_LEN];
        p[0] = SYNC;
        p[1] = (u8::from(pusi) << 6) | (pid >> 8) as u8;
        p[2] = pid as u8;
        let room = PACKET_LEN - 4;
        if payload.len() < room {
            // Stuff with an adaptation field.
            let af = room - payload.len();
            p[3] = 0x30 | cc;
            p[4] = (af - 1) as u8;
            if af > 1 {
                p[5] = 0;
            }
            p[4 + af..].copy_from_slice(payload);
        } else {
            p[3] = 0x10 | cc;
            p[4..].copy_from_slice(&payload[..room]);
        }
        p
    }

    pub(super) fn adts(payload_len: usize, fill: u8) -> Vec<u8> {
        let len = payload_len + 7;
        let mut f = vec![0xFF, 0xF1, 0x50 | (7 << 2), 0x80, 0, 0x1F, 0xFC];
        f[3] |= ((len >> 11) & 3) as u8;
        f[4] = ((len >> 3) & 0xFF) as u8;
        f[5] = (((len & 7) << 5) as u8) | 0x1F;
        f.extend(std::iter::repeat_n(fill, payload_len));
        f
    }

    pub(super) fn psi() -> Vec<[u8; PACKET_LEN]> {
        let pat = [
            0, 0x00, 0xB0, 13, 0, 1, 0xC1, 0, 0, 0, 1, 0xF0, 0x00, 0, 0, 0, 0,
        ];
        let pmt = [
            0, 0x02, 0xB0, 18, 0, 1, 0xC1, 0, 0, 0xE1, 0x00, 0xF0, 0, 0x0F, 0xE1, 0x00, 0xF0, 0, 0,
            0, 0, 0,
        ];
        vec![packet(0, true, 0, &pat), packet(0x1000, true, 0, &pmt)]
    }

    pub(super) fn pes(pts: u64, es: &[u8]) -> Vec<u8> {
        let mut h = vec![0, 0, 1, 0xC0, 0, 0, 0x80, 0x80, 5];
        let len = 3 + 5 + es.len();
        h[4] = (len >> 8) as u8;
        h[5] = len as u8;
        h.push((0x21 | ((pts >> 29) & 0x0E)) as u8);
        h.push((pts >> 22) as u8);
        h.push((((pts >> 14) & 0xFE) | 1) as u8);
        h.push((pts >> 7) as u8);
        h.push((((pts << 1) & 0xFE) | 1) as u8);
        h.extend_from_slice(es);
        h
    }

    #[test]
    fn frames_with_pts_across_packets_and_a_gap() {
        let mut d = Demuxer::default();
        for p in psi() {
            d.push_packet(&p);
        }
        assert_eq!(
            d.audio(),
            Some(AudioStream {
                pid: 0x100,
                stream_type: 0x0F
            })
        );
        // PES 1: two frames of 150 bytes spanning two packets.
        let mut es = adts(150, 1);
        es.extend(adts(150, 2));
        let body = pes(90_000, &es);
        d.push_packet(&packet(0x100, true, 0, &body[..184]));
        d.push_packet(&packet(0x100, false, 1, &body[184..]));
        let f1 = d.pop_frame().expect("first frame");
        assert_eq!(
            (f1.header.sample_rate, f1.header.channels, f1.pts),
            (22_050, 2, Some(90_000))
        );
        assert_eq!(f1.payload, vec![1; 150]);
        let f2 = d.pop_frame().expect("second frame");
        assert_eq!((f2.payload[0], f2.pts), (2, None));
        // PES 2 loses its second packet (cc 3 missing): its frame is dropped, PES 3 decodes.
        let body = pes(180_000, &adts(300, 3));
        d.push_packet(&packet(0x100, true, 2, &body[..184]));
        let body3 = pes(270_000, &adts(20, 4));
        d.push_packet(&packet(0x100, true, 4, &body3));
        assert_eq!(d.discontinuities, 1);
        let f3 = d.pop_frame().expect("frame after the gap");
        assert_eq!((f3.payload[0], f3.pts), (4, Some(270_000)));
        assert!(d.pop_frame().is_none());
        // A repeated packet is ignored.
        d.push_packet(&packet(0x100, true, 4, &body3));
        assert!(d.pop_frame().is_none());
    }
}
