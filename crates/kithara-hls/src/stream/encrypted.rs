//! [`Encrypted`]: an AES-128 segment decrypted in its writer as its bytes arrive.
//!
//! Ciphertext that arrives before the key (fetched alongside the segment, not before it) is held
//! back; from the moment the key is known, every chunk is decrypted as it arrives, partial blocks
//! carried across chunks, and the plaintext written to the segment's storage. The padding is
//! stripped when the last byte is in, which is also when the segment's exact length is known.
//! With a persistent cache the ciphertext itself is also written, as it arrives, to the segment's
//! cached asset (see `segment_cache`).

use kithara_storage::StorageResource;
use kithara_stream::Error;
use url::Url;

use crate::{crypto::Aes128CbcDecryptor, keys::KEY_LEN, playlist::SegmentId};

/// One encrypted segment in flight.
pub(super) struct Encrypted {
    pub(super) key_uri: Url,
    iv: [u8; KEY_LEN],
    res: StorageResource,
    /// Where the ciphertext is kept in the persistent cache, with the segment's identity.
    pub(super) cipher: Option<(SegmentId, StorageResource)>,
    /// Ciphertext received before the key was known.
    backlog: Vec<u8>,
    decryptor: Option<Aes128CbcDecryptor>,
    /// Plaintext bytes written to storage so far.
    written: u64,
    /// Whether the last ciphertext byte arrived.
    pub(super) complete: bool,
}

impl Encrypted {
    pub(super) fn new(
        key_uri: Url,
        iv: [u8; KEY_LEN],
        res: StorageResource,
        cipher: Option<(SegmentId, StorageResource)>,
    ) -> Self {
        Self {
            key_uri,
            iv,
            res,
            cipher,
            backlog: Vec::new(),
            decryptor: None,
            written: 0,
            complete: false,
        }
    }

    fn write(&mut self, plain: &[u8]) -> Result<(), Error> {
        if !plain.is_empty() {
            self.res.write_at(self.written, plain)?;
            self.written += plain.len() as u64;
        }
        Ok(())
    }

    /// Takes a chunk of ciphertext: decrypted into storage once `key` is known, held back before.
    pub(super) fn feed(&mut self, key: Option<&[u8; KEY_LEN]>, data: &[u8]) -> Result<(), Error> {
        if self.decryptor.is_none() {
            if let Some(k) = key {
                let mut d = Aes128CbcDecryptor::new(k, &self.iv);
                let backlog = std::mem::take(&mut self.backlog);
                let mut out = Vec::with_capacity(backlog.len());
                d.update(&backlog, &mut out);
                self.decryptor = Some(d);
                self.write(&out)?;
            }
        }
        match self.decryptor.as_mut() {
            Some(d) => {
                let mut out = Vec::with_capacity(data.len());
                d.update(data, &mut out);
                self.write(&out)
            }
            None => {
                self.backlog.extend_from_slice(data);
                Ok(())
            }
        }
    }

    /// Strips the padding once every byte and the key are in; returns the plaintext length.
    pub(super) fn finish(mut self, key: &[u8; KEY_LEN]) -> Result<u64, Error> {
        self.feed(Some(key), &[])?;
        let mut out = Vec::new();
        if let Some(d) = self.decryptor.take() {
            d.finish(&mut out).map_err(Error::protocol)?;
        }
        self.write(&out)?;
        Ok(self.written)
    }
}
