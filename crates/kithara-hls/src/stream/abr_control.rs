//! The bitrate control shared by the source (handed to the application) and the peer.

use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Mutex, PoisonError,
};

use kithara_stream::{AbrControl, AbrMode};

/// Mode, cap and the downloader's current variant. The peer reads it before each segment.
#[derive(Debug)]
pub(crate) struct AbrShared {
    variants: usize,
    mode: Mutex<AbrMode>,
    /// Bitrate cap in bits per second; 0 means none.
    cap: AtomicU64,
    current: AtomicUsize,
}

impl AbrShared {
    pub(crate) fn new(variants: usize, mode: AbrMode, cap: Option<u64>, current: usize) -> Self {
        Self {
            variants,
            mode: Mutex::new(mode),
            cap: AtomicU64::new(cap.unwrap_or(0)),
            current: AtomicUsize::new(current),
        }
    }

    /// The variant the downloader chose last.
    pub(crate) fn current(&self) -> usize {
        self.current.load(Ordering::Acquire)
    }

    pub(crate) fn set_current(&self, v: usize) {
        self.current.store(v, Ordering::Release);
    }

    /// The bitrate cap, if any.
    pub(crate) fn max_bitrate(&self) -> Option<u64> {
        Some(self.cap.load(Ordering::Acquire)).filter(|&c| c > 0)
    }
}

impl AbrControl for AbrShared {
    fn variant_count(&self) -> usize {
        self.variants
    }

    fn mode(&self) -> AbrMode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_mode(&self, mode: AbrMode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    fn max_bitrate(&self) -> Option<u64> {
        AbrShared::max_bitrate(self)
    }

    fn set_max_bitrate(&self, bps: Option<u64>) {
        self.cap.store(bps.unwrap_or(0), Ordering::Release);
    }
}
