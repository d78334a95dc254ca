//! [`StorageResource::export_to`]: a complete resource written out as an ordinary file.

use std::{fs, io::Write, path::Path};

use crate::{Error, Result, StorageResource};

/// Size of the buffer the generic copy reads into.
const EXPORT_BUF: usize = 1 << 20;

impl StorageResource {
    /// Writes every byte of this complete resource to a new file at `dest` (created, or
    /// truncated if it exists) and returns its length. A cache-backed resource is copied from
    /// its asset's data file by the operating system (`std::fs::copy`: an in-kernel copy or a
    /// reflink where the file system has them); any other backend through
    /// [`read_at`](Self::read_at). The resource itself is left as it was: a cached asset stays
    /// in the cache. `dest` is synced before this returns, so a rename of it afterwards
    /// publishes whole bytes.
    ///
    /// # Errors
    /// [`Error::Incomplete`] if the length is unknown or a byte is missing (nothing is written);
    /// [`Error::Io`] if reading the data file or writing `dest` fails.
    pub fn export_to(&self, dest: &Path) -> Result<u64> {
        let len = match self.len() {
            Some(len) if self.is_complete() => len,
            len => {
                return Err(Error::Incomplete {
                    present: self.covered(),
                    len,
                })
            }
        };
        let io = |op: &'static str, offset: u64| {
            move |source| Error::Io {
                op,
                path: dest.to_path_buf(),
                offset,
                source,
            }
        };
        let file = match self.asset() {
            Some(asset) => {
                fs::copy(asset.data_path(), dest).map_err(|source| Error::Io {
                    op: "copy",
                    path: asset.data_path().to_path_buf(),
                    offset: 0,
                    source,
                })?;
                let file = fs::OpenOptions::new()
                    .write(true)
                    .open(dest)
                    .map_err(io("open", 0))?;
                // The data file may be longer than the resource (sized before a shorter end was
                // learnt): the export is exactly `len` bytes.
                file.set_len(len).map_err(io("truncate", len))?;
                file
            }
            None => self.copy_out(dest, len)?,
        };
        file.sync_all().map_err(io("sync", len))?;
        Ok(len)
    }

    /// Writes bytes `0..len` (all present) to a new file at `dest` through `read_at`.
    fn copy_out(&self, dest: &Path, len: u64) -> Result<fs::File> {
        let io = |op: &'static str, offset: u64| {
            move |source| Error::Io {
                op,
                path: dest.to_path_buf(),
                offset,
                source,
            }
        };
        let mut file = fs::File::create(dest).map_err(io("create", 0))?;
        let mut buf = vec![0u8; EXPORT_BUF];
        let mut at = 0u64;
        while at < len {
            let n = self.read_at(at, &mut buf)?;
            if n == 0 {
                return Err(Error::Incomplete {
                    present: at,
                    len: Some(len),
                });
            }
            file.write_all(&buf[..n]).map_err(io("write", at))?;
            at = at.saturating_add(n as u64);
        }
        Ok(file)
    }
}
