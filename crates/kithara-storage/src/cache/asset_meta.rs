//! The facts an asset's index keeps besides its ranges: total length, validators, last
//! validation and last access; and discarding a changed version. Each change is written to the
//! index at once (see `Asset::update`).

use std::time::{Duration, SystemTime};

use super::asset::Asset;
use super::error::{io_err, CacheError, CacheResult};
use super::fsutil;
use super::index::{AssetIndex, Validators};
use crate::RangeSet;

impl Asset {
    /// Records the total length in bytes. A different length than the one
    /// known, or one that cuts off recorded bytes, is a
    /// [`CacheError::LengthConflict`]: the server's version changed, so
    /// [`Asset::discard`] first.
    pub fn set_len(&self, len: u64) -> CacheResult<()> {
        self.writable("set_len")?;
        self.update(|st| {
            if st.index.total_len == Some(len) {
                return Ok(false);
            }
            let present_end = st.index.present.max_end().max(st.pending.max_end());
            if st.index.total_len.is_some() || present_end > len {
                return Err(CacheError::LengthConflict {
                    id: self.id,
                    requested: len,
                    known: st.index.total_len,
                    present_end,
                });
            }
            st.index.total_len = Some(len);
            Ok(true)
        })
    }

    /// Stores the validators of the version being cached and marks it as
    /// validated now.
    pub fn set_validators(&self, validators: Validators) -> CacheResult<()> {
        self.writable("set_validators")?;
        self.update(|st| {
            st.index.validators = validators;
            st.index.validated_at = Some(SystemTime::now());
            Ok(true)
        })
    }

    /// Marks the cached version as confirmed by the server now (for
    /// example after a `304` or a matching `If-Range`).
    pub fn mark_validated(&self) -> CacheResult<()> {
        self.update(|st| {
            st.index.validated_at = Some(SystemTime::now());
            Ok(true)
        })
    }

    /// Drops all cached data: the server's version changed. The empty index
    /// is written before the data file is truncated, so a crash in between
    /// leaves an asset that claims nothing.
    pub fn discard(&self) -> CacheResult<()> {
        self.writable("discard")?;
        self.update_then(
            |st| {
                let label = std::mem::take(&mut st.index.label);
                st.index = AssetIndex::empty(self.id, label);
                st.pending = RangeSet::new();
                st.pending_bytes = 0;
                st.epoch += 1;
                Ok(true)
            },
            || {
                self.data
                    .set_len(0)
                    .map_err(io_err("truncate", &self.paths.data))?;
                fsutil::remove_if_exists(&self.paths.key).map(|_| ())
            },
        )
    }

    /// Marks the asset as used now, for LRU eviction (done on open).
    pub fn touch(&self) -> CacheResult<()> {
        self.update(|st| {
            let now = SystemTime::now();
            // Strictly later than before, so repeated touches keep their order.
            st.index.last_access = now.max(st.index.last_access + Duration::from_nanos(1));
            Ok(true)
        })
    }
}
