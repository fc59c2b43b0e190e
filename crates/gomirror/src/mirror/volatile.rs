//! Answers that change over time (`list`, `@latest`, queries): cached
//! briefly, served stale when every upstream fails.
//!
//! A list may name up to [`admit::MAX_LIST_VERSIONS`] versions: cleaning,
//! sorting and merging one is CPU work of up to a second and tens of MB,
//! done on the blocking pool ([`off_thread`]), a few lists at a time, so
//! the async threads keep answering and memory stays bounded.

use super::gate::FetchCtx;
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
        let budget = self.client.policy.total_timeout;
        let r = self
            .singleflight(key, budget, move |ctx| async move {
                let rel = format!("{}/{rel_suffix}", escaped(&m)?);
                let chain = this.chain_for(&m);
                let this2 = this.clone();
                this.walk_chain(&chain, &format!("{m}/{rel_suffix}"), move |src| {
                    let this = this2.clone();
                    let (rel, k, ctx) = (rel.clone(), k.clone(), ctx.clone());
                    async move {
                        let received = this.fetch_body(&src, &rel, kind.limit(), &ctx).await?;
                        let (key, origin) = (k.clone(), src.name().to_owned());
                        let admitted = off_thread(move || kind.admit(&key, &received, &origin))
                            .await
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
                        let (key, stale) = (key.to_owned(), matches!(f, Failure::Upstream(_)));
                        return off_thread(move || {
                            Ok(Verified::version_list(&key, None, versions, stale))
                        })
                        .await;
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
        let mut keys = self.store.list(&prefix).await.map_err(Failure::from)?;
        // Admitted and answered, still committing: cached all the same.
        keys.extend(self.pending_keys(&prefix));
        off_thread(move || {
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
        })
        .await
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
        off_thread(move || Ok(Verified::version_list(o.key(), Some(&o), cached, true))).await
    }

    /// `.info` for a non-canonical query (a branch, a commit, `v1.2`):
    /// forwarded to the upstreams, answered with the canonical info, which
    /// is also admitted under its canonical version. Not shared between
    /// callers (each gets the answer its walk found), but bounded like every
    /// fetch, and a recent "no upstream has it" is answered from memory.
    pub async fn query_info(
        self: &Arc<Self>,
        module: &str,
        query: &str,
    ) -> Result<Verified, Failure> {
        let q = crate::protocol::escaped_version(query)?;
        let rel = format!("{}/@v/{q}.info", escaped(module)?);
        if let Some(f) = self.recent_not_found(&rel) {
            return Err(f);
        }
        let chain = self.chain_for(module);
        let result: Arc<Mutex<Option<admit::QueryInfo>>> = Arc::default();
        let this = self.clone();
        let res2 = result.clone();
        let ctx = FetchCtx::new(self.client.policy.total_timeout);
        let _waiting = ctx.interest.join();
        let rel2 = rel.clone();
        let walked = self
            .walk_chain(&chain, &format!("{module}@{query}.info"), move |src| {
                let this = this.clone();
                let rel = rel2.clone();
                let res = res2.clone();
                let module = module.to_owned();
                let ctx = ctx.clone();
                async move {
                    let received = this.fetch_body(&src, &rel, admit::MAX_INFO, &ctx).await?;
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
            .await;
        self.negative.note(&rel, &walked);
        walked?;
        let answer = result.lock().unwrap().take().expect("set on success");
        Ok(Verified::query_answer(
            &format!("query:{module}@{query}"),
            answer,
        ))
    }
}

/// Lists worked on at once (the others wait).
static LIST_WORK: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Runs CPU work (list cleaning, sorting, merging) on the blocking pool,
/// at most [`LIST_WORK`] at a time.
async fn off_thread<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<TaskFailed> + Send + 'static,
{
    let _turn = LIST_WORK.acquire().await.expect("never closed");
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(TaskFailed(e.to_string()).into()))
}

/// A blocking task that ended without an answer (it panicked).
struct TaskFailed(String);

impl From<TaskFailed> for Failure {
    fn from(e: TaskFailed) -> Failure {
        Failure::Upstream(Upstream::Task(e.0))
    }
}

impl From<TaskFailed> for admit::AdmitError {
    fn from(e: TaskFailed) -> admit::AdmitError {
        admit::AdmitError::Staging {
            step: "list task",
            cause: e.0,
        }
    }
}
