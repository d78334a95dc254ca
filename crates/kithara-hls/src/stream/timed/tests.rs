use super::*;

fn syncsafe(n: usize) -> [u8; 4] {
    let n = u32::try_from(n).unwrap_or(0);
    [
        (n >> 21) & 0x7F,
        (n >> 14) & 0x7F,
        (n >> 7) & 0x7F,
        n & 0x7F,
    ]
    .map(|b| b as u8)
}

fn tag(frames: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (id, data) in frames {
        body.extend_from_slice(*id);
        body.extend(syncsafe(data.len()));
        body.extend([0, 0]);
        body.extend(data);
    }
    let mut t = b"ID3\x04\x00\x00".to_vec();
    t.extend(syncsafe(body.len()));
    t.extend(body);
    t
}

fn priv_ts(pts: u64) -> Vec<u8> {
    let mut p = TS_OWNER.to_vec();
    p.push(0);
    p.extend(pts.to_be_bytes());
    p
}

fn utf8(s: &str) -> Vec<u8> {
    let mut v = vec![3];
    v.extend(s.as_bytes());
    v
}

#[test]
fn a_packed_audio_head_tag_gives_its_timestamp_and_title() {
    let t = tag(&[
        (b"PRIV", priv_ts(900_000)),
        (b"TIT2", utf8("Song")),
        (b"TPE1", vec![1, 0xFF, 0xFE, b'B', 0, b'a', 0]),
    ]);
    let id3 = parse_id3(&t).unwrap_or_default();
    assert_eq!(id3.pts, Some(900_000));
    let np = id3.now_playing.unwrap_or_default();
    assert_eq!(np.title.as_deref(), Some("Song"));
    assert_eq!(np.artist.as_deref(), Some("Ba"));
    assert_eq!(np.raw.len(), 3);
    // A timestamp alone changes nothing.
    let only = parse_id3(&tag(&[(b"PRIV", priv_ts(1))])).unwrap_or_default();
    assert_eq!((only.pts, only.now_playing), (Some(1), None));
    // Truncated or not a tag.
    assert!(parse_id3(&t[..t.len() - 1]).is_none());
    assert!(parse_id3(b"\xff\xf1 not a tag").is_none());
}

/// A TS packet of `pid` carrying `payload` (padded with an adaptation field).
fn packet(pid: u16, start: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x47, (pid >> 8) as u8 & 0x1F, pid as u8, 0x10];
    if start {
        p[1] |= 0x40;
    }
    let room = TS_PACKET - 4;
    if payload.len() < room {
        p[3] = 0x30;
        let fill = room - payload.len() - 1;
        p.push(u8::try_from(fill).unwrap_or(0));
        if fill > 0 {
            p.push(0);
            p.extend(std::iter::repeat_n(0xFF, fill - 1));
        }
    }
    p.extend(&payload[..payload.len().min(room)]);
    p
}

fn pes(stream_id: u8, pts: u64, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 0, 1, stream_id, 0, 0, 0x80, 0x80, 5];
    p.extend([
        0x21 | ((pts >> 29) & 0x0E) as u8,
        (pts >> 22) as u8,
        0x01 | ((pts >> 14) & 0xFE) as u8,
        (pts >> 7) as u8,
        0x01 | ((pts << 1) & 0xFE) as u8,
    ]);
    p.extend(body);
    p
}

/// A segment: PAT, PMT (audio on 0x100, ID3 on 0x102), audio at `audio_pts`, then the tags.
pub(crate) fn ts_segment(audio_pts: u64, tags: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let pat = [
        0u8, 0x00, 0xB0, 13, 0, 1, 0xC1, 0, 0, 0, 1, 0xF0, 0x00, 0, 0, 0, 0,
    ];
    let mut pmt = vec![0u8, 0x02, 0xB0, 0, 0, 1, 0xC1, 0, 0, 0xE1, 0x00, 0xF0, 0x00];
    pmt.extend([
        0x0F,
        0xE1,
        0x00,
        0xF0,
        0x00,
        STREAM_TYPE_ID3,
        0xE1,
        0x02,
        0xF0,
        0x00,
    ]);
    pmt.extend([0, 0, 0, 0]);
    let len = pmt.len() - 4;
    pmt[3] = u8::try_from(len).unwrap_or(0);
    let mut s = packet(0, true, &pat);
    s.extend(packet(0x1000, true, &pmt));
    s.extend(packet(
        0x100,
        true,
        &pes(0xC0, audio_pts, &[0xFF, 0xF1, 0, 0]),
    ));
    for (pts, t) in tags {
        let p = pes(0xBD, *pts, t);
        let mut chunks = p.chunks(TS_PACKET - 4);
        if let Some(first) = chunks.next() {
            s.extend(packet(0x102, true, first));
        }
        for c in chunks {
            s.extend(packet(0x102, false, c));
        }
    }
    s
}

#[test]
fn ts_timed_metadata_is_placed_by_its_pts() {
    let long = "x".repeat(300); // spans packets
    let tags = [
        (
            PTS_WRAP - 90_000 + 45_000,
            tag(&[(b"TIT2", utf8("half a second in"))]),
        ),
        (PTS_WRAP - 90_000 + 180_000, tag(&[(b"TIT2", utf8(&long))])),
        (PTS_WRAP - 90_000, tag(&[(b"PRIV", priv_ts(0))])),
    ];
    // Audio starts 1 s before the wrap: the PTS of the tags wrap.
    let seg = ts_segment(PTS_WRAP - 90_000, &tags);
    let got = ts_id3(&seg);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, Duration::from_millis(500));
    assert_eq!(got[0].1.title.as_deref(), Some("half a second in"));
    assert_eq!(got[1].0, Duration::from_secs(2));
    assert_eq!(got[1].1.title.as_deref(), Some(long.as_str()));
    assert!(ts_id3(&seg[..TS_PACKET * 2]).is_empty());
}
