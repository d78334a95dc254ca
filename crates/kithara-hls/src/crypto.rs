//! Streaming AES-128-CBC decryption with PKCS7 padding, for `METHOD=AES-128` segments.
//!
//! Segment bodies arrive in chunks of any size. [`Aes128CbcDecryptor::update`] decrypts every whole
//! block it can and carries the rest (a partial block, and always the last whole block, which may
//! hold the padding) to the next call; [`Aes128CbcDecryptor::finish`] decrypts the final block,
//! checks and strips its padding. The plaintext length is thus known only on completion.

use aes::cipher::{generic_array::GenericArray, BlockDecryptMut, KeyIvInit};

use crate::error::{Error, Result};
use crate::keys::KEY_LEN;

const BLOCK: usize = 16;

type Cbc = cbc::Decryptor<aes::Aes128>;

/// Decrypts one AES-128-CBC segment fed in chunks of any size.
pub struct Aes128CbcDecryptor {
    cipher: Cbc,
    /// Ciphertext not yet decrypted: at most one block, and a whole block once anything was fed
    /// whose length is a multiple of 16.
    pending: Vec<u8>,
    /// Ciphertext bytes fed so far.
    fed: u64,
}

impl std::fmt::Debug for Aes128CbcDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No key material, no cipher state.
        f.debug_struct("Aes128CbcDecryptor")
            .field("pending", &self.pending.len())
            .field("fed", &self.fed)
            .finish_non_exhaustive()
    }
}

impl Aes128CbcDecryptor {
    /// A decryptor for one segment.
    pub fn new(key: &[u8; KEY_LEN], iv: &[u8; KEY_LEN]) -> Self {
        Self {
            cipher: Cbc::new(key.into(), iv.into()),
            pending: Vec::with_capacity(BLOCK),
            fed: 0,
        }
    }

    /// Feeds `input` (ciphertext) and appends the plaintext that is now certain to `out`.
    ///
    /// The last whole block is held back until [`finish`](Self::finish), since it carries the
    /// padding.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.fed += input.len() as u64;
        let total = self.pending.len() + input.len();
        // Keep a partial block, or the last whole block.
        let keep = match total % BLOCK {
            0 => total.min(BLOCK),
            r => r,
        };
        let ready = total - keep;
        if ready == 0 {
            self.pending.extend_from_slice(input);
            return;
        }
        let at = out.len();
        out.extend_from_slice(&self.pending);
        out.extend_from_slice(input);
        self.decrypt_in_place(&mut out[at..at + ready]);
        self.pending.clear();
        self.pending.extend_from_slice(&out[at + ready..]);
        out.truncate(at + ready);
    }

    /// Ends the segment: decrypts the last block, checks its PKCS7 padding and appends the
    /// plaintext without the padding to `out`.
    ///
    /// Fails with [`Error::TruncatedCiphertext`] when the ciphertext is empty or not a whole
    /// number of blocks, and with [`Error::BadPadding`] when the padding is invalid (typically a
    /// wrong key or IV); nothing is appended then.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        if self.pending.len() != BLOCK {
            return Err(Error::TruncatedCiphertext { len: self.fed });
        }
        let mut last = [0u8; BLOCK];
        last.copy_from_slice(&self.pending);
        self.decrypt_in_place(&mut last);
        let pad = usize::from(last[BLOCK - 1]);
        if pad == 0 || pad > BLOCK || last[BLOCK - pad..].iter().any(|&b| usize::from(b) != pad) {
            return Err(Error::BadPadding);
        }
        out.extend_from_slice(&last[..BLOCK - pad]);
        Ok(())
    }

    /// Decrypts whole blocks in place; `data.len()` is a multiple of 16.
    fn decrypt_in_place(&mut self, data: &mut [u8]) {
        for block in data.chunks_exact_mut(BLOCK) {
            self.cipher
                .decrypt_block_mut(GenericArray::from_mut_slice(block));
        }
    }
}

/// Decrypts a whole segment at once (tests, small bodies).
pub fn decrypt(key: &[u8; KEY_LEN], iv: &[u8; KEY_LEN], ciphertext: &[u8]) -> Result<Vec<u8>> {
    let mut d = Aes128CbcDecryptor::new(key, iv);
    let mut out = Vec::with_capacity(ciphertext.len());
    d.update(ciphertext, &mut out);
    d.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
