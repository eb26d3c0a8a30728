//! A clock the test moves by hand.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use session_runtime::store::UnixMillis;
use session_runtime::Clock;

/// Where a [`ManualClock::new`] starts.
pub const T0: UnixMillis = 1_700_000_000_000;

/// A clock the test moves by hand (ms since the Unix epoch).
#[derive(Clone)]
pub struct ManualClock(pub Arc<AtomicI64>);

impl ManualClock {
    pub fn new() -> Self {
        ManualClock(Arc::new(AtomicI64::new(T0)))
    }
    /// Sets the time to `T0 + offset`.
    pub fn at(&self, offset: Duration) {
        self.0
            .store(T0 + offset.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        self.0.load(Ordering::SeqCst)
    }
}
