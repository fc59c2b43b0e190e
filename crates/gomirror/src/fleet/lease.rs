//! Leases: `SET NX PX` with a fencing number, refreshed while held,
//! released by compare-and-delete (a lease that expired and was taken by
//! another replica is never released or refreshed by its old holder).

use super::Fleet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Refreshes the lease if it is still ours: `KEYS[1]` the lease,
/// `ARGV[1]` our token, `ARGV[2]` the new time to live (ms).
const REFRESH: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Deletes the lease if it is still ours.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// What an attempt to take a lease found.
pub enum LeaseOutcome {
    /// Ours until dropped (or lost: see [`Lease::lost`]).
    Acquired(Lease),
    /// Another replica holds it.
    Held,
    /// Redis cannot be reached: nobody can coordinate.
    Down,
}

/// A held lease. Refreshed every third of its time to live; released when
/// dropped.
pub struct Lease {
    fleet: Arc<Fleet>,
    key: String,
    token: String,
    lost: Arc<AtomicBool>,
    refresher: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Whether a refresh found the lease taken or expired (its work may
    /// overlap another holder's from then on).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.refresher.abort();
        let (f, k, t) = (self.fleet.clone(), self.key.clone(), self.token.clone());
        tokio::spawn(async move {
            let _ = f
                .run(|mut c| async move {
                    redis::Script::new(RELEASE)
                        .key(k)
                        .arg(t)
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await;
        });
    }
}

pub(super) async fn acquire(fleet: &Arc<Fleet>, name: &str, ttl: Duration) -> LeaseOutcome {
    let key = fleet.key(&format!("lease:{name}"));
    let fence = fleet.key("fence");
    let n: i64 = match fleet
        .run(|mut c| async move { redis::cmd("INCR").arg(fence).query_async(&mut c).await })
        .await
    {
        Ok(n) => n,
        Err(_) => return LeaseOutcome::Down,
    };
    let token = format!("{n}/{}", fleet.cfg.replica);
    let ms = ttl.as_millis().max(1) as u64;
    let (k, t) = (key.clone(), token.clone());
    let set: Result<Option<String>, _> = fleet
        .run(|mut c| async move {
            redis::cmd("SET")
                .arg(k)
                .arg(t)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query_async(&mut c)
                .await
        })
        .await;
    match set {
        Err(_) => LeaseOutcome::Down,
        Ok(None) => LeaseOutcome::Held,
        Ok(Some(_)) => {
            let lost = Arc::new(AtomicBool::new(false));
            let refresher = {
                let (f, k, t, lost) = (fleet.clone(), key.clone(), token.clone(), lost.clone());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(ttl / 3).await;
                        let (k, t) = (k.clone(), t.clone());
                        let r = f
                            .run(|mut c| async move {
                                redis::Script::new(REFRESH)
                                    .key(k)
                                    .arg(t)
                                    .arg(ms)
                                    .invoke_async::<i64>(&mut c)
                                    .await
                            })
                            .await;
                        // Unreachable Redis: keep trying until it expires.
                        if let Ok(0) = r {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                })
            };
            LeaseOutcome::Acquired(Lease {
                fleet: fleet.clone(),
                key,
                token,
                lost,
                refresher,
            })
        }
    }
}
