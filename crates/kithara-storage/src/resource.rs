//! [`StorageResource`]: where the async download side and the synchronous
//! reader side meet.
//!
//! Writes copy bytes into the backend *before* taking the state lock, and
//! reads take the state lock only to find how many committed bytes follow
//! the offset, then copy outside it. This is sound because committed bytes
//! never change: writes are serialised by a separate write lock and only
//! ever fill bytes that are not yet committed, while reads only touch bytes
//! that are.

use std::fmt;

use bytes::Bytes;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::cached::CacheBackend;
use crate::file::FileBackend;
use crate::mem::MemBackend;
use crate::ring::RingBackend;
use crate::wait::StateCell;
use crate::{Error, RangeSet, Result, SharedError, Validator, WaitOutcome};

/// Which kind of backend stores a resource's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// Bytes live in memory, as the written chunks themselves.
    Memory,
    /// Bytes live in a sparse file, written in place at their offsets.
    Disk,
    /// At most a fixed number of bytes live in memory; older ones are dropped once read.
    Ring,
}

#[derive(Debug)]
enum Backend {
    Memory(MemBackend),
    Disk(FileBackend),
    Cached(CacheBackend),
    Ring(RingBackend),
}

/// What a resource starts with: the facts a persistent index recorded.
#[derive(Debug, Default)]
pub(crate) struct Seed {
    pub(crate) ranges: RangeSet,
    pub(crate) len: Option<u64>,
    pub(crate) validator: Option<Validator>,
}

impl Backend {
    /// Writes `data[range]` at `offset`, without copying when the memory backend gets `Bytes`.
    fn write(&self, offset: u64, data: &Payload<'_>, range: std::ops::Range<usize>) -> Result<()> {
        match (self, data) {
            (Self::Memory(m), Payload::Bytes(b)) => {
                m.write(offset, b.slice(range));
                Ok(())
            }
            (Self::Memory(m), Payload::Slice(s)) => {
                m.write(offset, Bytes::copy_from_slice(&s[range]));
                Ok(())
            }
            (Self::Ring(_), _) => Ok(()), // written by `write_ring`, never through here
            (Self::Disk(f), d) => f.write(offset, &d.as_slice()[range]),
            (Self::Cached(c), d) => c.write(offset, &d.as_slice()[range]),
        }
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match self {
            Self::Memory(m) => {
                m.read(offset, buf);
                Ok(())
            }
            Self::Disk(f) => f.read(offset, buf),
            Self::Cached(c) => c.read(offset, buf),
            Self::Ring(r) => r.read(offset, buf).map(|_| ()),
        }
    }
}

/// Bytes handed to a write: borrowed, or shared (kept as they are by the memory backend).
enum Payload<'a> {
    Slice(&'a [u8]),
    Bytes(Bytes),
}

impl Payload<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Slice(s) => s,
            Self::Bytes(b) => b,
        }
    }
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    /// Serialises `write_at` and `set_len` (the writer side), so that the
    /// gaps a write fills cannot be filled by someone else before it
    /// commits, and the length cannot change under an in-flight write.
    write_lock: Mutex<()>,
    /// Ranges, length, failure and cancellation, plus the condvar.
    sync: StateCell,
}

/// Bytes of one stream, the byte ranges present, the total length once
/// known, and failure/cancellation state; readers can block until a range
/// is present.
///
/// Cloning is cheap (an `Arc` inside); all clones share the same resource.
/// The writer side (download tasks) calls [`write_at`](Self::write_at),
/// [`set_len`](Self::set_len), [`fail`](Self::fail); the reader side (a
/// synchronous decoder thread) calls [`wait_range`](Self::wait_range) and
/// [`read_at`](Self::read_at). Offsets and lengths are in bytes.
///
/// Invariants: committed bytes never change; the set of present ranges only
/// grows; every change that could end a wait wakes all waiters.
#[derive(Clone)]
pub struct StorageResource {
    inner: Arc<Inner>,
}

impl fmt::Debug for StorageResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.sync.lock();
        f.debug_struct("StorageResource")
            .field("kind", &self.kind())
            .field("len", &state.len)
            .field("covered", &state.ranges.covered())
            .field("failed", &state.failed.is_some())
            .field("cancelled", &state.cancelled)
            .finish()
    }
}

