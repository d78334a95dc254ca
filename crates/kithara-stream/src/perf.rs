//! Timing spans on the hot paths, compiled in only with the `perf` feature.
//!
//! With `perf` on, [`span`] opens a `TRACE`-level span named after the hot path (`stream.read`,
//! `stream.wait`, …); a subscriber with span timing (`tracing-subscriber`'s `FmtSpan::CLOSE`, or a
//! flame-graph layer) then reports how long each took. With it off, the call compiles to nothing.

#[cfg(feature = "perf")]
pub(crate) fn span(name: &'static str) -> tracing::span::EnteredSpan {
    tracing::trace_span!("perf", path = name).entered()
}

#[cfg(not(feature = "perf"))]
#[inline(always)]
pub(crate) fn span(_name: &'static str) {}
