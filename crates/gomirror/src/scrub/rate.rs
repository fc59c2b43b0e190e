//! A byte-rate limit shared by async and blocking readers.

use super::CHUNK;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket of bytes: [`RateLimiter::delay`] charges a read and says
/// how long to wait so that reads average `rate` bytes per second. Shared by
/// async and blocking readers (it only computes; the caller sleeps).
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// At most `bytes_per_sec` on average, with bursts of about a tenth of
    /// a second's worth (at least one read).
    pub fn new(bytes_per_sec: u64) -> RateLimiter {
        let rate = bytes_per_sec.max(1) as f64;
        let burst = (rate / 10.0).max(Self::chunk_for(bytes_per_sec) as f64);
        RateLimiter {
            rate,
            burst,
            bucket: Mutex::new((burst, Instant::now())),
        }
    }

    /// The read size that keeps the waits short at this rate.
    pub(super) fn chunk_for(bytes_per_sec: u64) -> usize {
        (bytes_per_sec / 8).clamp(4096, CHUNK as u64) as usize
    }

    /// Charges `n` bytes; the time to wait before reading them.
    pub fn delay(&self, n: u64) -> Duration {
        let mut b = self.bucket.lock().unwrap();
        let now = Instant::now();
        let refill = now.duration_since(b.1).as_secs_f64() * self.rate;
        b.0 = (b.0 + refill).min(self.burst) - n as f64;
        b.1 = now;
        if b.0 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.0 / self.rate)
        }
    }

    pub(super) async fn wait(&self, n: u64) {
        let d = self.delay(n);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }
}
