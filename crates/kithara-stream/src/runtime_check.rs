//! Whether the calling thread is running a tokio runtime's async code, where a blocking wait would
//! stall the very runtime that downloads the bytes waited for.
//!
//! tokio has no public "may I block here?" query, but its cooperative budget tells: while a runtime
//! polls a task or a `block_on` future the budget is constrained, and everywhere a blocking wait is
//! fine it is unconstrained (a plain thread, a thread that only entered a runtime's context,
//! `spawn_blocking`, `block_in_place`). The budget cannot be read, only spent: this spends it one
//! unit at a time until it runs out (constrained) or more units were granted than a constrained
//! budget holds (unconstrained), then restores it exactly. It is asked only before a wait, never
//! on a read of bytes that are present.

use std::task::{Context, Poll, Waker};

use tokio::task::coop;

/// More units than any constrained tokio budget holds (128 in tokio 1.x).
const MORE_THAN_A_BUDGET: usize = 1024;

/// Whether this thread is inside a tokio runtime's async code (a worker polling a task, or a
/// `block_on`), where blocking on a download stalls the runtime.
pub(crate) fn on_runtime_thread() -> bool {
    if tokio::runtime::Handle::try_current().is_err() {
        return false;
    }
    let mut cx = Context::from_waker(Waker::noop());
    // The first unit's guard restores the budget as it was when dropped (last); the others are
    // marked as progress so they restore nothing.
    let Poll::Ready(first) = coop::poll_proceed(&mut cx) else {
        return true; // already exhausted: constrained
    };
    let mut constrained = false;
    for _ in 0..MORE_THAN_A_BUDGET {
        if !coop::has_budget_remaining() {
            constrained = true;
            break;
        }
        match coop::poll_proceed(&mut cx) {
            Poll::Ready(unit) => unit.made_progress(),
            Poll::Pending => {
                constrained = true;
                break;
            }
        }
    }
    drop(first);
    constrained
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_threads_and_blocking_pools_may_block_async_code_may_not() {
        assert!(!on_runtime_thread(), "a plain thread");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        {
            let _g = rt.enter();
            assert!(
                !on_runtime_thread(),
                "a thread that only entered the context"
            );
        }
        assert!(rt.block_on(async { on_runtime_thread() }), "block_on");
        assert!(
            rt.block_on(rt.spawn(async { on_runtime_thread() }))
                .unwrap(),
            "a task on a worker"
        );
        assert!(
            !rt.block_on(rt.spawn_blocking(on_runtime_thread)).unwrap(),
            "spawn_blocking"
        );
        assert!(
            !rt.block_on(rt.spawn(async { tokio::task::block_in_place(on_runtime_thread) }))
                .unwrap(),
            "block_in_place"
        );
        let ct = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(ct.block_on(async { on_runtime_thread() }), "current_thread");
        // Asking leaves the budget as it was: a task that asked many times still runs normally.
        assert!(rt.block_on(async {
            for _ in 0..1000 {
                assert!(on_runtime_thread());
            }
            coop::has_budget_remaining()
        }));
    }
}
