//! [`Recorder`]: what records a cached resource's bytes and facts in its asset, and the flusher
//! thread that syncs and writes the index off the download path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::cache::{Asset, Validators};
use crate::Validator;

/// What records a cached resource's bytes and facts in its asset, shared with the flusher thread.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(super) asset: Arc<Asset>,
    meta: Mutex<PendingMeta>,
    /// Held during every flush, so `flush_cache` returns only once earlier flushes are durable.
    pub(super) flush_lock: Mutex<()>,
    pub(super) signal: Mutex<Signal>,
    pub(super) wake: Condvar,
    /// Whether a flusher thread runs; without one, writes flush inline.
    pub(super) background: AtomicBool,
}

/// What the flusher thread is asked to do.
#[derive(Debug, Default)]
pub(super) struct Signal {
    due: bool,
    pub(super) closing: bool,
}

/// Facts learnt on async workers, written to the index on a blocking path.
#[derive(Debug, Default)]
pub(super) struct PendingMeta {
    pub(super) len: Option<u64>,
    pub(super) validator: Option<Validator>,
    pub(super) content_type: Option<String>,
    pub(super) validated: bool,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recorder {
    pub(super) fn new(asset: Arc<Asset>) -> Self {
        Self {
            asset,
            meta: Mutex::new(PendingMeta::default()),
            flush_lock: Mutex::new(()),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
            background: AtomicBool::new(false),
        }
    }

    pub(super) fn meta(&self) -> MutexGuard<'_, PendingMeta> {
        lock(&self.meta)
    }

    /// Writes pending facts to the index, then syncs the data file and records pending ranges.
    pub(super) fn flush(&self) {
        let _flushing = lock(&self.flush_lock);
        self.apply_meta();
        if let Err(e) = self.asset.flush() {
            tracing::warn!(asset = %self.asset.id(), error = %e,
                "could not record downloaded bytes in the cache; they will be fetched again next time");
        }
    }

    /// Writes the noted length, validators and validation to the index (blocking).
    pub(super) fn apply_meta(&self) {
        let m = std::mem::take(&mut *self.meta());
        let id = self.asset.id();
        if let Some(len) = m.len {
            if let Err(e) = self.asset.set_len(len) {
                tracing::warn!(asset = %id, len, error = %e, "could not record the length in the cache");
            }
        }
        if m.validator.is_some() || m.content_type.is_some() {
            let known = self.asset.index().validators().clone();
            let (etag, last_modified) = match m.validator {
                Some(v) => (v.etag, v.last_modified),
                None => (known.etag.clone(), known.last_modified.clone()),
            };
            let content_type = m.content_type.or(known.content_type.clone());
            let merged = Validators::new(etag, last_modified, content_type);
            if merged != known {
                if let Err(e) = self.asset.set_validators(merged) {
                    tracing::warn!(asset = %id, error = %e, "could not record the validators in the cache");
                }
                return;
            }
        }
        if m.validated {
            if let Err(e) = self.asset.mark_validated() {
                tracing::warn!(asset = %id, error = %e, "could not record a validation in the cache");
            }
        }
    }

    pub(super) fn has_meta(&self) -> bool {
        let m = self.meta();
        m.len.is_some() || m.validator.is_some() || m.content_type.is_some() || m.validated
    }

    /// Asks for a flush: the flusher thread's if there is one, else right here.
    pub(super) fn flush_due(&self) {
        if self.background.load(Ordering::Acquire) {
            lock(&self.signal).due = true;
            self.wake.notify_one();
        } else {
            self.flush();
        }
    }

    /// The flusher thread: syncs and records each due batch while the writer goes on writing,
    /// and does the last flush after the resource is dropped; then the asset closes.
    pub(super) fn run_flusher(self: Arc<Self>) {
        loop {
            let closing = {
                let mut sig = lock(&self.signal);
                while !sig.due && !sig.closing {
                    sig = self.wake.wait(sig).unwrap_or_else(PoisonError::into_inner);
                }
                sig.due = false;
                sig.closing
            };
            self.flush();
            if closing {
                return;
            }
        }
    }
}
