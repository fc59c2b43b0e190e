//! Healing: a rotten object quarantined and fetched again through
//! admission.

use super::{FixOutcome, Rotten};
use crate::mirror::Mirror;
use crate::protocol::parse_versioned_key;
use std::sync::Arc;

/// Quarantines a rotten object and, for a versioned file, fetches it again
/// through admission.
pub(super) async fn heal(mirror: &Arc<Mirror>, rot: &Rotten) -> FixOutcome {
    let msg = format!("scrub: {}: {}", rot.kind.as_str(), rot.reason);
    mirror
        .quarantine(&rot.key, rot.kind.failure_kind(), &msg)
        .await;
    if let Ok(Some(_)) = mirror.store().meta(&rot.key).await {
        if parse_versioned_key(&rot.key).is_none() {
            return FixOutcome::Failed("the quarantine did not take the object out".into());
        }
    }
    match parse_versioned_key(&rot.key) {
        Some((module, version, ext)) => match mirror.versioned(&module, &version, ext).await {
            Ok(_) => {
                tracing::info!(key = rot.key, "scrub: healed");
                FixOutcome::Healed
            }
            Err(e) => FixOutcome::Failed(e.to_string()),
        },
        None => FixOutcome::Removed,
    }
}
