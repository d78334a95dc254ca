//! The bitrate control handed to the application ([`Source::abr_handle`](kithara_stream::Source::abr_handle)):
//! mode and cap, read by the peer before each segment, and "switch now" requests, which it takes
//! through the layout.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex, PoisonError,
};

use kithara_stream::{AbrControl, AbrMode};

use super::layout::Layout;

/// Mode and cap of a stream's ABR, and the ladder they refer to.
#[derive(Debug)]
pub(crate) struct AbrShared {
    /// Bandwidth of each variant (bits/s), in playlist order.
    bandwidths: Vec<u64>,
    mode: Mutex<AbrMode>,
    /// Bitrate cap in bits per second; 0 means none.
    cap: AtomicU64,
    /// Where a "switch now" is requested (the peer takes it).
    layout: Layout,
}

impl AbrShared {
    pub(crate) fn new(
        bandwidths: Vec<u64>,
        mode: AbrMode,
        cap: Option<u64>,
        layout: Layout,
    ) -> Self {
        Self {
            bandwidths,
            mode: Mutex::new(mode),
            cap: AtomicU64::new(cap.unwrap_or(0)),
            layout,
        }
    }

    /// The bitrate cap, if any.
    pub(crate) fn max_bitrate(&self) -> Option<u64> {
        Some(self.cap.load(Ordering::Acquire)).filter(|&c| c > 0)
    }
}

impl AbrControl for AbrShared {
    fn variant_count(&self) -> usize {
        self.bandwidths.len()
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

    fn bandwidths(&self) -> Vec<u64> {
        self.bandwidths.clone()
    }

    fn switch_now(&self, mode: AbrMode) {
        self.set_mode(mode);
        self.layout.request_switch();
    }
}
