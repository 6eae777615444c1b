//! A counting allocator for this test binary: how many bytes the current thread holds, and the
//! most it held since [`Peak::start`]. Counting per thread lets one test measure itself while
//! other tests of the binary run on their threads (`cargo test`); under nextest each test is a
//! process of its own anyway. A `#[tokio::test]` runs on one thread (current-thread runtime),
//! its spawned tasks (the fake servers, the HTTP client's connections) included, so what a
//! publish allocates is counted where it happens.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static HELD: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn count(delta: i64) {
    // `try_with`: a thread being torn down has no counters any more; nothing to count then.
    let _ = HELD.try_with(|held| {
        let now = held.get() + delta;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn size(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// SAFETY: every call is passed to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(size(layout.size()));
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(size(layout.size()));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-size(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(size(new_size) - size(layout.size()));
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The most this thread held above what it held at [`Peak::start`].
pub struct Peak {
    base: i64,
}

impl Peak {
    pub fn start() -> Self {
        let base = HELD.with(Cell::get);
        PEAK.with(|p| p.set(base));
        Self { base }
    }

    /// Bytes, at most, held at once since `start` beyond what was held then.
    pub fn bytes(&self) -> u64 {
        u64::try_from(PEAK.with(Cell::get) - self.base).unwrap_or(0)
    }
}
