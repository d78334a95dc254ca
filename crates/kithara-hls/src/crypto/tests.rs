use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use proptest::prelude::*;

use super::*;
use crate::keys::SegmentKey;

const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const IV: [u8; 16] = [
    0xf0, 0xe0, 0xd0, 0xc0, 0xb0, 0xa0, 0x90, 0x80, 0x70, 0x60, 0x50, 0x40, 0x30, 0x20, 0x10, 0x00,
];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn p50() -> Vec<u8> {
    (0..50u32).map(|i| ((i * 7 + 3) % 256) as u8).collect()
}

// Vectors made with `openssl enc -aes-128-cbc -K 000102…0f -iv f0e0…00` (PKCS7 padding).
const C50: &str = "2b021cf120e4270324eaa47713c4fcb0a108aeb39fe4be30db759053917f3120\
                   a391279c7f3d41d4c699a064ea83047b5ca5556bbc305d33c8e02514101b2a88";
const C32: &str = "5580eaf48c486370ed5481c9d9b7afaba57fe0be55cad6c53b85b2498c7a72e1\
                   f0b3ce14a794afe5abd3c2e51ce119ff";
const C0: &str = "6431995611c0a30f53df1710cfc3eb76";
// The 50-byte plaintext with the IV of media sequence 7 (`-iv 000…07`).
const C50_SEQ7: &str = "ef7990f2bd2cb49cf582e5d8494624adf12d5d0a519aa971e96bcd62ff5b0068\
                        e0c3e48c33a50d0014832d68475e62a83f0d4e2df22b5b9caf1e66d9da3a9f4f";

fn encrypt(key: &[u8; 16], iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 16, 0);
    let n = cbc::Encryptor::<aes::Aes128>::new(key.into(), iv.into())
        .encrypt_padded_mut::<Pkcs7>(&mut buf, plain.len())
        .unwrap()
        .len();
    buf.truncate(n);
    buf
}

#[test]
fn openssl_vectors() {
    assert_eq!(decrypt(&KEY, &IV, &hex(C50)).unwrap(), p50());
    assert_eq!(
        decrypt(&KEY, &IV, &hex(C32)).unwrap(),
        (0..32u8).collect::<Vec<_>>()
    );
    assert_eq!(decrypt(&KEY, &IV, &hex(C0)).unwrap(), Vec::<u8>::new());
    // Our test encryptor agrees with openssl.
    assert_eq!(encrypt(&KEY, &IV, &p50()), hex(C50));
}

#[test]
fn iv_from_media_sequence() {
    let key = SegmentKey::new(url::Url::parse("http://h/k").unwrap(), None);
    let iv = key.iv_for(7);
    assert_eq!(iv[..15], [0u8; 15]);
    assert_eq!(iv[15], 7);
    assert_eq!(decrypt(&KEY, &iv, &hex(C50_SEQ7)).unwrap(), p50());
    let explicit = SegmentKey::new(url::Url::parse("http://h/k").unwrap(), Some(IV));
    assert_eq!(explicit.iv_for(7), IV);
}

#[test]
fn holds_back_last_block_until_finish() {
    let c = hex(C50);
    let mut d = Aes128CbcDecryptor::new(&KEY, &IV);
    let mut out = Vec::new();
    d.update(&c[..16], &mut out);
    assert!(out.is_empty(), "the only whole block may carry padding");
    d.update(&c[16..33], &mut out);
    assert_eq!(
        out,
        p50()[..32],
        "a byte past a block proves it is not the last"
    );
    d.update(&c[33..], &mut out);
    assert_eq!(out, p50()[..48]);
    d.finish(&mut out).unwrap();
    assert_eq!(out, p50());
}

#[test]
fn truncated_and_empty_ciphertext() {
    let c = hex(C50);
    assert!(matches!(
        decrypt(&KEY, &IV, &c[..40]),
        Err(Error::TruncatedCiphertext { len: 40 })
    ));
    assert!(matches!(
        decrypt(&KEY, &IV, &[]),
        Err(Error::TruncatedCiphertext { len: 0 })
    ));
}

#[test]
fn wrong_key_is_bad_padding() {
    let mut wrong = KEY;
    wrong[0] ^= 1;
    // A wrong key yields random last-block bytes; this key's happen to be invalid padding.
    assert!(matches!(
        decrypt(&wrong, &IV, &hex(C50)),
        Err(Error::BadPadding)
    ));
    // Padding bytes that disagree: last byte 2, the one before 3.
    let mut plain = [0u8; 16];
    plain[14] = 3;
    plain[15] = 2;
    let mut one = Aes128CbcDecryptor::new(&KEY, &IV);
    let mut raw = encrypt(&KEY, &IV, &plain);
    raw.truncate(16); // drop openssl's full padding block: the last block is `plain` itself
    let mut out = Vec::new();
    one.update(&raw, &mut out);
    assert!(matches!(one.finish(&mut out), Err(Error::BadPadding)));
    // A zero padding byte is invalid too.
    let mut zero = Aes128CbcDecryptor::new(&KEY, &IV);
    let mut raw = encrypt(&KEY, &IV, &[0u8; 16]);
    raw.truncate(16);
    zero.update(&raw, &mut out);
    assert!(matches!(zero.finish(&mut out), Err(Error::BadPadding)));
}

proptest! {
    #[test]
    fn any_chunking_gives_the_plaintext(
        plain in proptest::collection::vec(any::<u8>(), 0..600),
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        cuts in proptest::collection::vec(0usize..700, 0..12),
    ) {
        let cipher = encrypt(&key, &iv, &plain);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (cipher.len() + 1)).collect();
        cuts.push(0);
        cuts.push(cipher.len());
        cuts.sort_unstable();
        let mut d = Aes128CbcDecryptor::new(&key, &iv);
        let mut out = Vec::new();
        for w in cuts.windows(2) {
            d.update(&cipher[w[0]..w[1]], &mut out);
            // Never more plaintext than the ciphertext seen, minus the held-back block.
            prop_assert!(out.len() <= w[1].saturating_sub(1) / 16 * 16);
        }
        d.finish(&mut out).unwrap();
        prop_assert_eq!(out, plain);
    }
}
