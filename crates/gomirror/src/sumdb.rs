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
use gomod::tlog::{self, Tile, Tree};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do when the database cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Refuse to admit (the default).
    Strict,
    /// Admit, marked unverified; verify in the background and quarantine
    /// on mismatch.
    Warn,
}

/// A parsed `GOSUMDB` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbConfig {
    /// The database's name (`sum.golang.org`).
    pub name: String,
    /// The verifier key `name+hash+key`.
    pub vkey: String,
    /// Where to reach it (no trailing `/`).
    pub url: String,
}

/// Parses `GOSUMDB` with the go command's rules: `off`; a known name
/// (`sum.golang.org`, and `sum.golang.google.cn` as its alias reached at
/// that host); or a verifier key, optionally followed by the URL to reach
/// the database at (default `https://<name>`). `None` for `off`.
pub fn parse_gosumdb(s: &str) -> Result<Option<DbConfig>, String> {
    let s = s.trim();
    if s == "off" {
        return Ok(None);
    }
    let s = if s == "sum.golang.google.cn" {
        "sum.golang.org https://sum.golang.google.cn"
    } else {
        s
    };
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.is_empty() {
        return Err("missing GOSUMDB".into());
    }
    if fields.len() > 2 {
        return Err("invalid GOSUMDB: too many fields".into());
    }
    let vkey = if fields[0] == "sum.golang.org" {
        note::SUM_GOLANG_ORG_KEY
    } else {
        fields[0]
    };
    let v = note::new_verifier(vkey).map_err(|e| format!("invalid GOSUMDB: {e}"))?;
    let name = note::Verifier::name(&v).to_owned();
    let name_ok = !name.is_empty()
        && !name.ends_with('/')
        && !name.starts_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/:".contains(c));
    if !name_ok {
        return Err(format!("invalid sumdb name (must be host[/path]): {name}"));
    }
    let url = match fields.get(1) {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
            u.trim_end_matches('/').to_owned()
        }
        Some(u) => {
            return Err(format!(
                "invalid GOSUMDB URL {u:?}: expected http:// or https://"
            ))
        }
        None => format!("https://{name}"),
    };
    Ok(Some(DbConfig {
        name,
        vkey: vkey.to_owned(),
        url,
    }))
}

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

/// Reads tiles (from a blocking thread): from the store when kept there
/// (verified on the way out), else from the database unless `offline`; and
/// keeps the tiles a [`tlog::TileHashReader`] checked, through admission.
struct HttpTiles {
    client: Arc<Client>,
    handle: tokio::runtime::Handle,
    /// Keep checked partial tiles too (the `/sumdb/` proxy serves them
    /// stale), not only full ones.
    keep_partial: bool,
    /// Read nothing from the network (re-verifying stale answers).
    offline: bool,
    /// A tile whose data is already at hand (the one being proxied or
    /// re-verified).
    extra: Option<(Tile, Vec<u8>)>,
}

impl HttpTiles {
    fn new(client: Arc<Client>) -> HttpTiles {
        HttpTiles {
            client,
            handle: tokio::runtime::Handle::current(),
            keep_partial: false,
            offline: false,
            extra: None,
        }
    }
}

impl tlog::TileReader for HttpTiles {
    fn height(&self) -> u32 {
        TILE_HEIGHT
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        let c = self.client.clone();
        let tiles = tiles.to_vec();
        let extra = self.extra.clone();
        let offline = self.offline;
        self.handle
            .block_on(async move {
                let mut out = Vec::with_capacity(tiles.len());
                for t in &tiles {
                    match &extra {
                        Some((x, d)) if x == t => out.push(d.clone()),
                        _ => out.push(c.tile(t, offline).await?),
                    }
                }
                Ok::<_, SumdbError>(out)
            })
            .map_err(tlog::Error::reader)
    }
    fn save_tiles(&self, tiles: &[tlog::CheckedTile]) {
        let c = self.client.clone();
        let keep: Vec<tlog::CheckedTile> = tiles
            .iter()
            .filter(|t| {
                let t0 = t.tile();
                t0.w == 1 << t0.h || self.keep_partial
            })
            .cloned()
            .collect();
        self.handle.block_on(async move {
            for t in keep {
                let key = format!("sumdb/{}/{}", c.cfg.name, t.tile().path());
                if let Ok(Some(_)) = c.store.meta(&key).await {
                    continue;
                }
                let admitted = c.store.stage().map_err(|e| e.to_string()).and_then(|st| {
                    crate::admit::sumdb_tile(&key, st, &t, &c.cfg.url).map_err(|e| e.to_string())
                });
                match admitted {
                    Ok(a) => {
                        if let Err(e) = c.store.put(a).await {
                            tracing::warn!(key, "keeping a checked tile: {e}");
                        }
                    }
                    Err(e) => tracing::warn!(key, "keeping a checked tile: {e}"),
                }
            }
        });
    }
}

