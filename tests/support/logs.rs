//! Capturing the `tracing` events of a test.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything written to it, kept in memory.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Everything logged since the last call. Also refreshes tracing's per-callsite interest
    /// cache: other tests of this binary run in parallel without a subscriber, and a callsite
    /// they register while this test installs its own can otherwise stay cached as disabled.
    pub fn take(&self) -> String {
        tracing::callsite::rebuild_interest_cache();
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }

    /// Everything logged so far (kept).
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Captures every event of this thread, at every level, without colours (the tests run on a
/// current-thread runtime), until the guard is dropped.
pub fn capture_logs() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    (capture, guard)
}
