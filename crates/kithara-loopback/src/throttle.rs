//! Pacing of response bodies: a fixed rate, or a [`ThrottleHandle`] whose rate tests change at run
//! time (to play a bandwidth trace).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// Largest body frame of a throttled response.
const MAX_PACED_FRAME: usize = 16 * 1024;

/// A shared, adjustable body rate for the routes given it with
/// [`Route::throttle_handle`](crate::Route::throttle_handle).
///
/// [`set`](ThrottleHandle::set) takes effect at once, on responses in flight (including one
/// waiting out the pause of its last frame) and on later ones. Clones share the rate.
#[derive(Clone)]
pub struct ThrottleHandle {
    rate: Arc<watch::Sender<u64>>,
}

impl ThrottleHandle {
    /// A handle pacing bodies at `bytes_per_sec` (`0`: unthrottled).
    pub fn new(bytes_per_sec: u64) -> Self {
        Self {
            rate: Arc::new(watch::Sender::new(bytes_per_sec)),
        }
    }

    /// Changes the rate of every response paced by this handle (`0`: unthrottled).
    pub fn set(&self, bytes_per_sec: u64) {
        self.rate.send_replace(bytes_per_sec);
    }

    /// The current rate in bytes per second (`0`: unthrottled).
    pub fn get(&self) -> u64 {
        *self.rate.borrow()
    }
}

impl Default for ThrottleHandle {
    /// Unthrottled until [`set`](ThrottleHandle::set).
    fn default() -> Self {
        Self::new(0)
    }
}

impl fmt::Debug for ThrottleHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottleHandle")
            .field("bytes_per_sec", &self.get())
            .finish()
    }
}

/// How a route paces its bodies.
#[derive(Debug, Clone)]
pub(crate) enum Throttle {
    /// A fixed rate in bytes per second (never 0).
    Fixed(u64),
    /// The rate of a shared handle.
    Shared(ThrottleHandle),
}

/// Paces the frames of one body without bursting after pauses.
pub(crate) struct Pacer {
    source: Source,
    /// Current rate; 0 is unthrottled.
    rate: u64,
    /// When the next frame may go out.
    next: Instant,
}

enum Source {
    Fixed,
    Shared(watch::Receiver<u64>),
}

impl Pacer {
    pub(crate) fn new(throttle: &Throttle) -> Self {
        let (source, rate) = match throttle {
            Throttle::Fixed(rate) => (Source::Fixed, *rate),
            Throttle::Shared(h) => {
                let mut rx = h.rate.subscribe();
                let rate = *rx.borrow_and_update();
                (Source::Shared(rx), rate)
            }
        };
        Self {
            source,
            rate,
            next: Instant::now(),
        }
    }

    /// Frame size at the current rate: `min(chunk, 16 KiB, rate / 50)`, or `chunk` unthrottled.
    pub(crate) fn frame(&mut self, chunk: usize) -> usize {
        self.refresh();
        if self.rate == 0 {
            return chunk;
        }
        let by_rate = usize::try_from(self.rate / 50).unwrap_or(usize::MAX).max(1);
        chunk.min(MAX_PACED_FRAME).min(by_rate)
    }

    /// Waits until a frame of `n` bytes may be sent, then books its time.
    pub(crate) async fn wait(&mut self, n: usize) {
        loop {
            self.refresh();
            if self.rate == 0 {
                self.next = Instant::now();
                break;
            }
            let changed = match &mut self.source {
                Source::Fixed => {
                    tokio::time::sleep_until(self.next).await;
                    break;
                }
                Source::Shared(rx) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(self.next) => break,
                        changed = rx.changed() => changed.map(|()| *rx.borrow_and_update()),
                    }
                }
            };
            match changed {
                Ok(rate) => self.apply(rate),
                // Every handle is gone: the rate is final.
                Err(_) => self.source = Source::Fixed,
            }
        }
        if self.rate > 0 {
            let nanos = (n as u128 * 1_000_000_000) / u128::from(self.rate);
            let cost = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
            self.next = self.next.max(Instant::now()) + cost;
        }
    }

    /// Takes a shared rate that changed since it was last read.
    fn refresh(&mut self) {
        let Source::Shared(rx) = &mut self.source else {
            return;
        };
        if rx.has_changed().unwrap_or(false) {
            let rate = *rx.borrow_and_update();
            self.apply(rate);
        }
    }

    /// Switches to `rate`; the pause still owed for frames already sent is rescaled to it.
    fn apply(&mut self, rate: u64) {
        let now = Instant::now();
        if rate == 0 {
            self.next = now;
        } else if self.next > now && self.rate > 0 {
            let owed = (self.next - now).mul_f64(self.rate as f64 / rate as f64);
            self.next = now + owed;
        }
        self.rate = rate;
    }
}
