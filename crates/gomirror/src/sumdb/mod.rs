//! The checksum-database client and the `/sumdb/` proxy.
//!
//! Trust model: the database is trusted only through its verifier key
//! (`GOSUMDB`). Every signed tree head is checked against that key, every
//! tree head is checked to be consistent with the last one this mirror
//! verified (kept in the store, so a restart keeps the memory), and every
//! record is checked to be in the signed tree with a record proof built from
//! tiles that are themselves checked against the tree hash. Only then is
//! the record's `h1:` compared with the content being admitted. A tree that
//! is inconsistent with the one seen before means a forked or lying log:
//! it is refused, an alert is raised, and the old head is kept.

use crate::store::Store;
use gomod::note;
use gomod::tlog::{self, Tree};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod bundle;
mod config;
mod proxy;
mod tiles;

pub use bundle::{vouch_of, Proofs};
pub use config::{parse_gosumdb, DbConfig, Unreachable};
use tiles::HttpTiles;

/// Why the database could not vouch for content.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SumdbError {
    /// The database says this module version does not exist.
    #[error("checksum database {db}: {module}@{version} not found: {msg}")]
    NotFound {
        db: String,
        module: String,
        version: String,
        msg: String,
    },
    /// The database could not be reached or answered with an error.
    #[error("checksum database {db} unreachable: {msg}")]
    Unreachable { db: String, msg: String },
    /// The database's answer failed verification (bad signature, bad
    /// proof, malformed record, truncated tile).
    #[error("checksum database {db}: invalid answer: {msg}")]
    Invalid { db: String, msg: String },
    /// The signed tree is inconsistent with one verified before: a forked
    /// or lying log.
    #[error("checksum database {db}: FORK: tree {new_n} is inconsistent with verified tree {old_n}: {msg}")]
    Fork {
        db: String,
        old_n: u64,
        new_n: u64,
        msg: String,
    },
}

/// Why a checksum-database client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The verifier key is malformed.
    #[error(transparent)]
    Key(#[from] note::Error),
    /// The HTTP client could not be built (TLS set-up).
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// The database's word on one module version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouch {
    /// `h1:` of the zip.
    pub zip: Option<String>,
    /// `h1:` of the go.mod.
    pub gomod: Option<String>,
    /// Size of the signed tree the record was proven in.
    pub tree_size: u64,
}

/// A checksum-database client with the go command's semantics.
pub struct Client {
    pub cfg: DbConfig,
    verifiers: note::VerifierList,
    http: reqwest::Client,
    store: Arc<dyn Store>,
    /// The latest tree head verified (and its signed note), loaded from the
    /// store on first use.
    latest: tokio::sync::Mutex<Option<(Tree, Vec<u8>)>>,
    /// Recent lookups (module@version → vouch), so a .mod and a .zip share one.
    recent: Mutex<lru::LruCache<String, Vouch>>,
    /// What an imported bundle's proofs vouch for (module@version →
    /// vouch), checked offline (`gomirror import`): lookups are answered
    /// from it without the database.
    imported: Mutex<std::collections::HashMap<String, Vouch>>,
    /// Tiles a [`tlog::TileHashReader`] checked against a verified tree
    /// (tile path → the tile as checked, with that tree), as the go
    /// command keeps them: a tile's path names its level, index and width,
    /// so its content never changes (a log that changed it would fail
    /// every proof read through it). Lookups then read no tile twice, from
    /// the database or the store; a proof in the tree the tile was last
    /// checked against is read from it without hashing it again.
    checked_tiles: Mutex<lru::LruCache<String, Arc<tlog::CheckedTile>>>,
    /// Lookup answers this client proved (`lookup/<module>@<version>` →
    /// when, body): the go command asks the `/sumdb/` proxy the same
    /// question right after the mirror asked it to admit the version, and
    /// is answered from here for [`ANSWER_REUSED`].
    answers: Mutex<lru::LruCache<String, ProvenAnswer>>,
    /// The last signed tree note whose signature verified, and its tree:
    /// the very same bytes open without checking the signature again
    /// (every lookup answer carries the current note).
    opened: Mutex<Option<(Vec<u8>, Tree)>>,
    /// Fork alerts raised (also logged at error level).
    pub forks: std::sync::atomic::AtomicU64,
    /// Where forks are reported and the verified tree size is exported.
    alerts: std::sync::OnceLock<(
        Arc<crate::telemetry::Metrics>,
        Arc<crate::telemetry::Events>,
    )>,
}

fn latest_key(name: &str) -> String {
    format!("sumdb/{name}/latest")
}

