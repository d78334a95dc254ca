//! ICY metadata: the block stripper fed an arbitrary body cut into arbitrary chunks gives the same
//! audio bytes and the same blocks (at the same audio positions) as a plain de-interleaving of the
//! whole body; the block parser never panics, and reads back a title it was given.
//!
//! Input: two bytes of `icy-metaint` (1..=300), one byte `k` (0..=15), `k` chunk sizes (0..=255,
//! used in turn; 0 feeds an empty chunk), then the body as the server sent it.
#![no_main]

use kithara_file::fuzz_api::{parse_block, Stripper};
use libfuzzer_sys::fuzz_target;

/// The body de-interleaved in one go: the audio bytes, and each complete non-empty block with the
/// number of audio bytes before it.
fn reference(wire: &[u8], metaint: usize) -> (Vec<u8>, Vec<(usize, Vec<u8>)>) {
    let (mut audio, mut blocks, mut i) = (Vec::new(), Vec::new(), 0);
    loop {
        let k = metaint.min(wire.len() - i);
        audio.extend_from_slice(&wire[i..i + k]);
        i += k;
        if i >= wire.len() {
            return (audio, blocks);
        }
        let n = usize::from(wire[i]) * 16;
        i += 1;
        if i + n > wire.len() {
            return (audio, blocks); // a block cut short: never complete, never reported
        }
        if n > 0 {
            blocks.push((audio.len(), wire[i..i + n].to_vec()));
        }
        i += n;
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let metaint = 1 + usize::from(u16::from_le_bytes([data[0], data[1]])) % 300;
    let k = usize::from(data[2] % 16);
    let Some(sizes) = data.get(3..3 + k) else {
        return;
    };
    let wire = &data[3 + k..];

    let mut stripper = Stripper::new(metaint).expect("metaint > 0");
    let (mut audio, mut blocks) = (Vec::new(), Vec::new());
    // A size of 0 feeds an empty chunk; sizes that are all 0 make no progress: one chunk then.
    let progress = sizes.iter().any(|&s| s > 0);
    let mut rest = wire;
    let mut turn = 0;
    while !rest.is_empty() {
        let size = match sizes.get(turn % k.max(1)) {
            Some(&s) if progress => usize::from(s),
            _ => rest.len(),
        };
        turn += 1;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        let (a, b) = stripper.feed(chunk);
        for (at, block) in b {
            assert!(at <= a.len(), "a block placed past its chunk's audio");
            blocks.push((audio.len() + at, block));
        }
        audio.extend_from_slice(&a);
    }
    let (want_audio, want_blocks) = reference(wire, metaint);
    assert_eq!(audio, want_audio, "audio differs (metaint {metaint}, sizes {sizes:?})");
    assert_eq!(blocks, want_blocks, "blocks differ (metaint {metaint}, sizes {sizes:?})");

    // The parser takes any block, and any remainder of the body as one.
    for (_, block) in &blocks {
        let _ = parse_block(block);
    }
    let _ = parse_block(wire);

    // A title without quotes, NULs or edge spaces comes back as written.
    if let Ok(title) = std::str::from_utf8(wire) {
        let title = title.trim();
        if !title.is_empty() && !title.contains(['\'', '\0']) {
            let mut block = format!("StreamTitle='{title}';").into_bytes();
            block.resize(block.len().div_ceil(16) * 16, 0);
            let got = parse_block(&block).and_then(|np| np.title);
            assert_eq!(got.as_deref(), Some(title), "title lost: {block:?}");
        }
    }
});
