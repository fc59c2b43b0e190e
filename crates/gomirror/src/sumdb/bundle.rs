//! The checksum-database part of an air-gapped bundle (`gomirror export`,
//! `gomirror import`): one signed tree head, each version's record as a
//! lookup answer signed by that head, and exactly the tiles the go
//! command's proofs of those records in that tree read — enough to verify
//! every record offline, and for the importing mirror to serve
//! `/sumdb/<db>/latest`, `lookup/...` and `tile/...` to go clients that
//! cannot reach the database.

use super::tiles::HttpTiles;
use super::{latest_key, Client, SumdbError, Vouch, TILE_HEIGHT};
use gomod::tlog::{self, CheckedTile, Tile, Tree};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// What a bundle carries for the checksum database.
#[derive(Debug, Clone, Default)]
pub struct Proofs {
    /// The signed tree head every answer is proven in.
    pub latest: Vec<u8>,
    /// `lookup/<escaped module>@<escaped version>` → the lookup answer
    /// (record, then `latest`).
    pub answers: BTreeMap<String, Vec<u8>>,
    /// `tile/8/...` → the tile's data.
    pub tiles: BTreeMap<String, Vec<u8>>,
}

/// Records the tiles a [`tlog::TileHashReader`] checked, from another
/// reader.
struct Recording<R> {
    inner: R,
    seen: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl<R: tlog::TileReader> Recording<R> {
    fn note(&self, tiles: &[CheckedTile]) {
        let mut s = self.seen.lock().unwrap();
        for t in tiles {
            s.insert(t.tile().path(), t.data().to_vec());
        }
    }
}

impl<R: tlog::TileReader> tlog::TileReader for Recording<R> {
    fn height(&self) -> u32 {
        self.inner.height()
    }
    fn checked_before(&self, tiles: &[Tile], tree: Tree) -> Option<Vec<CheckedTile>> {
        let got = self.inner.checked_before(tiles, tree)?;
        self.note(&got);
        Some(got)
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        self.inner.read_tiles(tiles)
    }
    fn save_tiles(&self, tiles: &[CheckedTile]) {
        self.note(tiles);
        self.inner.save_tiles(tiles);
    }
}

/// Tiles from a bundle only; what it lacks is an error naming the tile.
struct BundleTiles<'a> {
    tiles: &'a BTreeMap<String, Vec<u8>>,
    checked: Mutex<HashMap<String, CheckedTile>>,
}

impl tlog::TileReader for BundleTiles<'_> {
    fn height(&self) -> u32 {
        TILE_HEIGHT
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        tiles
            .iter()
            .map(|t| {
                self.tiles.get(&t.path()).cloned().ok_or_else(|| {
                    tlog::Error::reader(format!("{} is not in the bundle", t.path()))
                })
            })
            .collect()
    }
    fn save_tiles(&self, tiles: &[CheckedTile]) {
        let mut c = self.checked.lock().unwrap();
        for t in tiles {
            c.insert(t.tile().path(), t.clone());
        }
    }
}

impl Client {
    /// The proofs of `versions` (module, version) for a bundle: each
    /// record looked up, then proven, with the tiles it takes, in the
    /// latest signed tree (fetched after the lookups, so it holds them all).
    ///
    /// With `consistent_with` (the tree size an importing mirror already
    /// keeps), the tiles that prove the latest tree extends that one are
    /// included too.
    pub async fn bundle_proofs(
        self: &Arc<Self>,
        versions: &[(String, String)],
        consistent_with: Option<u64>,
    ) -> Result<Proofs, SumdbError> {
        let mut records = vec![];
        for (m, v) in versions {
            let q = lookup_path(m, v).map_err(|e| self.invalid(e))?;
            let body = match self.get(&q).await? {
                Ok(b) => b,
                Err((_, msg)) => {
                    return Err(SumdbError::NotFound {
                        db: self.cfg.name.clone(),
                        module: m.clone(),
                        version: v.clone(),
                        msg,
                    })
                }
            };
            let (id, text, _) = tlog::parse_record(&body)
                .map_err(|e| self.invalid(format!("lookup {m}@{v}: {e}")))?;
            records.push((q, id, text.to_vec()));
        }
        let latest = self.fetch_latest().await?;
        let tree = self.open_tree(&latest)?;
        let rec = Recording {
            inner: HttpTiles::new(self.clone()),
            seen: Mutex::default(),
        };
        let ids: Vec<(String, u64, Vec<u8>)> = records.clone();
        if let Some(m) = consistent_with {
            if m > tree.n {
                return Err(self.invalid(format!(
                    "--consistent-with {m}: the database's latest tree has {} records",
                    tree.n
                )));
            }
        }
        let rec = tokio::task::spawn_blocking(move || {
            if let Some(m) = consistent_with.filter(|&m| m > 0 && m < tree.n) {
                let r = tlog::TileHashReader::new(tree, &rec);
                tlog::prove_tree(tree.n, m, &r)
                    .map_err(|e| format!("proof that tree {} extends tree {m}: {e}", tree.n))?;
            }
            for (q, id, text) in &ids {
                let r = tlog::TileHashReader::new(tree, &rec);
                let proof = tlog::prove_record(tree.n, *id, &r)
                    .map_err(|e| format!("{q}: proof in tree {}: {e}", tree.n))?;
                tlog::check_record(&proof, tree.n, tree.hash, *id, tlog::record_hash(text))
                    .map_err(|e| format!("{q}: {e}"))?;
            }
            Ok::<_, String>(rec)
        })
        .await
        .map_err(|e| self.invalid(format!("proof task: {e}")))?
        .map_err(|e| self.invalid(e))?;
        let mut answers = BTreeMap::new();
        for (q, id, text) in records {
            let mut body =
                tlog::format_record(id, &text).map_err(|e| self.invalid(format!("{q}: {e}")))?;
            body.extend_from_slice(&latest);
            answers.insert(q, body);
        }
        Ok(Proofs {
            latest,
            answers,
            tiles: rec.seen.into_inner().unwrap(),
        })
    }

