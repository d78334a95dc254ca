//! Disk backend: a sparse file written in place at byte offsets.
//!
//! Bytes are written at their stream offset, so a stream of any size costs
//! no memory and the file only grows where bytes were written (regions never
//! written are holes on filesystems that support sparse files). On unix,
//! positional I/O (`std::os::unix::fs::FileExt::{read_exact_at,
//! write_all_at}`) lets readers and the writer use the file concurrently;
//! elsewhere `seek` + `read`/`write` run under a mutex.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The `path` reported in errors of an anonymous temp file.
const ANONYMOUS: &str = "<anonymous temp file>";

/// A file holding the resource's bytes at their offsets.
#[derive(Debug)]
pub(crate) struct FileBackend {
    #[cfg(unix)]
    file: File,
    #[cfg(not(unix))]
    file: std::sync::Mutex<File>,
    /// Path for error reports.
    path: PathBuf,
}

impl FileBackend {
    /// Creates (or truncates) the file at `path`.
    pub(crate) fn create(path: PathBuf) -> Result<Self> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|source| io_error("create", &path, 0, source))?;
        Ok(Self::from_file(file, path))
    }

    /// Creates an anonymous temp file, deleted when dropped.
    pub(crate) fn temp() -> Result<Self> {
        let file = tempfile::tempfile()
            .map_err(|source| io_error("create", Path::new(ANONYMOUS), 0, source))?;
        Ok(Self::from_file(file, PathBuf::from(ANONYMOUS)))
    }

    pub(crate) fn from_file(file: File, path: PathBuf) -> Self {
        Self {
            #[cfg(unix)]
            file,
            #[cfg(not(unix))]
            file: std::sync::Mutex::new(file),
            path,
        }
    }

    /// Writes all of `data` at `offset`.
    pub(crate) fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.write_impl(offset, data)
            .map_err(|source| io_error("write", &self.path, offset, source))
    }

    /// Grows the file to `len` bytes (a hole where nothing was written) if it is shorter.
    pub(crate) fn grow_to(&self, len: u64) -> Result<()> {
        self.grow_impl(len)
            .map_err(|source| io_error("set_len", &self.path, len, source))
    }

    #[cfg(unix)]
    fn grow_impl(&self, len: u64) -> std::io::Result<()> {
        if self.file.metadata()?.len() < len {
            self.file.set_len(len)?;
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn grow_impl(&self, len: u64) -> std::io::Result<()> {
        let file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if file.metadata()?.len() < len {
            file.set_len(len)?;
        }
        Ok(())
    }

    /// Fills `buf` from `offset`.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.read_impl(offset, buf)
            .map_err(|source| io_error("read", &self.path, offset, source))
    }

    #[cfg(unix)]
    fn write_impl(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(data, offset)
    }

    #[cfg(unix)]
    fn read_impl(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.read_exact_at(buf, offset)
    }

    #[cfg(not(unix))]
    fn write_impl(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(data)
    }

    #[cfg(not(unix))]
    fn read_impl(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
}

fn io_error(op: &'static str, path: &Path, offset: u64, source: std::io::Error) -> Error {
    Error::Io {
        op,
        path: path.to_path_buf(),
        offset,
        source,
    }
}