/// The largest answer read from the database for `path`: a hash tile of
/// height 8 is 8 KiB, a data tile (256 records) well under 1 MiB, a signed
/// tree head or a lookup answer a few hundred bytes (64 KiB leaves room for
/// many signatures). Anything larger is refused as it arrives, never held.
fn answer_cap(path: &str) -> u64 {
    match path.strip_prefix("tile/") {
        Some(t) if t.contains("/data/") => 1 << 20,
        Some(_) => (1u64 << TILE_HEIGHT) * tlog::HASH_SIZE as u64,
        None => 64 << 10,
    }
}

/// The tile height the go command's client and sum.golang.org use.
pub const TILE_HEIGHT: u32 = 8;

/// A lookup answer the mirror proved: when, and the body.
type ProvenAnswer = (std::time::Instant, Arc<Vec<u8>>);

/// How long a lookup answer the mirror proved answers the same lookup
/// through the `/sumdb/` proxy (as proxy.golang.org caches the database's
/// answers): the go command checks it like any other (an older signed
/// tree than its own is proven a prefix of it).
const ANSWER_REUSED: Duration = Duration::from_secs(60);

/// Checked tiles kept in memory: a hash tile is 8 KiB, so at most 8 MiB
/// (a proof in a tree of a billion records reads 4 levels of tiles; a few
/// thousand lookups touch far fewer than this many tiles).
const CHECKED_TILES: usize = 1024;