    /// Verifies a bundle's proofs with this database's key and nothing
    /// else (no network): the head's signature, and every answer's record
    /// in that head's tree from the bundle's tiles. Returns what each
    /// answer vouches for (`module@version` → hashes), or why the bundle
    /// is refused (naming the answer or tile). Nothing is kept.
    ///
    /// `kept`: the signed tree this mirror keeps, if any. The bundle's must
    /// be that one, or extend it — proven by the bundle's tiles (exported
    /// with `--consistent-with <kept size>`); a bundle whose tree does not
    /// extend it is a fork of the log, refused.
    pub fn check_proofs(
        &self,
        p: &Proofs,
        kept: Option<Tree>,
    ) -> Result<(HashMap<String, Vouch>, Checked), String> {
        let tree = self
            .open_tree(&p.latest)
            .map_err(|e| format!("the bundle's signed tree head: {e}"))?;
        let tiles = BundleTiles {
            tiles: &p.tiles,
            checked: Mutex::default(),
        };
        let mut extends = None;
        match kept {
            Some(old) if old.n > tree.n => {
                return Err(format!(
                    "the bundle's signed tree ({} records) is older than the one this mirror keeps ({}): export again",
                    tree.n, old.n
                ))
            }
            Some(old) if old.n == tree.n && old.hash != tree.hash => {
                return Err(format!(
                    "FORK: the bundle's signed tree of {} records has hash {}, the one this mirror keeps has {}",
                    tree.n, tree.hash, old.hash
                ))
            }
            Some(old) if old.n == tree.n => {}
            Some(old) => {
                let r = tlog::TileHashReader::new(tree, &tiles);
                let proof = tlog::prove_tree(tree.n, old.n, &r).map_err(|e| {
                    format!(
                        "this mirror keeps the signed tree of {} records; the bundle holds no proof that its tree ({}) extends it ({e}): export it with --consistent-with {}",
                        old.n, tree.n, old.n
                    )
                })?;
                tlog::check_tree(&proof, tree.n, tree.hash, old.n, old.hash).map_err(|e| {
                    format!(
                        "FORK: the bundle's signed tree ({} records) does not extend the one this mirror keeps ({}): {e}",
                        tree.n, old.n
                    )
                })?;
                extends = Some((old, proof));
            }
            None => {}
        }
        let mut vouches = HashMap::new();
        let mut proofs = HashMap::new();
        for (q, body) in &p.answers {
            let (module, version) = parse_lookup_path(q)?;
            let (id, text, signed) = tlog::parse_record(body).map_err(|e| format!("{q}: {e}"))?;
            if signed != p.latest.as_slice() {
                return Err(format!(
                    "{q}: signed by another tree head than the bundle's"
                ));
            }
            if id >= tree.n {
                return Err(format!(
                    "{q}: record {id} is not in the tree of size {}",
                    tree.n
                ));
            }
            let r = tlog::TileHashReader::new(tree, &tiles);
            let proof = tlog::prove_record(tree.n, id, &r)
                .map_err(|e| format!("{q}: record proof: {e}"))?;
            tlog::check_record(&proof, tree.n, tree.hash, id, tlog::record_hash(text))
                .map_err(|e| format!("{q}: record proof: {e}"))?;
            let v = vouch_of(&module, &version, text, tree.n)?;
            vouches.insert(format!("{module}@{version}"), v);
            proofs.insert(q.clone(), proof);
        }
        // Tiles no proof read are not part of what was verified.
        let checked = tiles.checked.into_inner().unwrap();
        if let Some(extra) = p.tiles.keys().find(|k| !checked.contains_key(*k)) {
            return Err(format!("{extra}: a tile no proof in the bundle needs"));
        }
        Ok((
            vouches,
            Checked {
                tree,
                tiles: checked.into_values().collect(),
                proofs,
                extends,
            },
        ))
    }

