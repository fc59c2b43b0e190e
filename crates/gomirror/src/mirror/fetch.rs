//! Versioned files: the chain walk, upstream bodies, admission and the
//! checksum database's word.

use super::gate::{FetchCtx, NoTurn};
use super::lookahead::LookAhead;
use super::{Answer, Attempt, Failure, LiveZip, Mirror, NotFound, TryError, Upstream, Walk};
use crate::admit::{self, AdmitError, FailureKind};
use crate::protocol::{versioned_key, FileKind};
use crate::sumdb;
use crate::telemetry::Metrics;
use crate::upstream::{self, Chain, Fallthrough, FetchError, Source};
use crate::verify::Verified;
use futures_util::future::{BoxFuture, FutureExt};
use std::sync::Arc;
use std::time::Duration;

impl Mirror {
    /// A versioned `.info`, `.mod` or `.zip` (canonical version): from the
    /// cache, verified; on a miss or rot, fetched through admission first —
    /// returned once it is committed (what prefetch, healing and `verify
    /// --fix` need: a process may exit right after).
    pub async fn versioned(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
    ) -> Result<Verified, Failure> {
        self.versioned_via(None, module, version, ext).await
    }

    /// [`Mirror::versioned`], fetching (if it is not stored) from `via`
    /// instead of the configured chain when given (`gomirror sync`: the
    /// mirror followed is the only upstream); admission and the checksum
    /// database are the same.
    pub async fn versioned_via(
        self: &Arc<Self>,
        via: Option<Chain>,
        module: &str,
        version: &str,
        ext: FileKind,
    ) -> Result<Verified, Failure> {
        match self
            .answer_via(via, module, version, ext, false, false)
            .await?
        {
            Answer::Whole(v) => Ok(v),
            Answer::Live(_) => unreachable!("live answers are only given when asked for"),
        }
    }

    /// [`Mirror::versioned`] for a client: with `early`, a cold small
    /// object is answered as soon as admission decided (before its
    /// commit); with `live`, a client waiting for a cold zip of at least
    /// 4 MiB is given its bytes as they arrive, the end held back until
    /// admission decides ([`admit::Live`]).
    pub async fn versioned_answer(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
        early: bool,
        live: bool,
    ) -> Result<Answer, Failure> {
        self.answer_via(None, module, version, ext, early, live)
            .await
    }

    async fn answer_via(
        self: &Arc<Self>,
        via: Option<Chain>,
        module: &str,
        version: &str,
        ext: FileKind,
        early: bool,
        live: bool,
    ) -> Result<Answer, Failure> {
        let key = versioned_key(module, version, ext)?;
        if let Some(o) = self.load(&key).await? {
            self.counters.inc("cache", "hit");
            if ext == FileKind::Zip {
                self.budget.served(&key);
            }
            return Ok(Answer::Whole(o));
        }
        // Not a miss when answered from the negative cache.
        if let Some(f) = self.recent_not_found(&key) {
            return Err(f);
        }
        self.counters.inc("cache", "miss");
        let this = self.clone();
        let (m, v) = (module.to_owned(), version.to_owned());
        let budget = if ext == FileKind::Zip {
            self.client.policy.zip_total_timeout
        } else {
            self.client.policy.total_timeout
        };
        let k = key.clone();
        let joined = self.join_flight(&key, budget, ext == FileKind::Zip, move |mut ctx| {
            if ext == FileKind::Zip {
                ctx.zip_of = Some(Arc::new((m.clone(), v.clone())));
            }
            async move {
                this.fleet_singleflight(&k, ctx, |ctx| this.fetch_versioned(&m, &v, ext, ctx, via))
                    .await
            }
        })?;
        let mut flight = joined.flight;
        let shown = joined.early.clone();
        let got_early = |(meta, bytes)| Verified::just_admitted(&key, meta, bytes);
        match joined.live.filter(|_| live) {
            Some(shown) => {
                tokio::select! {
                    r = &mut flight => r?,
                    open = shown.ready() => {
                        if let Some(promised) = open.then(|| shown.join()).flatten() {
                            self.counters.inc("cache", "live");
                            return Ok(Answer::Live(LiveZip {
                                len: promised,
                                body: shown.stream(promised, joined.waiting),
                            }));
                        }
                        flight.await?
                    }
                }
            }
            None if early => {
                tokio::select! {
                    r = &mut flight => r?,
                    e = shown.get() => if let Some(v) = got_early(e) {
                        return Ok(Answer::Whole(v));
                    } else {
                        flight.await?
                    },
                }
            }
            None => flight.await?,
        }
        drop(joined.waiting);
        match self.load(&key).await? {
            Some(mut o) => {
                o.mark_miss();
                Ok(Answer::Whole(o))
            }
            None => Err(Failure::Upstream(Upstream::Unverified {
                what: format!("{module}@{version}"),
                object: "admitted object",
            })),
        }
    }

