//! The change feed: a pub/sub subscription that each replica keeps open,
//! reconnecting with backoff. While it is connected the store's
//! [`crate::store::Coordination`] has a live epoch (local records are
//! current); each reconnection starts a new epoch, so records checked
//! before a gap are checked again.

use super::Fleet;
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Starts the subscription loop; it ends when the fleet is dropped.
pub(super) fn spawn(fleet: Arc<Fleet>) {
    let weak = Arc::downgrade(&fleet);
    drop(fleet);
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(100);
        loop {
            let Some(f) = weak.upgrade() else { return };
            let chan = f.key("changed");
            let client = f.client.clone();
            let connect = async {
                let mut ps = client.get_async_pubsub().await?;
                ps.subscribe(&chan).await?;
                Ok::<_, redis::RedisError>(ps)
            };
            match tokio::time::timeout(Duration::from_secs(2), connect).await {
                Ok(Ok(mut ps)) => {
                    f.coord.connected();
                    f.up.store(true, Ordering::SeqCst);
                    tracing::info!("fleet change feed connected");
                    delay = Duration::from_millis(100);
                    let mut msgs = ps.on_message();
                    drop(f);
                    while let Some(m) = msgs.next().await {
                        let Some(f) = weak.upgrade() else { return };
                        if let Ok(payload) = m.get_payload::<String>() {
                            f.received(&payload);
                        }
                    }
                    let Some(f) = weak.upgrade() else { return };
                    f.coord.disconnected();
                    f.failed("change feed disconnected".to_owned());
                }
                Ok(Err(e)) => {
                    f.coord.disconnected();
                    f.failed(format!("change feed: {e}"));
                }
                Err(_) => {
                    f.coord.disconnected();
                    f.failed("change feed: no answer in time".to_owned());
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    });
}
