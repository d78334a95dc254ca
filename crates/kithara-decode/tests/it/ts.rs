//! AAC in MPEG-TS: a lost packet (continuity gap) costs the frames of its PES, and the PTS keep the
//! audio after the loss in its place in time.

use kithara_test_support::{media, Route};

use crate::common::{decode_all, Env};

#[test]
fn a_lost_packet_drops_its_pes_and_the_timeline_stays_in_place() {
    let env = Env::new();
    let ts = media::get("chirp.ts").unwrap().bytes;
    let packets: Vec<&[u8]> = ts.chunks(188).collect();
    // The audio PID is the one of the middle packet; drop one of its packets that does not start a PES.
    let pid = |p: &[u8]| (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]);
    let audio = pid(packets[packets.len() / 2]);
    let lost = (packets.len() / 2..packets.len())
        .find(|&i| pid(packets[i]) == audio && packets[i][1] & 0x40 == 0)
        .unwrap();
    let damaged: Vec<u8> = packets
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != lost)
        .flat_map(|(_, p)| p.iter().copied())
        .collect();
    env.server
        .route("/lost.ts", Route::new(damaged).content_type("video/mp2t"));

    let (whole, err) = decode_all(&mut env.remote("chirp.ts"));
    assert!(err.is_none());
    let mut d = env.remote_path("/lost.ts").unwrap();
    let mut chunks = Vec::new();
    while let Some(c) = d.next_chunk().unwrap() {
        chunks.push(c);
    }
    let frames: usize = chunks.iter().map(|c| c.frames()).sum();
    let lost_frames = whole.len() / 2 - frames;
    assert!(
        lost_frames > 0 && lost_frames % 1024 == 0,
        "lost {lost_frames} frames"
    );
    // One jump in time, as long as the frames lost; everything else contiguous.
    let frame_at =
        |t: std::time::Duration| ((t.as_nanos() * 22_050 + 500_000_000) / 1_000_000_000) as usize;
    let jumps: Vec<usize> = chunks
        .windows(2)
        .map(|w| frame_at(w[1].time) - (frame_at(w[0].time) + w[0].frames()))
        .filter(|&gap| gap != 0)
        .collect();
    assert_eq!(jumps, vec![lost_frames]);
    // After the first frame following the loss (whose overlap partner is gone), the samples are
    // the undamaged file's at the same times.
    let last = chunks.last().unwrap();
    let at = frame_at(last.time);
    assert_eq!(
        &whole[at * 2..at * 2 + last.samples.len()],
        &last.samples[..]
    );
}

/// The HLS TS segments of a variant, back to back, decode like the single-file form of the same
/// variant: nothing lost or doubled at the segment boundaries.
#[test]
fn concatenated_hls_segments_decode_like_the_single_file() {
    let env = Env::new();
    let segments: Vec<u8> = kithara_test_support::media::FILES
        .iter()
        .filter(|f| f.name.starts_with("hls/ts/v0-") && f.name.ends_with(".ts"))
        .flat_map(|f| f.bytes.iter().copied())
        .collect();
    env.server
        .route("/v0.ts", Route::new(segments).content_type("video/mp2t"));
    let (joined, err) = decode_all(&mut env.remote_path("/v0.ts").unwrap());
    assert!(err.is_none(), "{err:?}");
    let (single, err) = decode_all(&mut env.remote("hls/byterange/v0.ts"));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(joined.len(), single.len());
    assert!(joined == single);
}