impl StorageResource {
    fn with_backend(backend: Backend) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                write_lock: Mutex::new(()),
                sync: StateCell::default(),
            }),
        }
    }

    /// A resource over a cached asset's data file, starting from what its index recorded.
    pub(crate) fn seeded(backend: CacheBackend, seed: Seed) -> Self {
        let res = Self::with_backend(Backend::Cached(backend));
        {
            let mut state = res.inner.sync.lock();
            state.ranges = seed.ranges;
            state.len = seed.len;
            state.validator = seed.validator;
        }
        res
    }

    pub(crate) fn cache_backend(&self) -> Option<&CacheBackend> {
        match &self.inner.backend {
            Backend::Cached(c) => Some(c),
            _ => None,
        }
    }

    /// Creates an empty resource backed by memory: the written chunks are kept
    /// as they are (`write_bytes` without copying), tiny writes gathered into
    /// 64 KiB buffers; unwritten regions cost no memory.
    pub fn memory() -> Self {
        Self::with_backend(Backend::Memory(MemBackend::default()))
    }

    /// Creates an empty resource that keeps at most `capacity` bytes in memory (a ring), of which
    /// up to a quarter of the capacity already read is kept behind the reader for seeking back.
    /// See [`ring_with`](Self::ring_with).
    pub fn ring(capacity: u64) -> Self {
        Self::ring_with(capacity, capacity / 4)
    }

    /// Creates an empty ring resource of at most `capacity` bytes (at least 1) that keeps up to
    /// `keep_behind` bytes (at most half the capacity) behind the reader for seeking back.
    ///
    /// Writes append at the head, keeping the HTTP client's buffers without copying; a write that
    /// does not continue the head starts the ring over at its offset. Once the ring is full,
    /// bytes the reader has read (beyond `keep_behind` behind it) are dropped to make room; when
    /// there are none, the write blocks (it is a blocking write, see
    /// [`writes_block`](Self::writes_block)) until the reader moves on or the resource is
    /// cancelled, which back-pressures the download. Reads and waits before the first byte kept
    /// fail at once with [`Error::Evicted`], which names the position and the bytes kept.
    pub fn ring_with(capacity: u64, keep_behind: u64) -> Self {
        Self::with_backend(Backend::Ring(RingBackend::new(capacity, keep_behind)))
    }

    /// The most bytes a ring resource keeps at once (`None` for other backends).
    pub fn ring_capacity(&self) -> Option<u64> {
        match &self.inner.backend {
            Backend::Ring(r) => Some(r.capacity()),
            _ => None,
        }
    }

    /// Creates an empty resource backed by the file at `path`, creating it
    /// or truncating an existing file. The file is written in place at byte
    /// offsets (sparse) and is left on disk when the resource is dropped.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be created or opened for reading and
    /// writing.
    pub fn disk(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        tracing::debug!(path = %path.display(), "creating disk storage resource");
        Ok(Self::with_backend(Backend::Disk(FileBackend::create(
            path,
        )?)))
    }

    /// Creates an empty resource backed by an anonymous temporary file
    /// (sparse, written in place), deleted by the OS once the last clone is
    /// dropped.
    ///
    /// # Errors
    /// [`Error::Io`] if the temporary file cannot be created.
    pub fn temp_file() -> Result<Self> {
        Ok(Self::with_backend(Backend::Disk(FileBackend::temp()?)))
    }

    /// The kind of backend storing the bytes.
    pub fn kind(&self) -> BackendKind {
        match self.inner.backend {
            Backend::Memory(_) => BackendKind::Memory,
            Backend::Disk(_) | Backend::Cached(_) => BackendKind::Disk,
            Backend::Ring(_) => BackendKind::Ring,
        }
    }

    /// Stores `data` at byte `offset` and commits that range, waking any
    /// waiters.
    ///
    /// Only the parts of `offset..offset + data.len()` that are not yet
    /// present are written; bytes already present are left unchanged (so a
    /// retried or overlapping write is harmless). Writes after
    /// [`fail`](Self::fail) are accepted and stored: readers keep being
    /// served whatever is present. An empty `data` only runs the checks.
    ///
    /// # Errors
    /// - [`Error::Cancelled`] if the resource was cancelled (nothing is
    ///   written). A write already in progress when `cancel` is called
    ///   completes normally.
    /// - [`Error::BeyondEnd`] if the total length is known and
    ///   `offset + data.len()` exceeds it (nothing is written).
    /// - [`Error::Io`] if the disk backend fails; nothing of this call is
    ///   committed then, and the write may be retried.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.write_payload(offset, &Payload::Slice(data))
    }

    /// Like [`write_at`](Self::write_at), taking shared bytes: the memory backend keeps them as they
    /// are instead of copying (the downloader hands over the HTTP client's buffers this way).
    pub fn write_bytes(&self, offset: u64, data: Bytes) -> Result<()> {
        self.write_payload(offset, &Payload::Bytes(data))
    }

    fn write_payload(&self, offset: u64, payload: &Payload<'_>) -> Result<()> {
        let data = payload.as_slice();
        let _writer = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let beyond = |total| Error::BeyondEnd {
            offset,
            len: data.len(),
            total,
        };
        if let Backend::Ring(ring) = &self.inner.backend {
            return self.write_ring(ring, offset, payload);
        }
        let gaps = {
            let state = self.inner.sync.lock();
            if state.cancelled {
                return Err(Error::Cancelled);
            }
            let end = offset
                .checked_add(data.len() as u64)
                .ok_or_else(|| beyond(state.len.unwrap_or(u64::MAX)))?;
            if let Some(total) = state.len.filter(|&total| end > total) {
                return Err(beyond(total));
            }
            state.ranges.gaps(offset..end)
        };
        if gaps.is_empty() {
            return Ok(());
        }
        for gap in &gaps {
            let from = (gap.start - offset) as usize;
            let to = (gap.end - offset) as usize;
            self.inner.backend.write(gap.start, payload, from..to)?;
        }
        let mut state = self.inner.sync.lock();
        for gap in gaps {
            state.ranges.insert(gap);
        }
        self.inner.sync.notify(state);
        Ok(())
    }

    /// A ring write (the writer lock is held): checks as every write does, skips what the ring
    /// already holds, appends the rest; every step is published to the state.
    fn write_ring(&self, ring: &RingBackend, offset: u64, payload: &Payload<'_>) -> Result<()> {
        let data = payload.as_slice();
        {
            let state = self.inner.sync.lock();
            if state.cancelled {
                return Err(Error::Cancelled);
            }
            let total = state.len;
            let end = offset.checked_add(data.len() as u64);
            if let Some(t) = total.filter(|&t| end.is_none_or(|e| e > t)) {
                return Err(Error::BeyondEnd {
                    offset,
                    len: data.len(),
                    total: t,
                });
            }
        }
        let kept = ring.kept();
        let skip = if kept.contains(&offset) {
            usize::try_from(kept.end - offset).unwrap_or(usize::MAX)
        } else {
            0
        };
        if skip >= data.len() {
            return Ok(());
        }
        let bytes = match payload {
            Payload::Bytes(b) => b.slice(skip..),
            Payload::Slice(s) => Bytes::copy_from_slice(&s[skip..]),
        };
        let at = offset + skip as u64;
        ring.write(at, bytes, |w| {
            let mut state = self.inner.sync.lock();
            if w.kept.start != state.floor {
                state.ranges.remove(0..w.kept.start);
                state.ranges.remove(w.kept.end..u64::MAX);
                state.floor = w.kept.start;
            }
            state.ranges.insert(w.kept.clone());
            self.inner.sync.notify(state);
        })
    }

    /// Copies the committed bytes starting at `offset` into `buf`: as many
    /// as are contiguously present from `offset`, up to `buf.len()`.
    /// Returns the number of bytes copied; `0` if the byte at `offset` is
    /// not present (or `buf` is empty). Never returns uncommitted bytes.
    /// Reads keep working after [`fail`](Self::fail) and
    /// [`cancel`](Self::cancel).
    ///
    /// # Errors
    /// [`Error::Io`] if the disk backend fails.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let Some(end) = self.inner.sync.lock().ranges.contiguous_end(offset) else {
            return Ok(0);
        };
        let n = usize::try_from(end - offset).map_or(buf.len(), |avail| avail.min(buf.len()));
        self.inner.backend.read(offset, &mut buf[..n])?;
        Ok(n)
    }

    /// Blocks the calling thread until `range` can be answered or `timeout`
    /// elapses.
    ///
    /// Each time the thread wakes it checks, in this order:
    /// cancelled → [`Error::Cancelled`]; `range.start` at or beyond the end
    /// (the known length, or its proven bound, see
    /// [`set_len_at_most`](Self::set_len_at_most)) → [`WaitOutcome::Eof`];
    /// `range` (end clamped to that end) present → [`WaitOutcome::Ready`];
    /// failed → [`Error::Failed`] with the cause; deadline passed →
    /// [`Error::TimedOut`]. `Ready` beats `Failed`, so bytes already present
    /// are still served after a failure. An empty range (`start >= end`) is
    /// `Ready` unless cancelled or at/after the end. A `timeout` too large to
    /// form a deadline waits without one.
    ///
    /// Waiting uses a std `Condvar` (no spinning or sleeping); it must not be
    /// called from an async task, which it would block.
    ///
    /// # Errors
    /// [`Error::Cancelled`], [`Error::Failed`], [`Error::TimedOut`] as above.
    pub fn wait_range(&self, range: Range<u64>, timeout: Duration) -> Result<WaitOutcome> {
        if let Backend::Ring(ring) = &self.inner.backend {
            ring.reader_at(range.start);
        }
        self.inner.sync.wait_range(range, timeout)
    }

    /// Takes the writer lock (so no write is in flight) and the state, refusing a cancelled
    /// resource: how `set_len` and `set_len_at_most` start.
    fn lock_for_length(
        &self,
    ) -> Result<(
        std::sync::MutexGuard<'_, ()>,
        std::sync::MutexGuard<'_, crate::wait::State>,
    )> {
        let writer = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let state = self.inner.sync.lock();
        if state.cancelled {
            return Err(Error::Cancelled);
        }
        Ok((writer, state))
    }

    /// Records the total length in bytes, waking any waiters (waits at or
    /// past it become [`WaitOutcome::Eof`]). Setting the same length again
    /// is a no-op.
    ///
    /// # Errors
    /// - [`Error::LengthConflict`] if a different length was set earlier or
    ///   bytes beyond `len` are already present.
    /// - [`Error::Cancelled`] if the resource was cancelled.
    pub fn set_len(&self, len: u64) -> Result<()> {
        let (_writer, mut state) = self.lock_for_length()?;
        let present_end = state.ranges.max_end();
        match state.len {
            Some(known) if known == len => return Ok(()),
            Some(_) => {}
            None if present_end <= len && state.max_len.is_none_or(|bound| len <= bound) => {
                tracing::debug!(len, "storage resource length known");
                state.len = Some(len);
                self.inner.sync.notify(state);
                if let Some(c) = self.cache_backend() {
                    c.on_len(len);
                }
                return Ok(());
            }
            None => {}
        }
        Err(Error::LengthConflict {
            requested: len,
            known: state.len,
            present_end,
        })
    }

    /// Records that the resource ends at `bound` at the latest (a server
    /// refused a range starting there without telling the length), waking
    /// any waiters: waits at or past it become [`WaitOutcome::Eof`] while
    /// bytes before it stay readable and fetchable. Keeps the lowest bound;
    /// a no-op once the exact length is known.
    ///
    /// # Errors
    /// - [`Error::LengthConflict`] if bytes at or beyond `bound` are present.
    /// - [`Error::Cancelled`] if the resource was cancelled.
    pub fn set_len_at_most(&self, bound: u64) -> Result<()> {
        let (_writer, mut state) = self.lock_for_length()?;
        let present_end = state.ranges.max_end();
        if present_end > bound || state.len.is_some_and(|len| len > bound) {
            return Err(Error::LengthConflict {
                requested: bound,
                known: state.len,
                present_end,
            });
        }
        if state.len.is_none() && state.max_len.is_none_or(|b| bound < b) {
            tracing::debug!(bound, "storage resource ends at most here");
            state.max_len = Some(bound);
            self.inner.sync.notify(state);
        }
        Ok(())
    }

    /// Where the resource ends at the latest: its length if known, else the
    /// bound recorded by [`set_len_at_most`](Self::set_len_at_most).
    pub fn end_bound(&self) -> Option<u64> {
        self.inner.sync.lock().end_bound()
    }

    /// The validator of the version whose bytes this resource holds, once recorded.
    pub fn validator(&self) -> Option<Validator> {
        self.inner.sync.lock().validator.clone()
    }

    /// Records the validator of the version whose bytes this resource holds. Recording the
    /// same validator again is a no-op.
    ///
    /// # Errors
    /// [`Error::ValidatorConflict`] if a different validator was recorded before: the
    /// bytes already present belong to another version.
    pub fn set_validator(&self, validator: Validator) -> Result<()> {
        let mut state = self.inner.sync.lock();
        match &state.validator {
            Some(known) if known.conflicts_with(&validator) => Err(Error::ValidatorConflict {
                known: known.clone(),
                new: validator,
            }),
            Some(_) => Ok(()),
            None => {
                state.validator = Some(validator.clone());
                drop(state);
                if let Some(c) = self.cache_backend() {
                    c.on_validator(&validator);
                }
                Ok(())
            }
        }
    }

    /// Whether writes do blocking file I/O (disk and temp-file backends): such writes belong
    /// on a thread that may block, never on an async runtime's worker.
    pub fn writes_block(&self) -> bool {
        matches!(
            self.inner.backend,
            Backend::Disk(_) | Backend::Cached(_) | Backend::Ring(_)
        )
    }

    /// The total length in bytes, if known.
    #[allow(
        clippy::len_without_is_empty,
        reason = "the total length may be unknown; `covered` reports bytes present"
    )]
    pub fn len(&self) -> Option<u64> {
        self.inner.sync.lock().len
    }

    /// Whether the length is known and every byte of `0..len` is present.
    pub fn is_complete(&self) -> bool {
        let state = self.inner.sync.lock();
        state.len.is_some_and(|len| state.ranges.contains(0..len))
    }

    /// Number of bytes present.
    pub fn covered(&self) -> u64 {
        self.inner.sync.lock().ranges.covered()
    }

    /// End (exclusive) of the last present byte range; 0 when nothing is present. For a ring,
    /// its head: where the next appended byte goes.
    pub fn present_end(&self) -> u64 {
        self.inner.sync.lock().ranges.max_end()
    }

    /// Whether the reader may move to `pos`: always, except before the first byte a ring keeps.
    ///
    /// # Errors
    /// [`Error::Evicted`] with the position and the bytes kept.
    pub fn check_kept(&self, pos: u64) -> Result<()> {
        let state = self.inner.sync.lock();
        if pos < state.floor {
            return Err(Error::Evicted {
                pos,
                kept: state.floor..state.ranges.max_end().max(state.floor),
            });
        }
        Ok(())
    }

    /// A snapshot of the present byte ranges.
    pub fn ranges(&self) -> RangeSet {
        self.inner.sync.lock().ranges.clone()
    }

    /// End (exclusive) of the present range containing `pos`; `None` if the
    /// byte at `pos` is not present. See [`RangeSet::contiguous_end`].
    pub fn contiguous_end(&self, pos: u64) -> Option<u64> {
        self.inner.sync.lock().ranges.contiguous_end(pos)
    }

    /// First missing sub-range of `within`. See [`RangeSet::first_gap`].
    pub fn first_gap(&self, within: Range<u64>) -> Option<Range<u64>> {
        self.inner.sync.lock().ranges.first_gap(within)
    }

    /// Smallest present byte offset `>= pos`. See
    /// [`RangeSet::next_present_start`].
    pub fn next_present_start(&self, pos: u64) -> Option<u64> {
        self.inner.sync.lock().ranges.next_present_start(pos)
    }

    /// Marks the resource failed with cause `err`, waking any waiters; waits
    /// for ranges that are not present then fail with
    /// [`Error::Failed`]. The first failure wins; later calls are
    /// ignored.
    pub fn fail(&self, err: SharedError) {
        let mut state = self.inner.sync.lock();
        if state.failed.is_none() {
            tracing::debug!(error = %err, "storage resource failed");
            state.failed = Some(err);
            self.inner.sync.notify(state);
        }
    }

    /// The failure cause recorded by [`fail`](Self::fail), if any.
    pub fn failure(&self) -> Option<SharedError> {
        self.inner.sync.lock().failed.clone()
    }

    /// Cancels the resource, waking any waiters: waits fail with
    /// [`Error::Cancelled`], and later `write_at`/`set_len` return
    /// [`Error::Cancelled`]. Idempotent.
    pub fn cancel(&self) {
        let mut state = self.inner.sync.lock();
        if !state.cancelled {
            tracing::debug!("storage resource cancelled");
            state.cancelled = true;
            self.inner.sync.notify(state);
            if let Backend::Ring(ring) = &self.inner.backend {
                ring.close();
            }
        }
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.sync.lock().cancelled
    }
}