trait ReadChecked {
    fn read_hashes_checked(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error>;
}

impl<R: tlog::TileReader + ?Sized> ReadChecked for tlog::TileHashReader<'_, R> {
    fn read_hashes_checked(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        tlog::HashReader::read_hashes(self, indexes)
    }
}

/// The tile height the go command's client and sum.golang.org use.
pub const TILE_HEIGHT: u32 = 8;

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
        let resp = self.http.get(&url).send().await.map_err(|e| {
            self.unreachable(format!("GET {url}: {}", crate::util::error_chain(&e)))
        })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            self.unreachable(format!("GET {url}: {}", crate::util::error_chain(&e)))
        })?;
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            let text = String::from_utf8_lossy(&body)
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            return Ok(Err((status.as_u16(), text)));
        }
        if status != reqwest::StatusCode::OK {
            return Err(self.unreachable(format!("GET {url}: {status}")));
        }
        Ok(Ok(body.to_vec()))
    }

    /// A kept object, verified against its record; `None` when absent or
    /// rotten (a rotten copy is logged and not used).
    async fn kept(&self, key: &str) -> Option<Vec<u8>> {
        match crate::verify::read_whole(self.store.as_ref(), key).await {
            Ok(crate::verify::Loaded::Ok(v)) => v.into_bytes().map(|b| b.to_vec()),
            Ok(crate::verify::Loaded::Absent) => None,
            Ok(crate::verify::Loaded::Rotten(kind, msg)) => {
                self.set_aside(key, &format!("{}: {msg}", kind.as_str()))
                    .await;
                None
            }
            Err(e) => {
                tracing::warn!(key, "reading kept checksum-database state: {e}");
                None
            }
        }
    }

    /// The bytes of `tile`: full tiles (any tile when `offline`) from the
    /// store when kept there, else from the database (never when
    /// `offline`). Not trusted until a `TileHashReader` checked them.
    async fn tile(&self, t: &Tile, offline: bool) -> Result<Vec<u8>, SumdbError> {
        let full = t.w == 1 << t.h;
        let key = format!("sumdb/{}/{}", self.cfg.name, t.path());
        if full || offline {
            if let Some(b) = self.kept(&key).await {
                return Ok(b);
            }
        }
        if offline {
            return Err(self.unreachable(format!("tile {} is not kept", t.path())));
        }
        match self.get(&t.path()).await? {
            Ok(b) => Ok(b),
            Err((s, m)) => Err(self.invalid(format!("tile {}: {s} {m}", t.path()))),
        }
    }

    /// Opens a signed tree note with the database's key.
    fn open_tree(&self, signed: &[u8]) -> Result<Tree, SumdbError> {
        crate::admit::open_tree(signed, &self.verifiers).map_err(|e| self.invalid(e))
    }

    /// The latest verified tree, loaded from the store on first use.
    async fn known_latest(&self, guard: &mut Option<(Tree, Vec<u8>)>) -> Option<Tree> {
        if guard.is_none() {
            if let Some(b) = self.kept(&latest_key(&self.cfg.name)).await {
                match self.open_tree(&b) {
                    Ok(t) => *guard = Some((t, b)),
                    Err(e) => tracing::error!("stored checksum-database head does not verify: {e}"),
                }
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
        let staged = self
            .store
            .stage()
            .map_err(|e| self.unreachable(format!("persisting the tree head: {e}")))?;
        let (_, admitted) = crate::admit::sumdb_head(
            &key,
            staged,
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
    pub async fn lookup(
        self: &Arc<Self>,
        module: &str,
        version: &str,
    ) -> Result<Vouch, SumdbError> {
        let mv = format!("{module}@{version}");
        if let Some(v) = self.recent.lock().unwrap().get(&mv) {
            return Ok(v.clone());
        }
        let path = gomod::module::escape_path(module).map_err(|e| self.invalid(e.to_string()))?;
        let ver =
            gomod::module::escape_version(version).map_err(|e| self.invalid(e.to_string()))?;
        let body = match self.get(&format!("lookup/{path}@{ver}")).await? {
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
        // Prove the record is in the signed tree.
        let tiles = HttpTiles::new(self.clone());
        let rec = text.clone();
        tokio::task::spawn_blocking(move || {
            let r = tlog::TileHashReader::new(tree, &tiles);
            let proof = tlog::prove_record(tree.n, id, &r)?;
            tlog::check_record(&proof, tree.n, tree.hash, id, tlog::record_hash(&rec))
        })
        .await
        .map_err(|e| self.invalid(format!("proof task: {e}")))?
        .map_err(|e| self.invalid(format!("lookup {mv}: record proof: {e}")))?;
        let lines =
            tlog::parse_sum_lines(&text).map_err(|e| self.invalid(format!("lookup {mv}: {e}")))?;
        let mut vouch = Vouch {
            zip: None,
            gomod: None,
            tree_size: tree.n,
        };
        let gomod_version = format!("{version}/go.mod");
        for l in lines {
            if l.path != module {
                return Err(self.invalid(format!("lookup {mv}: record is for {}", l.path)));
            }
            if l.version == version {
                vouch.zip = Some(l.hash.to_owned());
            } else if l.version == gomod_version {
                vouch.gomod = Some(l.hash.to_owned());
            } else {
                return Err(
                    self.invalid(format!("lookup {mv}: record is for version {}", l.version))
                );
            }
        }
        self.recent.lock().unwrap().put(mv, vouch.clone());
        Ok(vouch)
    }

    /// A tile for the `/sumdb/` proxy. A hash tile (full or partial) is
    /// served only once its hashes check against the latest verified tree
    /// (refreshed if it does not cover the tile): a kept copy is checked
    /// again each time it is served (and set aside if it no longer checks),
    /// a fetched one is checked and then kept (a tile's path names its
    /// width, so its content never changes). Data tiles, and a partial tile
    /// of another tree size than the verified one, are passed through
    /// unkept (the go command verifies them); a full tile that does not
    /// check is refused.
    pub async fn proxy_tile(
        self: &Arc<Self>,
        t: Tile,
    ) -> Result<Result<Vec<u8>, (u16, String)>, SumdbError> {
        if t.l < 0 || t.h != TILE_HEIGHT {
            return self.get(&t.path()).await;
        }
        let key = format!("sumdb/{}/{}", self.cfg.name, t.path());
        let full = t.w == 1 << t.h;
        let level = t.l as u32 * t.h;
        let last = (t.n << t.h) + u64::from(t.w) - 1;
        let covers = |tree: &Tree| {
            level < 64
                && (last + 1)
                    .checked_shl(level)
                    .is_some_and(|need| need <= tree.n)
        };
        let mut tree = {
            let mut g = self.latest.lock().await;
            self.known_latest(&mut g).await
        };
        if !tree.as_ref().is_some_and(covers) {
            self.fetch_latest().await?;
            tree = self.latest.lock().await.as_ref().map(|(t, _)| *t);
        }
        let Some(tree) = tree.filter(covers) else {
            return self.get(&t.path()).await;
        };
        if let Some(b) = self.kept(&key).await {
            if self.check_tile(tree, t, &b, true).await || self.check_tile(tree, t, &b, false).await
            {
                return Ok(Ok(b));
            }
            self.set_aside(&key, "kept tile does not check against the signed tree")
                .await;
        }
        let data = match self.get(&t.path()).await? {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        if self.check_tile(tree, t, &data, false).await {
            return Ok(Ok(data));
        }
        if full {
            return Err(self.invalid(format!(
                "{}: does not check against the signed tree of size {}",
                t.path(),
                tree.n
            )));
        }
        tracing::debug!(
            tile = t.path(),
            "partial tile not kept: not a tile of the verified tree"
        );
        Ok(Ok(data))
    }

    /// A kept tile, re-verified against the kept signed tree (from kept
    /// tiles only) before it is served stale (the database is down): `None`
    /// when it is not kept or does not check.
    pub async fn stale_tile(self: &Arc<Self>, t: Tile) -> Option<Vec<u8>> {
        if t.l < 0 || t.h != TILE_HEIGHT {
            return None;
        }
        let key = format!("sumdb/{}/{}", self.cfg.name, t.path());
        let data = self.kept(&key).await?;
        let tree = {
            let mut g = self.latest.lock().await;
            self.known_latest(&mut g).await
        }?;
        self.check_tile(tree, t, &data, true).await.then_some(data)
    }

    /// Whether `data` is `t`'s content in the verified `tree`: every hash of
    /// the tile is read through a [`tlog::TileHashReader`] of `tree` (which
    /// checks what it reads against the tree hash), handed this data for
    /// `t` and other tiles from the store (and from the database unless
    /// `offline`), and compared with `data`. Checked tiles are kept.
    async fn check_tile(self: &Arc<Self>, tree: Tree, t: Tile, data: &[u8], offline: bool) -> bool {
        let level = t.l as u32 * t.h;
        let first = t.n << t.h;
        let width = u64::from(t.w);
        if data.len() as u64 != width * tlog::HASH_SIZE as u64 {
            return false;
        }
        let indexes: Vec<u64> = (first..first + width)
            .map(|i| tlog::stored_hash_index(level, i))
            .collect();
        let mut tiles = HttpTiles::new(self.clone());
        tiles.keep_partial = true;
        tiles.offline = offline;
        tiles.extra = Some((t, data.to_vec()));
        let got = tokio::task::spawn_blocking(move || {
            tlog::TileHashReader::new(tree, &tiles).read_hashes_checked(&indexes)
        })
        .await;
        match got {
            Ok(Ok(hashes)) => hashes
                .iter()
                .zip(data.chunks(tlog::HASH_SIZE))
                .all(|(h, d)| h.0[..] == d[..]),
            _ => false,
        }
    }

    /// Takes a kept object out of service (quarantined by the store).
    async fn set_aside(&self, key: &str, why: &str) {
        tracing::error!(key, "kept checksum-database state set aside: {why}");
        if let Err(e) = self.store.quarantine(key, why).await {
            tracing::warn!(key, "setting kept state aside: {e}");
        }
    }

    /// The kept signed tree head, re-verified with the database's key, to
    /// serve stale.
    pub async fn stale_latest(&self) -> Option<Vec<u8>> {
        let b = self.kept(&latest_key(&self.cfg.name)).await?;
        self.open_tree(&b).ok().map(|_| b)
    }

    /// A lookup for the `/sumdb/` proxy (`lookup/<module>@<version>`): the
    /// database's answer, kept (through admission) once its signed tree
    /// verifies, is consistent with the kept one and proves the record; an
    /// answer that does not verify is passed through unkept (the go command
    /// verifies it).
    pub async fn proxy_lookup(
        self: &Arc<Self>,
        path: &str,
    ) -> Result<Result<Vec<u8>, (u16, String)>, SumdbError> {
        let body = match self.get(path).await? {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let key = format!("sumdb/{}/{path}", self.cfg.name);
        if let Err(e) = self.keep_answer(&key, &body).await {
            tracing::warn!(key, "lookup answer not kept: {e}");
        }
        Ok(Ok(body))
    }

    /// The record proof of a lookup answer, built from tiles (kept ones
    /// only when `offline`), and the tree it is proven in.
    async fn answer_proof(
        self: &Arc<Self>,
        body: &[u8],
        offline: bool,
    ) -> Result<tlog::RecordProof, String> {
        let (id, _, signed) = tlog::parse_record(body).map_err(|e| e.to_string())?;
        let tree = self.open_tree(signed).map_err(|e| e.to_string())?;
        if !offline {
            self.merge(tree, signed).await.map_err(|e| e.to_string())?;
        }
        if id >= tree.n {
            return Err(format!("record {id} is not in tree of size {}", tree.n));
        }
        let mut tiles = HttpTiles::new(self.clone());
        tiles.keep_partial = true;
        tiles.offline = offline;
        tokio::task::spawn_blocking(move || {
            let r = tlog::TileHashReader::new(tree, &tiles);
            tlog::prove_record(tree.n, id, &r).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    async fn keep_answer(self: &Arc<Self>, key: &str, body: &[u8]) -> Result<(), String> {
        let proof = self.answer_proof(body, false).await?;
        let staged = self.store.stage().map_err(|e| e.to_string())?;
        let admitted =
            crate::admit::sumdb_answer(key, staged, body, &self.verifiers, &proof, &self.cfg.url)
                .map_err(|e| e.to_string())?;
        self.store.put(admitted).await.map_err(|e| e.to_string())
    }

    /// A kept lookup answer, re-verified (signature, record proof from kept
    /// tiles) before it is served stale.
    pub async fn stale_lookup(self: &Arc<Self>, path: &str) -> Option<Vec<u8>> {
        let key = format!("sumdb/{}/{path}", self.cfg.name);
        let body = self.kept(&key).await?;
        let proof = self.answer_proof(&body, true).await.ok()?;
        crate::admit::check_answer(&body, &self.verifiers, &proof).ok()?;
        Some(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gosumdb_values() {
        assert_eq!(parse_gosumdb("off").unwrap(), None);
        let d = parse_gosumdb("sum.golang.org").unwrap().unwrap();
        assert_eq!(
            (d.name.as_str(), d.url.as_str()),
            ("sum.golang.org", "https://sum.golang.org")
        );
        assert_eq!(d.vkey, note::SUM_GOLANG_ORG_KEY);
        let d = parse_gosumdb("sum.golang.google.cn").unwrap().unwrap();
        assert_eq!(
            (d.name.as_str(), d.url.as_str()),
            ("sum.golang.org", "https://sum.golang.google.cn")
        );
        let (_, vkey) = note::generate_key("db.example.com").unwrap();
        let d = parse_gosumdb(&format!("{vkey} http://127.0.0.1:9/"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.name.as_str(), d.url.as_str()),
            ("db.example.com", "http://127.0.0.1:9")
        );
        for bad in ["", "a b c", "nokey", "sum.golang.org ftp://x"] {
            assert!(parse_gosumdb(bad).is_err(), "{bad:?}");
        }
    }
}
