//! Answers that change over time (`list`, `@latest`, queries): cached
//! briefly, served stale when every upstream fails.

use super::{Failure, Mirror, Upstream};
use crate::admit;
use crate::protocol::escaped_module as escaped;
use crate::verify::Verified;
use futures_util::future::FutureExt;
use std::sync::Arc;
use std::sync::Mutex;

impl Mirror {
    /// `@v/list`: fresh from the cache within the TTL, else from upstream;
    /// when every upstream fails, the last list (marked stale) merged with
    /// the versions present in the cache.
    pub async fn list(self: &Arc<Self>, module: &str) -> Result<Verified, Failure> {
        let key = crate::protocol::list_key(module)?;
        self.volatile(module, &key, "@v/list", admit::Volatile::List)
            .await
    }

    /// `@latest`: like `list`, the answer is cached briefly, served stale
    /// when every upstream fails.
    pub async fn latest(self: &Arc<Self>, module: &str) -> Result<Verified, Failure> {
        let key = crate::protocol::latest_key(module)?;
        self.volatile(module, &key, "@latest", admit::Volatile::Latest)
            .await
    }

    pub(super) async fn volatile(
        self: &Arc<Self>,
        module: &str,
        key: &str,
        rel_suffix: &'static str,
        kind: admit::Volatile,
    ) -> Result<Verified, Failure> {
        let cached = self.load(key).await?;
        if let Some(o) = &cached {
            if crate::util::now_unix().saturating_sub(o.meta().admitted_at)
                < self.list_ttl.as_secs().max(1)
            {
                self.counters.inc("cache", "hit");
                return Ok(cached.expect("checked"));
            }
        }
        let this = self.clone();
        let (m, k) = (module.to_owned(), key.to_owned());
        let r = self
            .singleflight(key, async move {
                let rel = format!("{}/{rel_suffix}", escaped(&m)?);
                let chain = this.chain_for(&m);
                let this2 = this.clone();
                this.walk_chain(&chain, &format!("{m}/{rel_suffix}"), move |src| {
                    let this = this2.clone();
                    let (rel, k) = (rel.clone(), k.clone());
                    async move {
                        let received = this.fetch_body(&src, &rel, kind.limit()).await?;
                        let admitted = kind
                            .admit(&k, &received, this.stage()?, src.name())
                            .map_err(|e| this.refuse(e, src.name(), &k))?;
                        this.verifier.forget(&k);
                        this.commit(admitted).await
                    }
                    .boxed()
                })
                .await
            })
            .await;
        match r {
            Ok(()) => {
                self.counters.inc("cache", "miss");
                let mut o = self.load(key).await?.ok_or_else(|| {
                    Failure::Upstream(Upstream::Unverified {
                        what: format!("{module}/{rel_suffix}"),
                        object: "stored answer",
                    })
                })?;
                o.mark_miss();
                Ok(o)
            }
            Err(f) => {
                let is_list = rel_suffix == "@v/list";
                if let Some(mut o) = cached {
                    self.counters.inc("cache", "stale");
                    tracing::warn!(module, "serving stale {rel_suffix}: {f}");
                    if is_list {
                        o = self.merge_cached_versions(module, o).await?;
                    }
                    o.mark_stale();
                    return Ok(o);
                }
                if is_list {
                    let versions = self.cached_versions(module).await?;
                    if !versions.is_empty() {
                        self.counters.inc("cache", "stale");
                        return Ok(Verified::version_list(
                            key,
                            None,
                            versions,
                            matches!(f, Failure::Upstream(_)),
                        ));
                    }
                }
                Err(f)
            }
        }
    }

    /// Versions of `module` present in the cache (any of .info/.mod/.zip),
    /// excluding pseudo-versions, sorted.
    pub(super) async fn cached_versions(&self, module: &str) -> Result<Vec<String>, Failure> {
        let prefix = format!("{}/@v/", escaped(module)?);
        let keys = self.store.list(&prefix).await.map_err(Failure::from)?;
        let mut out: Vec<String> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter_map(|f| f.rsplit_once('.').map(|(v, _)| v))
            .filter_map(|v| gomod::module::unescape_version(v).ok())
            .filter(|v| gomod::semver::is_valid(v) && !gomod::pseudo::is_pseudo_version(v))
            .collect();
        gomod::semver::sort(&mut out);
        out.dedup();
        Ok(out)
    }

    pub(super) async fn merge_cached_versions(
        &self,
        module: &str,
        o: Verified,
    ) -> Result<Verified, Failure> {
        if o.bytes().is_none() {
            return Ok(o);
        }
        let cached = self.cached_versions(module).await?;
        Ok(Verified::version_list(o.key(), Some(&o), cached, true))
    }

    /// `.info` for a non-canonical query (a branch, a commit, `v1.2`):
    /// forwarded to the upstreams, answered with the canonical info, which
    /// is also admitted under its canonical version.
    pub async fn query_info(
        self: &Arc<Self>,
        module: &str,
        query: &str,
    ) -> Result<Verified, Failure> {
        let q = crate::protocol::escaped_version(query)?;
        let rel = format!("{}/@v/{q}.info", escaped(module)?);
        let chain = self.chain_for(module);
        let result: Arc<Mutex<Option<admit::QueryInfo>>> = Arc::default();
        let this = self.clone();
        let res2 = result.clone();
        self.walk_chain(&chain, &format!("{module}@{query}.info"), move |src| {
            let this = this.clone();
            let rel = rel.clone();
            let res = res2.clone();
            let module = module.to_owned();
            async move {
                let received = this.fetch_body(&src, &rel, admit::MAX_INFO).await?;
                let mut answer = admit::query_info(received, &module, src.name())
                    .map_err(|e| this.refuse(e, src.name(), &rel))?;
                if let Some(a) = answer.take_admitted() {
                    if matches!(this.store.meta(a.key()).await, Ok(None)) {
                        this.commit(a).await?;
                    }
                }
                *res.lock().unwrap() = Some(answer);
                Ok(())
            }
            .boxed()
        })
        .await?;
        let answer = result.lock().unwrap().take().expect("set on success");
        Ok(Verified::query_answer(
            &format!("query:{module}@{query}"),
            answer,
        ))
    }
}