    /// Singleflight across the fleet: the replica holding the admission
    /// lease of `key` runs `fetch`; the others wait until its record is in
    /// the shared store (or the lease is free again: its holder failed or
    /// died, and one of them takes over). Without a fleet, or with Redis
    /// down, `fetch` runs at once (local singleflight only; the store's
    /// first-writer rule still decides what is kept).
    pub(super) async fn fleet_singleflight<'a, F, Fut>(
        self: &'a Arc<Self>,
        key: &'a str,
        ctx: FetchCtx,
        fetch: F,
    ) -> Result<(), Failure>
    where
        F: FnOnce(FetchCtx) -> Fut,
        Fut: std::future::Future<Output = Result<(), Failure>> + 'a,
    {
        use crate::fleet::LeaseOutcome;
        let Some(fleet) = self.fleet.clone() else {
            return fetch(ctx).await;
        };
        let mut pause = Duration::from_millis(20);
        loop {
            if self.store.meta(key).await?.is_some() {
                self.counters.inc("fleet", "admitted_elsewhere");
                return Ok(());
            }
            match fleet
                .lease(&format!("admit:{key}"), fleet.lease_ttl())
                .await
            {
                LeaseOutcome::Acquired(lease) => {
                    // Committed by the previous holder just before it let go?
                    if self.store.meta(key).await?.is_some() {
                        self.counters.inc("fleet", "admitted_elsewhere");
                        return Ok(());
                    }
                    let r = fetch(ctx).await;
                    drop(lease);
                    return r;
                }
                LeaseOutcome::Down => {
                    self.counters.inc("fleet", "uncoordinated");
                    return fetch(ctx).await;
                }
                LeaseOutcome::Held => {
                    if tokio::time::Instant::now() + pause >= ctx.deadline {
                        return Err(Failure::Upstream(Upstream::TimedOut {
                            what: key.to_owned(),
                            upstream: "the replica admitting it".to_owned(),
                            after: ctx.budget,
                        }));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
            }
        }
    }

    /// Walks the chain for a versioned file until one upstream's content is
    /// admitted and stored.
    pub(super) async fn fetch_versioned(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
        ctx: FetchCtx,
        via: Option<Chain>,
    ) -> Result<(), Failure> {
        let key = versioned_key(module, version, ext)?;
        let chain = via.unwrap_or_else(|| self.chain_for(module));
        self.walk_chain(
            &chain,
            &format!("{module}@{version}.{}", ext.as_str()),
            |src| {
                let this = self.clone();
                let (key, module, version, ctx) = (
                    key.clone(),
                    module.to_owned(),
                    version.to_owned(),
                    ctx.clone(),
                );
                async move {
                    this.try_versioned(&src, &key, &module, &version, ext, &ctx)
                        .await
                }
                .boxed()
            },
        )
        .await
    }

    /// Tries each chain entry with the GOPROXY fall-through rules; content
    /// failing admission always moves on to the next entry.
    pub(super) async fn walk_chain<F>(
        &self,
        chain: &Chain,
        what: &str,
        mut attempt: F,
    ) -> Result<(), Failure>
    where
        F: FnMut(Source) -> BoxFuture<'static, Result<(), TryError>>,
    {
        let mut attempts: Vec<Attempt> = vec![];
        let mut all_not_found = true;
        for (src, fall) in &chain.entries {
            match attempt(src.clone()).await {
                Ok(()) => return Ok(()),
                Err(TryError::NotFound(e)) => attempts.push(Attempt::NotFound(e)),
                Err(TryError::Admit(error)) => {
                    all_not_found = false;
                    attempts.push(Attempt::Refused {
                        upstream: src.name().to_owned(),
                        error,
                    });
                }
                Err(TryError::Store(e)) => {
                    self.store_failure(e.op(), what, &e.to_string());
                    return Err(Failure::Store(Arc::new(e)));
                }
                Err(TryError::Final(f)) => return Err(f),
                Err(TryError::Fetch(e)) => {
                    all_not_found = false;
                    attempts.push(Attempt::Failed(e));
                    if *fall == Fallthrough::OnNotFound {
                        break;
                    }
                }
            }
        }
        let walk = Walk {
            what: what.to_owned(),
            attempts,
        };
        if all_not_found {
            Err(Failure::NotFound(NotFound::Walk(walk)))
        } else {
            Err(Failure::Upstream(Upstream::Walk(walk)))
        }
    }

    /// GETs `rel` from `src` with retries on transient failures (including
    /// truncated bodies), and receives the body into staging: each attempt
    /// waits for its turn at the [`Gate`](super::gate::Gate), and all of it
    /// must be over by the fetch's deadline (for `direct`, only the wait
    /// for a turn: git commands have their own timeout).
    #[tracing::instrument(name = "upstream fetch", skip_all, fields(upstream = src.name(), object = rel))]
    pub(super) async fn fetch_body(
        &self,
        src: &Source,
        rel: &str,
        limit: u64,
        ctx: &FetchCtx,
    ) -> Result<admit::Received, TryError> {
        let retries = self.client.policy.retries;
        let bounded = !matches!(src, Source::Direct);
        let mut attempt = 0;
        loop {
            if bounded && tokio::time::Instant::now() >= ctx.deadline {
                return Err(self.timed_out(src, rel, ctx));
            }
            let r = self.fetch_attempt(src, rel, limit, ctx, bounded).await;
            let retryable = matches!(&r, Err(TryError::Fetch(FetchError::Transient { .. })))
                || matches!(&r, Err(TryError::Admit(e)) if e.kind() == Some(FailureKind::Truncated));
            if r.is_ok() || !retryable || attempt >= retries {
                return r;
            }
            attempt += 1;
            tracing::info!(
                trace_id = crate::util::trace_id().as_deref(),
                attempt,
                upstream = src.name(),
                object = rel,
                "upstream fetch retried"
            );
            let pause = tokio::time::Instant::now() + upstream::backoff(attempt);
            tokio::time::sleep_until(if bounded {
                pause.min(ctx.deadline)
            } else {
                pause
            })
            .await;
        }
    }

    /// One attempt of [`Mirror::fetch_body`].
    async fn fetch_attempt(
        &self,
        src: &Source,
        rel: &str,
        limit: u64,
        ctx: &FetchCtx,
        bounded: bool,
    ) -> Result<admit::Received, TryError> {
        let _turn =
            match tokio::time::timeout_at(ctx.deadline, self.gate.enter(src.name(), &ctx.interest))
                .await
            {
                Err(_) => return Err(self.timed_out(src, rel, ctx)),
                Ok(Err(NoTurn::Abandoned)) => {
                    self.counters.inc("fetches_abandoned", "");
                    tracing::debug!(object = rel, "fetch abandoned: no client waits for it");
                    return Err(TryError::Final(Failure::Upstream(Upstream::Abandoned(
                        rel.to_owned(),
                    ))));
                }
                Ok(Ok(turn)) => turn,
            };
        let io = async {
            self.counters.inc("upstream_requests", src.name());
            let started = std::time::Instant::now();
            let got = self.client.get(src, rel).await;
            Metrics::observe_upstream(&self.counters.metrics, src.name(), started.elapsed());
            self.note_upstream(src.name(), got.as_ref().err());
            match got {
                Ok(body) => {
                    let live = ctx
                        .live
                        .as_ref()
                        .filter(|_| self.room_for(body.declared_len));
                    // A zip goes to a staging file as it arrives; anything
                    // else is read whole to be checked, so it arrives in
                    // memory (and is staged only when committed).
                    let staged = match ctx.zip_of {
                        Some(_) => Some(self.stage()?),
                        None => None,
                    };
                    admit::receive(
                        staged,
                        body,
                        limit,
                        self.client.policy.idle_timeout,
                        live,
                        ctx.zip_of.as_deref().map(|(m, v)| (m.as_str(), v.as_str())),
                    )
                    .await
                    .map_err(|e| self.refuse(e, src.name(), rel))
                }
                Err(e) if e.is_not_found() => Err(TryError::NotFound(e)),
                Err(e) => {
                    self.counters.inc("upstream_errors", src.name());
                    Err(TryError::Fetch(e))
                }
            }
        };
        if !bounded {
            return io.await;
        }
        match tokio::time::timeout_at(ctx.deadline, io).await {
            Ok(r) => r,
            Err(_) => Err(self.timed_out(src, rel, ctx)),
        }
    }

    /// The fetch of `rel` passed its deadline while `src` was being asked
    /// (or waited for): counted, and the end of the walk.
    fn timed_out(&self, src: &Source, rel: &str, ctx: &FetchCtx) -> TryError {
        let f = Upstream::TimedOut {
            what: rel.to_owned(),
            upstream: src.name().to_owned(),
            after: ctx.budget,
        };
        self.counters.inc("upstream_timeouts", src.name());
        self.note_upstream(
            src.name(),
            Some(&FetchError::Transient {
                upstream: src.name().to_owned(),
                msg: f.to_string(),
            }),
        );
        tracing::warn!(
            upstream = src.name(),
            object = rel,
            "upstream timed out: {f}"
        );
        TryError::Final(Failure::Upstream(f))
    }

    /// Stages an upstream body for admission.
    pub(super) fn stage(&self) -> Result<crate::record::Staged, TryError> {
        self.store.stage().map_err(TryError::from)
    }

    /// Commits what admission let in.
    pub(super) async fn commit(self: &Arc<Self>, obj: admit::Admitted) -> Result<(), TryError> {
        let key = obj.key().to_owned();
        let meta = obj.meta().clone();
        let old = self.stored_size(&key).await;
        self.store.put(obj).await.map_err(TryError::from)?;
        self.usage.change(&key, old, Some(meta.size));
        self.committed(&key, &meta);
        Ok(())
    }

    /// Commits a versioned file unless the key already has one (first
    /// writer wins, fleet-wide): `true` when this content is committed,
    /// `false` when another writer's stays (waiting, up to a minute, for a
    /// writer that claimed the key first to finish its commit).
    #[tracing::instrument(name = "store commit", skip_all, fields(object = obj.key(), size = obj.meta().size))]
    pub(super) async fn commit_first(
        self: &Arc<Self>,
        obj: admit::Admitted,
        source: &str,
    ) -> Result<bool, TryError> {
        let key = obj.key().to_owned();
        let meta = obj.meta().clone();
        let ours = meta.sha256.clone();
        match self.store.put_first(obj).await.map_err(TryError::from)? {
            crate::store::Commit::Written => {
                // Written only where no object was: nothing it replaces
                // (the store has just looked; no second read for usage).
                self.usage.change(&key, None, Some(meta.size));
                self.committed(&key, &meta);
                // Admission's hash of these bytes is their first
                // verification (see Verifier::admitted).
                if let Some(fp) = self.store.fingerprint(&key) {
                    self.verifier.admitted(&key, fp);
                }
                Ok(true)
            }
            crate::store::Commit::Kept(m) => {
                self.kept_other(&key, source, &ours, &m.sha256);
                Ok(false)
            }
            crate::store::Commit::Lost => {
                let until = std::time::Instant::now() + Duration::from_secs(60);
                while std::time::Instant::now() < until {
                    if let Some(m) = self.store.meta(&key).await.map_err(TryError::from)? {
                        self.kept_other(&key, source, &ours, &m.sha256);
                        return Ok(false);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(TryError::Final(Failure::Upstream(Upstream::Unverified {
                    what: key,
                    object: "object another replica is committing",
                })))
            }
        }
    }

    /// Another writer committed `key` first: its content stays.
    fn kept_other(&self, key: &str, source: &str, ours: &str, theirs: &str) {
        self.counters.inc("fleet", "kept_first_writer");
        if ours != theirs {
            tracing::warn!(
                object = key,
                upstream = source,
                "another replica admitted different content first; it stays (first writer wins)"
            );
        }
    }

    pub(super) async fn try_versioned(
        self: &Arc<Self>,
        src: &Source,
        key: &str,
        module: &str,
        version: &str,
        ext: FileKind,
        ctx: &FetchCtx,
    ) -> Result<(), TryError> {
        // The checksum database is asked while the body downloads, by this
        // task (its answer is cached: a second attempt asks nothing); a
        // lookup whose answer is not needed finishes in the background.
        let lookup = match ext {
            FileKind::Info => None,
            FileKind::Mod | FileKind::Zip => self.sumdb_for(module).cloned().map(|db| {
                let (m, v) = (module.to_owned(), version.to_owned());
                async move { db.lookup(&m, &v).await }.boxed()
            }),
        };
        let started = std::time::Instant::now();
        let download = self.fetch_body(src, key, admit::max_size(ext), ctx);
        let (received, early) = match lookup {
            Some(l) => {
                let (r, ahead) = LookAhead::beside(l, download).await;
                (r, Some(ahead))
            }
            None => (download.await, None),
        };
        let received = received?;
        let fetched = started.elapsed();
        let refuse = |e: AdmitError| self.refuse(e, src.name(), key);
        // The stored other half of this version, which the content must
        // agree with (`.zip` for a `.mod`, `.mod` for a `.zip`).
        let sibling = match ext {
            FileKind::Info => None,
            FileKind::Mod | FileKind::Zip => {
                let other = if ext == FileKind::Mod {
                    FileKind::Zip
                } else {
                    FileKind::Mod
                };
                let k =
                    versioned_key(module, version, other).map_err(|e| TryError::Final(e.into()))?;
                match self.pending_meta(&k) {
                    Some(m) => Some(m),
                    None => self.store.meta(&k).await.ok().flatten(),
                }
            }
        };
        let checked =
            admit::check_versioned(received, module, version, ext, sibling.as_ref(), src.name())
                .await
                .map_err(refuse)?;
        // Once logged in the mirror's own checksum database, never
        // different.
        if let Some(log) = self.ownlog() {
            if let Some((zip, gomod)) = log.logged(module, version) {
                let want = if ext == FileKind::Zip { zip } else { gomod };
                if ext != FileKind::Info {
                    admit::check_logged(
                        &checked,
                        &format!("{module}@{version}.{}", ext.as_str()),
                        &want,
                        log.name(),
                    )
                    .map_err(refuse)?;
                }
            }
        }
        // A zip served before and evicted since must come back the same.
        if ext == FileKind::Zip {
            if let Some(before) = self.served_before(key).await.map_err(TryError::Final)? {
                admit::check_served_before(&checked, &format!("{module}@{version}.zip"), &before)
                    .map_err(refuse)?;
            }
        }
        let checked_at = started.elapsed();
        let admissible = if ext == FileKind::Info {
            checked.admit_unvouched()
        } else {
            self.vouch(module, version, ext, checked, src, key, early)
                .await?
        };
        let size = admissible.size();
        let decided = started.elapsed();
        // Live clients get the end of the bytes once they are admitted; on
        // shared storage only once committed (a replica never serves bytes
        // the fleet might not keep: another replica may commit first).
        let live = ctx.live.as_deref().filter(|_| ext == FileKind::Zip);
        let shared = self.store.shared().is_some();
        // The same for a small object's bytes (answered from memory).
        let early = admissible.in_memory().map(|(m, b)| (m.clone(), b.clone()));
        let decide = || {
            if let Some(live) = live {
                live.decide(size);
            }
            if let Some((m, b)) = early.clone() {
                ctx.early.set(m, b);
            }
        };
        // Clients answered early leave before the commit ends: the fetch is
        // still wanted meanwhile (a client arriving joins it instead of
        // starting another).
        let _committing = ctx.interest.join();
        // Until the commit ends, its record stands for the stored one where
        // the other half of the version is checked against it (a client
        // answered early asks for that half next; only its h1 lines are
        // read, which are known).
        let _pending = Pending::note(self, key, admissible.record_so_far());
        if !shared {
            decide();
            // The clients just answered wait in this worker's next-task
            // slot (no other worker takes from it): they go first, the
            // commit after them.
            tokio::task::yield_now().await;
        }
        // A zip's SHA-256 (for its record) may still be computing: clients
        // did not wait for it, the commit does.
        let admitted = admissible
            .admit()
            .await
            .map_err(|e| self.refuse(e, src.name(), key))?;
        let hashed = started.elapsed();
        let ours = admitted.meta().sha256.clone();
        let ours_meta = admitted.meta().clone();
        if !self.commit_first(admitted, src.name()).await? {
            if shared
                && self
                    .store
                    .meta(key)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|m| m.sha256 == ours)
            {
                decide();
            }
            return Ok(());
        }
        if shared {
            decide();
        }
        if ext == FileKind::Zip {
            if let Err(e) = self.log_zip(module, version, &ours_meta).await {
                tracing::warn!(object = key, "not logged in the own checksum database: {e}");
            }
        }
        self.counters.inc("admitted", ext.as_str());
        tracing::info!(
            trace_id = crate::util::trace_id().as_deref(),
            object = key,
            upstream = src.name(),
            size,
            fetch_ms = fetched.as_millis() as u64,
            check_ms = (checked_at - fetched).as_millis() as u64,
            vouch_ms = (decided - checked_at).as_millis() as u64,
            hash_wait_ms = (hashed - decided).as_millis() as u64,
            commit_ms = (started.elapsed() - hashed).as_millis() as u64,
            "admitted"
        );
        Ok(())
    }

    /// Asks the checksum database about checked content before it is
    /// committed; admission compares its answer with the content's `h1:`
    /// and records the tree size that vouched for it. A mismatch refuses
    /// this upstream's content (the next is tried); a database that is
    /// unreachable (strict mode), lying or without the version ends the
    /// walk.
    // The version, the content and where it came from, and the lookup
    // begun with its download: each is needed, and they belong together
    // only here.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn vouch(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
        checked: admit::Checked,
        src: &Source,
        key: &str,
        early: Option<LookAhead>,
    ) -> Result<admit::Admissible, TryError> {
        let Some(db) = self.sumdb_for(module).cloned() else {
            return Ok(checked.admit_unvouched());
        };
        let h1 = checked.h1().unwrap_or_default().to_owned();
        // The lookup started with the download, else one now.
        let looked = match early {
            Some(ahead) => ahead.answer().await,
            None => db.lookup(module, version).await,
        };
        match looked {
            Ok(v) => {
                let want = if ext == FileKind::Zip { v.zip } else { v.gomod };
                match checked.admit_vouched(&db.cfg.name, want.as_deref(), v.tree_size) {
                    Ok(a) => {
                        self.counters.inc("sumdb_vouched", ext.as_str());
                        Ok(a)
                    }
                    Err(e) => {
                        let kind = e.kind().unwrap_or(FailureKind::Sumdb);
                        self.integrity_failure(kind, src.name(), key, &e.to_string());
                        tracing::error!(
                            alert = "sumdb_mismatch",
                            upstream = src.name(),
                            object = key,
                            "{}",
                            e
                        );
                        Err(TryError::Admit(e))
                    }
                }
            }
            Err(sumdb::SumdbError::Unreachable { msg, .. })
                if self.sumdb_mode == sumdb::Unreachable::Warn =>
            {
                tracing::warn!(
                    object = key,
                    "admitting unverified (checksum database unreachable): {msg}"
                );
                self.counters.inc("sumdb_unverified", ext.as_str());
                let (this, m, v, k) = (
                    self.clone(),
                    module.to_owned(),
                    version.to_owned(),
                    key.to_owned(),
                );
                tokio::spawn(async move { this.verify_later(&m, &v, ext, &k, &h1).await });
                Ok(checked.admit_unvouched())
            }
            Err(e @ sumdb::SumdbError::NotFound { .. }) => {
                Err(TryError::Final(Failure::NotFound(NotFound::Sumdb(e))))
            }
            Err(e) => {
                if matches!(e, sumdb::SumdbError::Invalid { .. }) {
                    self.integrity_failure(FailureKind::Sumdb, &db.cfg.name, key, &e.to_string());
                }
                Err(TryError::Final(Failure::Upstream(Upstream::Sumdb(e))))
            }
        }
    }

    /// Warn mode: keeps asking the database about an object admitted
    /// unverified (with backoff, for about an hour) and quarantines it if
    /// the database disagrees.
    pub(super) async fn verify_later(
        self: Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
        key: &str,
        h1: &str,
    ) {
        let Some(db) = self.sumdb_for(module).cloned() else {
            return;
        };
        for delay in [2u64, 10, 60, 300, 900, 1800] {
            tokio::time::sleep(Duration::from_secs(delay)).await;
            match db.lookup(module, version).await {
                Ok(v) => {
                    let want = if ext == FileKind::Zip { v.zip } else { v.gomod };
                    if crate::verify::h1_matches(want.as_deref(), h1) {
                        tracing::info!(
                            object = key,
                            tree = v.tree_size,
                            "verified later by the checksum database"
                        );
                    } else {
                        let msg = format!(
                            "checksum database {} has {:?}, stored {h1}",
                            db.cfg.name, want
                        );
                        self.quarantine(key, FailureKind::Sumdb, &msg).await;
                    }
                    return;
                }
                Err(sumdb::SumdbError::Unreachable { .. }) => continue,
                Err(e) => {
                    self.quarantine(key, FailureKind::Sumdb, &e.to_string())
                        .await;
                    return;
                }
            }
        }
    }
}

/// A record admitted and answered but not yet committed, noted for as long
/// as the commit runs (see [`Mirror::pending_meta`]).
struct Pending<'a>(&'a Mirror, String);