    /// Keeps checked proofs in the store (the head, the answers, the tiles,
    /// each through admission), so that `serve` answers `/sumdb/` from
    /// them when the database cannot be reached; and lets admission in
    /// this process use the vouches without asking the database.
    pub async fn keep_proofs(
        self: &Arc<Self>,
        p: &Proofs,
        checked: Checked,
        vouches: HashMap<String, Vouch>,
        origin: &str,
    ) -> Result<(), String> {
        // The bundle's head, unless it is the one kept (check_proofs proved
        // it extends the kept one otherwise).
        if self.kept_tree().await != Some(checked.tree) {
            let last = checked.extends.as_ref().map(|(t, p)| (*t, p.as_slice()));
            let (_, head) = crate::admit::sumdb_head(
                &latest_key(&self.cfg.name),
                &p.latest,
                &self.verifiers,
                last,
                origin,
            )
            .map_err(|e| e.to_string())?;
            self.store.put(head).await.map_err(|e| e.to_string())?;
            *self.latest.lock().await = Some((checked.tree, p.latest.clone()));
        }
        for t in &checked.tiles {
            let key = format!("sumdb/{}/{}", self.cfg.name, t.tile().path());
            let a = crate::admit::sumdb_tile(&key, t, origin).map_err(|e| e.to_string())?;
            self.store.put(a).await.map_err(|e| e.to_string())?;
        }
        for (q, body) in &p.answers {
            let key = format!("sumdb/{}/{q}", self.cfg.name);
            let proof = checked
                .proofs
                .get(q)
                .ok_or_else(|| format!("{q}: not proven"))?;
            let a = crate::admit::sumdb_answer(&key, body, &self.verifiers, proof, origin)
                .map_err(|e| e.to_string())?;
            self.store.put(a).await.map_err(|e| e.to_string())?;
        }
        self.imported.lock().unwrap().extend(vouches);
        Ok(())
    }
}

impl Client {
    /// The signed tree this mirror keeps, verified with the key.
    pub async fn kept_tree(&self) -> Option<Tree> {
        let b = self.kept(&latest_key(&self.cfg.name)).await?;
        self.open_tree(&b).ok()
    }
}

/// Proofs checked by [`Client::check_proofs`], to keep.
pub struct Checked {
    tree: Tree,
    tiles: Vec<CheckedTile>,
    proofs: HashMap<String, tlog::RecordProof>,
    /// The kept tree the bundle's extends, and the proof.
    extends: Option<(Tree, tlog::TreeProof)>,
}

/// `lookup/<escaped module>@<escaped version>`.
fn lookup_path(module: &str, version: &str) -> Result<String, String> {
    let p = gomod::module::escape_path(module).map_err(|e| e.to_string())?;
    let v = gomod::module::escape_version(version).map_err(|e| e.to_string())?;
    Ok(format!("lookup/{p}@{v}"))
}

fn parse_lookup_path(q: &str) -> Result<(String, String), String> {
    let bad = || format!("{q}: not a lookup path");
    let (p, v) = q
        .strip_prefix("lookup/")
        .and_then(|r| r.rsplit_once('@'))
        .ok_or_else(bad)?;
    let m = gomod::module::unescape_path(p).map_err(|_| bad())?;
    let v = gomod::module::unescape_version(v).map_err(|_| bad())?;
    Ok((m, v))
}

/// What a record's go.sum lines vouch for `module@version`: the lines must
/// all be about that version (its zip, its go.mod).
pub fn vouch_of(module: &str, version: &str, text: &[u8], tree_size: u64) -> Result<Vouch, String> {
    let mv = format!("{module}@{version}");
    let lines = tlog::parse_sum_lines(text).map_err(|e| format!("lookup {mv}: {e}"))?;
    let mut vouch = Vouch {
        zip: None,
        gomod: None,
        tree_size,
    };
    let gomod_version = format!("{version}/go.mod");
    for l in lines {
        if l.path != module {
            return Err(format!("lookup {mv}: record is for {}", l.path));
        }
        if l.version == version {
            vouch.zip = Some(l.hash.to_owned());
        } else if l.version == gomod_version {
            vouch.gomod = Some(l.hash.to_owned());
        } else {
            return Err(format!("lookup {mv}: record is for version {}", l.version));
        }
    }
    Ok(vouch)
}
