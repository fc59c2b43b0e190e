//! The `/cached-only/` door (as proxy.golang.org's): answers only from
//! what is stored, never asking an upstream — a versioned file if it is
//! stored, `list` and `@latest` from the versions stored, 404 otherwise
//! (so a go command's GOPROXY list falls through to its next entry).

use super::{Failure, Mirror, NotFound};
use crate::protocol::{latest_key, list_key, versioned_key, FileKind, ProxyRequest};
use crate::verify::Verified;
use std::sync::Arc;

impl Mirror {
    /// Answers `req` from the store alone (see the module documentation).
    /// `@latest` is the highest stored release, else the highest stored
    /// pre-release (pseudo-versions are never `@latest` here: without an
    /// upstream, which commit is newest cannot be told); queries other than
    /// exact versions are not found.
    pub async fn cached_only(self: &Arc<Self>, req: &ProxyRequest) -> Result<Verified, Failure> {
        let not_cached = |what: String| Failure::NotFound(NotFound::NotCached(what));
        match req {
            ProxyRequest::Versioned {
                module,
                version,
                kind,
            } => {
                let key = versioned_key(module, version, *kind)?;
                match self.load(&key).await? {
                    Some(o) => {
                        self.counters.inc("cache", "hit");
                        Ok(o)
                    }
                    None => Err(not_cached(format!("{module}@{version}.{}", kind.as_str()))),
                }
            }
            ProxyRequest::List { module } => {
                let key = list_key(module)?;
                let versions = self.cached_versions(module).await?;
                if versions.is_empty() {
                    return Err(not_cached(format!("{module}/@v/list")));
                }
                Ok(Verified::version_list(&key, None, versions, false))
            }
            ProxyRequest::Latest { module } => {
                latest_key(module)?;
                let versions = self.cached_versions(module).await?;
                let best = versions
                    .iter()
                    .rev()
                    .find(|v| gomod::semver::prerelease(v).is_empty())
                    .or(versions.last());
                let Some(v) = best else {
                    return Err(not_cached(format!("{module}@latest")));
                };
                let key = versioned_key(module, v, FileKind::Info)?;
                match self.load(&key).await? {
                    Some(o) => Ok(o),
                    None => Err(not_cached(format!("{module}@latest ({v}.info)"))),
                }
            }
            ProxyRequest::Query { module, query } => Err(not_cached(format!("{module}@{query}"))),
        }
    }
}