impl<'a> Pending<'a> {
    fn note(m: &'a Mirror, key: &str, meta: &crate::record::Meta) -> Pending<'a> {
        m.pending
            .lock()
            .unwrap()
            .insert(key.to_owned(), meta.clone());
        Pending(m, key.to_owned())
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.pending.lock().unwrap().remove(&self.1);
    }
}

impl Mirror {
    /// Whether the store has room for a body of `declared` bytes (twice
    /// that, or twice the largest zip when the length is not declared) —
    /// a zip goes live only then: a disk filling up mid-way could only cut
    /// a stream whose status was sent, where a waiting client gets a clear
    /// 503.
    fn room_for(&self, declared: Option<u64>) -> bool {
        let need = declared.unwrap_or(admit::MAX_ZIP).saturating_mul(2);
        self.store.free_space().is_none_or(|free| free >= need)
    }

    /// The record of `key` admitted (and maybe answered) whose commit has
    /// not ended yet.
    fn pending_meta(&self, key: &str) -> Option<crate::record::Meta> {
        self.pending.lock().unwrap().get(key).cloned()
    }

    /// The keys under `prefix` admitted whose commit has not ended yet.
    pub(super) fn pending_keys(&self, prefix: &str) -> Vec<String> {
        let p = self.pending.lock().unwrap();
        p.keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }
}
