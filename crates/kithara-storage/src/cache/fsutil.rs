//! File-system helpers of the cache: owner-only directories and files,
//! atomic replacement (temp file, sync, rename, directory sync), advisory
//! locks and sizes on disk.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use fs4::{FileExt, TryLockError};

use super::error::{io_err, CacheResult};

/// Creates `dir` (and missing parents) with owner-only permissions (0700 on
/// unix). An existing directory is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> CacheResult<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(io_err("create dir", dir))
}

/// Open options for a file only the owner may read (0600 on unix).
pub(crate) fn private_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// Reads a whole small file; `Ok(None)` if it does not exist. Files larger
/// than `limit` bytes are read up to `limit + 1` bytes (so they decode as
/// garbage instead of exhausting memory).
pub(crate) fn read_small(path: &Path, limit: u64) -> CacheResult<Option<Vec<u8>>> {
    match File::open(path) {
        Ok(f) => {
            let mut buf = Vec::new();
            f.take(limit + 1)
                .read_to_end(&mut buf)
                .map_err(io_err("read", path))?;
            Ok(Some(buf))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("open", path)(e)),
    }
}

/// A temp-file name beside `path`, unique within this process and across
/// processes (pid), so concurrent writers never share one.
fn temp_beside(path: &Path) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    path.with_file_name(name)
}

/// Replaces `path` with `bytes` atomically and durably: the bytes go to a
/// owner-only temp file which is synced, renamed over `path`, and then the
/// directory is synced so the rename itself survives a crash. A reader sees
/// either the old or the new content, never a mix.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> CacheResult<()> {
    let tmp = temp_beside(path);
    let result = (|| {
        let mut f = private_options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_data().map_err(io_err("sync", &tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err("rename", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_parent(path)
}

/// Syncs the directory holding `path`, making a rename or unlink in it
/// durable. A no-op where directories cannot be opened (Windows).
pub(crate) fn sync_parent(path: &Path) -> CacheResult<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        // A bare file name's parent is the empty path: the current directory.
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync dir", dir))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Removes a file; a missing file is not an error.
pub(crate) fn remove_if_exists(path: &Path) -> CacheResult<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}

/// Bytes a file occupies on disk: allocated blocks on unix (sparse data
/// files count only what was written), the logical length elsewhere.
pub(crate) fn size_on_disk(meta: &fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        std::os::unix::fs::MetadataExt::blocks(meta).saturating_mul(512)
    }
    #[cfg(not(unix))]
    {
        meta.len()
    }
}

/// Outcome of a non-blocking lock attempt.
pub(crate) enum Locked {
    /// The lock is held through the file handle.
    Yes,
    /// Another handle holds a conflicting lock.
    Contended,
}

/// Tries to lock `file` (exclusive or shared) without blocking.
pub(crate) fn try_lock(file: &File, exclusive: bool, path: &Path) -> CacheResult<Locked> {
    let r = if exclusive {
        FileExt::try_lock(file)
    } else {
        FileExt::try_lock_shared(file)
    };
    match r {
        Ok(()) => Ok(Locked::Yes),
        Err(TryLockError::WouldBlock) => Ok(Locked::Contended),
        Err(TryLockError::Error(e)) => Err(io_err("lock", path)(e)),
    }
}

/// The exclusive lock on the cache directory's `lock` file. It serialises
/// the structural operations of all processes on one cache directory:
/// opening (creating) an asset, pinning it, and deleting it. It is held for
/// a few system calls at a time, never while data is transferred. Dropping
/// it releases the lock.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Blocks until the lock is ours. Each call opens its own handle, so
    /// two threads (or two stores) of one process exclude each other too.
    pub(crate) fn acquire(path: &Path) -> CacheResult<Self> {
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err("open lock", path))?;
        FileExt::lock(&file).map_err(io_err("lock", path))?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.idx");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two!").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two!");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(read_small(&p, 2).unwrap().unwrap(), b"two");
        assert!(read_small(&dir.path().join("none"), 9).unwrap().is_none());
        assert!(remove_if_exists(&p).unwrap());
        assert!(!remove_if_exists(&p).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn private_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        create_private_dir(&d).unwrap();
        let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let f = d.join("k");
        write_atomic(&f, b"secret").unwrap();
        let mode = fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn locks_exclude_between_handles() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let open = || {
            private_options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&p)
                .unwrap()
        };
        let (a, b) = (open(), open());
        assert!(matches!(try_lock(&a, false, &p).unwrap(), Locked::Yes));
        assert!(matches!(try_lock(&b, false, &p).unwrap(), Locked::Yes));
        let c = open();
        assert!(matches!(try_lock(&c, true, &p).unwrap(), Locked::Contended));
        drop((a, b));
        assert!(matches!(try_lock(&c, true, &p).unwrap(), Locked::Yes));
        assert!(matches!(
            try_lock(&open(), false, &p).unwrap(),
            Locked::Contended
        ));
    }
}