impl Client {
    /// A client for the database `cfg`, keeping its state in `store`.
    pub fn new(
        cfg: DbConfig,
        store: Arc<dyn Store>,
        timeout: Duration,
    ) -> Result<Arc<Client>, SetupError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let verifiers = note::VerifierList::from_keys([cfg.vkey.as_str()])?;
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout * 3)
            .user_agent(concat!("gomirror/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Arc::new(Client {
            cfg,
            verifiers,
            http,
            store,
            latest: tokio::sync::Mutex::new(None),
            recent: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(4096).expect("non-zero"),
            )),
            imported: Mutex::default(),
            checked_tiles: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(CHECKED_TILES).expect("non-zero"),
            )),
            opened: Mutex::new(None),
            answers: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(4096).expect("non-zero"),
            )),
            forks: Default::default(),
            alerts: std::sync::OnceLock::new(),
        }))
    }

    /// Reports forks and the verified tree size to these metrics and events.
    pub fn set_alerts(
        &self,
        metrics: Arc<crate::telemetry::Metrics>,
        events: Arc<crate::telemetry::Events>,
    ) {
        let _ = self.alerts.set((metrics, events));
    }

    fn unreachable(&self, msg: impl Into<String>) -> SumdbError {
        SumdbError::Unreachable {
            db: self.cfg.name.clone(),
            msg: msg.into(),
        }
    }

    fn invalid(&self, msg: impl Into<String>) -> SumdbError {
        SumdbError::Invalid {
            db: self.cfg.name.clone(),
            msg: msg.into(),
        }
    }

    /// GETs `path` (relative to the database URL): the body of a 200, or
    /// `Ok(Err(status, text))` for a 404/410.
    async fn get(&self, path: &str) -> Result<Result<Vec<u8>, (u16, String)>, SumdbError> {
        let url = format!("{}/{path}", self.cfg.url);
        let mut resp = self.http.get(&url).send().await.map_err(|e| {
            self.unreachable(format!("GET {url}: {}", crate::util::error_chain(&e)))
        })?;
        let status = resp.status();
        let cap = answer_cap(path);
        let too_large = |n: u64| {
            self.invalid(format!(
                "GET {url}: answer of {n} bytes or more is larger than the {cap} bytes allowed"
            ))
        };
        if let Some(n) = resp.content_length().filter(|&n| n > cap) {
            return Err(too_large(n));
        }
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.unreachable(format!("GET {url}: {}", crate::util::error_chain(&e))))?
        {
            if body.len() as u64 + chunk.len() as u64 > cap {
                return Err(too_large(body.len() as u64 + chunk.len() as u64));
            }
            body.extend_from_slice(&chunk);
        }
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            // The database's own words are logged; clients get the status
            // line (no upstream text is relayed).
            let text: String = String::from_utf8_lossy(&body)
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            tracing::info!(db = %self.cfg.name, %status, body = %text.escape_debug(), "checksum database: not found");
            return Ok(Err((
                status.as_u16(),
                format!("{}: {status}", self.cfg.name),
            )));
        }
        if status != reqwest::StatusCode::OK {
            return Err(self.unreachable(format!("GET {url}: {status}")));
        }
        Ok(Ok(body))
    }

    /// A kept object, verified against its record; `None` when absent or
    /// rotten (a rotten copy is logged and not used).
    async fn kept(&self, key: &str) -> Option<Vec<u8>> {
        use crate::verify::KeptError;
        match crate::verify::read_kept(self.store.as_ref(), key).await {
            Ok(b) => b.map(|b| b.to_vec()),
            Err(KeptError::Rotten { kind, msg, .. }) => {
                self.set_aside(key, &format!("{}: {msg}", kind.as_str()))
                    .await;
                None
            }
            Err(KeptError::Read(e)) => {
                tracing::warn!(key, "reading kept checksum-database state: {e}");
                None
            }
        }
    }

    /// Opens a signed tree note with the database's key (a note equal,
    /// byte for byte, to the last one that verified is that tree).
    fn open_tree(&self, signed: &[u8]) -> Result<Tree, SumdbError> {
        if let Some((b, t)) = &*self.opened.lock().unwrap() {
            if b[..] == signed[..] {
                return Ok(*t);
            }
        }
        let t = crate::admit::open_tree(signed, &self.verifiers).map_err(|e| self.invalid(e))?;
        *self.opened.lock().unwrap() = Some((signed.to_vec(), t));
        Ok(t)
    }

    /// The latest verified tree: the newer of the one this process holds
    /// and the one in the store. On shared storage the store's is read
    /// again each time (replicas of a fleet share the store, so a head one
    /// of them verified is every replica's reference: a fork is detected
    /// whichever replica sees it); on a store of its own, this process
    /// wrote the stored head itself, so it is read once.
    async fn known_latest(&self, guard: &mut Option<(Tree, Vec<u8>)>) -> Option<Tree> {
        if guard.is_some() && self.store.shared().is_none() {
            return guard.as_ref().map(|(t, _)| *t);
        }
        if let Some(b) = self.kept(&latest_key(&self.cfg.name)).await {
            match self.open_tree(&b) {
                Ok(t) => {
                    if guard.as_ref().is_none_or(|(g, _)| t.n > g.n) {
                        *guard = Some((t, b));
                    }
                }
                Err(e) => tracing::error!("stored checksum-database head does not verify: {e}"),
            }
        }
        guard.as_ref().map(|(t, _)| *t)
    }

    /// Accepts a verified signed tree: it must be consistent with the last
    /// verified tree (proved with tiles); the newer of the two is kept (and
    /// persisted). An inconsistent tree is a fork: refused, alerted.
    async fn merge(self: &Arc<Self>, tree: Tree, signed: &[u8]) -> Result<(), SumdbError> {
        let mut guard = self.latest.lock().await;
        let old = self.known_latest(&mut guard).await;
        let mut proof = tlog::TreeProof::new();
        if let Some(old) = old {
            let consistent = if tree.n == old.n {
                if tree.hash == old.hash {
                    Ok(())
                } else {
                    Err("same size, different hash".to_owned())
                }
            } else {
                let (big, small) = if tree.n > old.n {
                    (tree, old)
                } else {
                    (old, tree)
                };
                self.prove_tree(big, small).await.map(|p| proof = p)
            };
            if let Err(msg) = consistent {
                self.forks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let e = SumdbError::Fork {
                    db: self.cfg.name.clone(),
                    old_n: old.n,
                    new_n: tree.n,
                    msg,
                };
                tracing::error!(alert = "sumdb_fork", "{e}");
                if let Some((m, ev)) = self.alerts.get() {
                    m.sumdb_forks.inc();
                    ev.record(
                        "sumdb_fork",
                        &self.cfg.name,
                        &latest_key(&self.cfg.name),
                        &e.to_string(),
                        m,
                    );
                }
                return Err(e);
            }
            if tree.n <= old.n {
                return Ok(());
            }
        }
        let key = latest_key(&self.cfg.name);
        let (_, admitted) = crate::admit::sumdb_head(
            &key,
            signed,
            &self.verifiers,
            old.map(|o| (o, proof.as_slice())),
            &self.cfg.url,
        )
        .map_err(|e| self.invalid(e.to_string()))?;
        self.store
            .put(admitted)
            .await
            .map_err(|e| self.unreachable(format!("persisting the tree head: {e}")))?;
        *guard = Some((tree, signed.to_vec()));
        if let Some((m, _)) = self.alerts.get() {
            m.sumdb_tree_size
                .set(i64::try_from(tree.n).unwrap_or(i64::MAX));
        }
        Ok(())
    }

    /// Proves that `small` is a prefix of `big` (a tree proof from tiles of
    /// `big`), returning the checked proof; `Err` with the reason when it
    /// is not.
    async fn prove_tree(
        self: &Arc<Self>,
        big: Tree,
        small: Tree,
    ) -> Result<tlog::TreeProof, String> {
        let tiles = HttpTiles::new(self.clone());
        tokio::task::spawn_blocking(move || {
            let r = tlog::TileHashReader::new(big, &tiles);
            let proof = tlog::prove_tree(big.n, small.n, &r).map_err(|e| e.to_string())?;
            tlog::check_tree(&proof, big.n, big.hash, small.n, small.hash)
                .map_err(|e| e.to_string())?;
            Ok(proof)
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Fetches, verifies and merges the database's latest signed tree;
    /// returns the signed note as served.
    pub async fn fetch_latest(self: &Arc<Self>) -> Result<Vec<u8>, SumdbError> {
        let body = match self.get("latest").await? {
            Ok(b) => b,
            Err((s, m)) => return Err(self.unreachable(format!("latest: {s} {m}"))),
        };
        let tree = self.open_tree(&body)?;
        self.merge(tree, &body).await?;
        Ok(body)
    }

    /// The database's `h1:` lines for `module@version`, proven: the signed
    /// tree verified and merged, the record proven in it.
    #[tracing::instrument(name = "checksum database lookup", skip_all, fields(db = %self.cfg.name, module = %module, version = %version))]
    pub async fn lookup(
        self: &Arc<Self>,
        module: &str,
        version: &str,
    ) -> Result<Vouch, SumdbError> {
        let mv = format!("{module}@{version}");
        if let Some(v) = self.recent.lock().unwrap().get(&mv) {
            return Ok(v.clone());
        }
        if let Some(v) = self.imported.lock().unwrap().get(&mv) {
            return Ok(v.clone());
        }
        let path = gomod::module::escape_path(module).map_err(|e| self.invalid(e.to_string()))?;
        let ver =
            gomod::module::escape_version(version).map_err(|e| self.invalid(e.to_string()))?;
        let question = format!("lookup/{path}@{ver}");
        let body = match self.get(&question).await? {
            Ok(b) => b,
            Err((_, msg)) => {
                return Err(SumdbError::NotFound {
                    db: self.cfg.name.clone(),
                    module: module.into(),
                    version: version.into(),
                    msg,
                })
            }
        };
        let (id, text, signed) =
            tlog::parse_record(&body).map_err(|e| self.invalid(format!("lookup {mv}: {e}")))?;
        let (text, signed) = (text.to_vec(), signed.to_vec());
        let tree = self.open_tree(&signed)?;
        if id >= tree.n {
            return Err(self.invalid(format!(
                "lookup {mv}: record {id} is not in tree of size {}",
                tree.n
            )));
        }
        self.merge(tree, &signed).await?;
        // Prove the record is in the signed tree: from the tiles in memory
        // when they are all there (no I/O, read here), else from the store
        // and the database on a blocking thread.
        let prove = move |r: &dyn tlog::HashReader, rec: &[u8]| {
            let proof = tlog::prove_record(tree.n, id, r)?;
            tlog::check_record(&proof, tree.n, tree.hash, id, tlog::record_hash(rec))
        };
        let in_memory = prove(
            &tlog::TileHashReader::new(tree, &tiles::MemTiles(self)),
            &text,
        );
        if in_memory.is_err() {
            let tiles = HttpTiles::new(self.clone());
            let rec = text.clone();
            tokio::task::spawn_blocking(move || {
                prove(&tlog::TileHashReader::new(tree, &tiles), &rec)
            })
            .await
            .map_err(|e| self.invalid(format!("proof task: {e}")))?
            .map_err(|e| self.invalid(format!("lookup {mv}: record proof: {e}")))?;
        }
        let vouch =
            bundle::vouch_of(module, version, &text, tree.n).map_err(|e| self.invalid(e))?;
        self.recent.lock().unwrap().put(mv, vouch.clone());
        // The proven answer serves the go command's same lookup through the
        // proxy, and is kept (for when the database is down) meanwhile.
        let body = Arc::new(body);
        self.answers
            .lock()
            .unwrap()
            .put(question.clone(), (std::time::Instant::now(), body.clone()));
        let this = self.clone();
        tokio::spawn(async move {
            let key = format!("sumdb/{}/{question}", this.cfg.name);
            if let Err(e) = this.keep_answer(&key, &body).await {
                tracing::warn!(key, "lookup answer not kept: {e}");
            }
        });
        Ok(vouch)
    }

    /// Takes a kept object out of service (quarantined by the store).
    async fn set_aside(&self, key: &str, why: &str) {
        tracing::error!(key, "kept checksum-database state set aside: {why}");
        if let Err(e) = self.store.quarantine(key, why).await {
            tracing::warn!(key, "setting kept state aside: {e}");
        }
    }
}
