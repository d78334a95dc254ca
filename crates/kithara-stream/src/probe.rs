//! USDT probe points, compiled in only with the `probe` feature.
//!
//! Probes of provider `kithara_stream`: `wait__start(pos, len)`, `wait__done(pos, outcome)` around
//! every reader wait, and `fetch__done(bytes)` after each completed fetch. Attach with `bpftrace`
//! or `dtrace`. With the feature off, the functions compile to nothing.

#[cfg(feature = "probe")]
#[allow(unsafe_code)]
mod probes {
    #[usdt::provider(provider = "kithara_stream")]
    mod stream_probes {
        fn wait__start(pos: u64, len: u64) {}
        fn wait__done(pos: u64, outcome: u8) {}
        fn fetch__done(bytes: u64) {}
    }

    pub(crate) fn wait_start(pos: u64, len: u64) {
        self::stream_probes::wait__start!(|| (pos, len));
    }

    pub(crate) fn wait_done(pos: u64, outcome: u8) {
        self::stream_probes::wait__done!(|| (pos, outcome));
    }

    pub(crate) fn fetch_done(bytes: u64) {
        self::stream_probes::fetch__done!(|| bytes);
    }
}

#[cfg(feature = "probe")]
pub(crate) use probes::{fetch_done, wait_done, wait_start};

#[cfg(not(feature = "probe"))]
#[inline(always)]
pub(crate) fn wait_start(_pos: u64, _len: u64) {}

#[cfg(not(feature = "probe"))]
#[inline(always)]
pub(crate) fn wait_done(_pos: u64, _outcome: u8) {}

#[cfg(not(feature = "probe"))]
#[inline(always)]
pub(crate) fn fetch_done(_bytes: u64) {}
