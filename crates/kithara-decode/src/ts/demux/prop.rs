//! Properties of the TS demuxer over arbitrary packets: it never panics, every frame it yields is
//! a well-formed ADTS frame, its buffers stay bounded whatever arrives, and frames cut from a
//! valid stream come out the same however the PES are split over packets.

use proptest::prelude::*;

use super::{
    tests::{adts, packet, pes, psi},
    Demuxer, MAX_PES_BYTES, PACKET_LEN, SYNC,
};
use crate::ts::adts::AdtsHeader;

/// A packet: on the PAT, the PMT, the audio PID or another one, with random flags and bytes.
fn any_packet() -> impl Strategy<Value = [u8; PACKET_LEN]> {
    (
        prop_oneof![Just(0u16), Just(0x1000), Just(0x100), 0u16..0x2000],
        any::<bool>(),
        0u8..16,
        0u8..4,
        prop::collection::vec(any::<u8>(), PACKET_LEN - 4),
    )
        .prop_map(|(pid, pusi, cc, afc, body)| {
            let mut p = [0u8; PACKET_LEN];
            p[0] = SYNC;
            p[1] = (u8::from(pusi) << 6) | (pid >> 8) as u8;
            p[2] = pid as u8;
            p[3] = (afc << 4) | cc;
            p[4..].copy_from_slice(&body);
            p
        })
}

fn drain(d: &mut Demuxer) -> usize {
    let mut n = 0;
    while let Some(f) = d.pop_frame() {
        assert_eq!(f.payload.len() + f.header.header_len, f.header.frame_len);
        n += 1;
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_packets_never_panic_and_buffers_stay_bounded(
        packets in prop::collection::vec(any_packet(), 0..300)
    ) {
        let mut d = Demuxer::default();
        for p in psi() {
            d.push_packet(&p);
        }
        for p in &packets {
            d.push_packet(p);
            drain(&mut d);
            prop_assert!(d.pes.as_ref().map_or(0, Vec::len) <= MAX_PES_BYTES);
            // At most one ADTS frame (13-bit length) waits for its end.
            prop_assert!(d.es.len() < 8192);
            prop_assert!(d.pts_marks.len() <= 2 + d.es.len() / 7);
        }
        d.finish();
        drain(&mut d);
    }

    #[test]
    fn adts_headers_parse_or_not_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..16)) {
        if let Some(h) = AdtsHeader::parse(&bytes) {
            prop_assert!(h.frame_len > h.header_len);
            prop_assert!(h.sample_rate > 0);
        }
    }

    #[test]
    fn frames_come_out_the_same_however_the_pes_are_split(
        sizes in prop::collection::vec(1usize..600, 1..12),
        cut in 1usize..184,
    ) {
        // One PES of ADTS frames, cut into packets at `cut`-byte payloads (stuffed with an
        // adaptation field), then the same PES in whole 184-byte payloads.
        let mut es = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            es.extend(adts(*n, i as u8));
        }
        let body = pes(90_000, &es);
        let mut frames = Vec::new();
        for chunk in [cut, 184] {
            let mut d = Demuxer::default();
            for p in psi() {
                d.push_packet(&p);
            }
            for (i, part) in body.chunks(chunk).enumerate() {
                d.push_packet(&packet(0x100, i == 0, (i % 16) as u8, part));
            }
            d.finish();
            let mut got = Vec::new();
            while let Some(f) = d.pop_frame() {
                got.push(f.payload);
            }
            frames.push(got);
        }
        prop_assert_eq!(frames[0].len(), sizes.len());
        prop_assert_eq!(&frames[0], &frames[1]);
    }
}

#[test]
fn a_pes_that_never_ends_is_dropped_at_the_bound() {
    let mut d = Demuxer::default();
    for p in psi() {
        d.push_packet(&p);
    }
    // An unbounded PES (length 0) whose packets carry no ADTS sync, for 2 MiB.
    let mut head = vec![0, 0, 1, 0xC0, 0, 0, 0x80, 0, 0];
    head.resize(184, 0x11);
    d.push_packet(&packet(0x100, true, 0, &head));
    for i in 1..(2 << 20) / 184 {
        d.push_packet(&packet(0x100, false, (i % 16) as u8, &[0x11; 184]));
        assert!(d.pes.as_ref().map_or(0, Vec::len) <= MAX_PES_BYTES);
    }
    assert!(d.pes.is_none(), "dropped, not kept growing");
}
