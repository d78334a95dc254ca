//! Deterministic pseudo-random test payloads.

use bytes::Bytes;

/// `len` deterministic pseudo-random bytes: the same `(len, seed)` always
/// gives the same bytes, and a longer payload starts with the shorter one.
///
/// Generated eight bytes at a time from a seeded [`fastrand::Rng`], fast
/// enough for payloads of hundreds of MiB.
pub fn payload(len: usize, seed: u64) -> Bytes {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut buf = vec![0u8; len];
    let mut words = buf.chunks_exact_mut(8);
    for w in &mut words {
        w.copy_from_slice(&rng.u64(..).to_le_bytes());
    }
    let tail = words.into_remainder();
    if !tail.is_empty() {
        let last = rng.u64(..).to_le_bytes();
        tail.copy_from_slice(&last[..tail.len()]);
    }
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::payload;

    #[test]
    fn deterministic_and_prefix_stable() {
        let a = payload(1003, 7);
        assert_eq!(a, payload(1003, 7));
        assert_eq!(a.len(), 1003);
        assert_eq!(&payload(100, 7)[..], &a[..100]);
        assert_ne!(a, payload(1003, 8));
        assert!(payload(0, 1).is_empty());
    }
}
