//! The mirror's own checksum database (`GOMIRROR_SUMDB_NAME`,
//! `GOMIRROR_SUMDB_KEY_FILE`): a transparency log, in sum.golang.org's
//! format, of every module version the mirror admitted — private ones too
//! — served under `/sumdb/<name>/` (`supported`, `latest`,
//! `lookup/<module>@<version>`, `tile/8/...` with partial tiles), so that
//! go clients with `GOSUMDB=<the log's verifier key>` check every module
//! with the go command's own proofs.
//!
//! State in the store, each piece through admission: record `i` under
//! `ownlog/<name>/record/<i>` (the version's two go.sum lines), then the
//! signed head under `ownlog/<name>/latest`. An append writes the record
//! first and the head after; an answer is given only from a head, so a
//! crash between the two loses nothing that was answered: at start the
//! records past the head are signed into a new head. The stored hashes
//! (what tiles are made of) and the version → record index are rebuilt in
//! memory from the records at start. One appender at a time: in a fleet,
//! an append takes the Redis lease `ownlog/<name>` (the sequencer), first
//! reads the records other replicas appended (so every replica serves one
//! tree, and a version is logged once), and writes its record and head
//! only while the lease holds; other replicas catch up when the change
//! feed announces a new head, or at their next append or lookup.

use crate::admit;
use crate::store::Store;
use gomod::note;
use gomod::tlog::{self, Hash, Tile, Tree};
use std::collections::HashMap;
use std::sync::Arc;

/// Tile height of the log (the go command's).
const HEIGHT: u32 = 8;

/// Why the log cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum OwnLogError {
    #[error("checksum database {name}: {msg}")]
    Failed { name: String, msg: String },
    /// The version is logged with other hashes (once logged, never
    /// different).
    #[error("checksum database {name}: {mv} is logged with {logged}, not {offered}: once logged, never different")]
    Different {
        name: String,
        mv: String,
        logged: String,
        offered: String,
    },
}

/// The log.
pub struct OwnLog {
    name: String,
    signer: note::Ed25519Signer,
    verifiers: note::VerifierList,
    vkey: String,
    store: Arc<dyn Store>,
    /// The fleet whose replicas share the log (the appender's lease).
    fleet: Option<Arc<crate::fleet::Fleet>>,
    /// Held by whoever reads the store's log or appends to it in this
    /// process (one at a time); readers of `data` do not wait for it.
    turn: tokio::sync::Mutex<()>,
    /// The tree as held in memory, changed only under `turn` and only
    /// for a moment (never across an await).
    data: std::sync::RwLock<Data>,
}

/// What the log holds. Records past `tree` (read or appended, not signed
/// yet) may be held; answers are given only from `tree`.
#[derive(Default)]
struct Data {
    /// Every stored hash of the records held, in order
    /// (`tlog::stored_hash_index`).
    hashes: Vec<Hash>,
    n: u64,
    /// `module@version` → record id.
    index: HashMap<String, u64>,
    /// Record texts, by id.
    records: Vec<Arc<Vec<u8>>>,
    signed: Vec<u8>,
    tree: Option<Tree>,
}

impl OwnLog {
    /// Opens the log `name` with the signer key `skey` on `store`: reads its
    /// records and head; signs the records past the head (a crash between
    /// a record and its head) into a new head.
    pub async fn open(
        store: Arc<dyn Store>,
        fleet: Option<Arc<crate::fleet::Fleet>>,
        name: &str,
        skey: &str,
    ) -> Result<Arc<OwnLog>, OwnLogError> {
        let fail = |msg: String| OwnLogError::Failed {
            name: name.to_owned(),
            msg,
        };
        let signer = note::new_signer(skey).map_err(|e| fail(format!("signer key: {e}")))?;
        let vkey = signer.verifier().vkey();
        if !vkey.starts_with(&format!("{name}+")) {
            return Err(fail(format!(
                "the key file's key is for another name ({vkey})"
            )));
        }
        let verifiers =
            note::VerifierList::from_keys([vkey.as_str()]).map_err(|e| fail(e.to_string()))?;
        let log = Arc::new(OwnLog {
            name: name.to_owned(),
            signer,
            verifiers,
            vkey,
            store,
            fleet,
            turn: tokio::sync::Mutex::default(),
            data: Default::default(),
        });
        log.load().await?;
        Ok(log)
    }

    fn fail(&self, msg: impl Into<String>) -> OwnLogError {
        OwnLogError::Failed {
            name: self.name.clone(),
            msg: msg.into(),
        }
    }

    fn record_key(&self, id: u64) -> String {
        format!("ownlog/{}/record/{id:020}", self.name)
    }

    fn head_key(&self) -> String {
        format!("ownlog/{}/latest", self.name)
    }

    /// A stored object, verified against its record.
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, OwnLogError> {
        use crate::verify::KeptError;
        match crate::verify::read_kept(self.store.as_ref(), key).await {
            Ok(b) => Ok(b.map(|b| b.to_vec())),
            Err(e @ KeptError::Rotten { .. }) => {
                Err(self.fail(format!("{e}: the log is not served")))
            }
            Err(e) => Err(self.fail(format!("reading {key}: {e}"))),
        }
    }

    async fn load(&self) -> Result<(), OwnLogError> {
        let _turn = self.turn.lock().await;
        self.catch_up().await?;
        if self.behind() {
            // Records past the head (a crash between a record and its
            // head): signed into a new head, by the appender.
            match self.sequencer().await? {
                Some(_lease) => {
                    self.catch_up().await?;
                    if self.behind() {
                        self.sign().await?;
                    }
                }
                None => self.sign().await?,
            }
        }
        Ok(())
    }

    /// Whether records are held that no signed head covers.
    fn behind(&self) -> bool {
        let d = self.data.read().unwrap();
        d.tree.map(|t| t.n) != Some(d.n)
    }

    /// Reads the records and the head other appenders (or an earlier run)
    /// kept beyond what is held (the caller holds `turn`).
    async fn catch_up(&self) -> Result<(), OwnLogError> {
        let keys = self
            .store
            .list(&format!("ownlog/{}/record/", self.name))
            .await
            .map_err(|e| self.fail(e.to_string()))?;
        let held = self.data.read().unwrap().n as usize;
        for (i, key) in keys.iter().enumerate().skip(held) {
            if *key != self.record_key(i as u64) {
                return Err(self.fail(format!("record {i} is missing (found {key})")));
            }
            let text = self
                .read(key)
                .await?
                .ok_or_else(|| self.fail(format!("{key} vanished")))?;
            self.add(text)?;
        }
        let Some(signed) = self.read(&self.head_key()).await? else {
            return Ok(());
        };
        let mut d = self.data.write().unwrap();
        if signed == d.signed {
            return Ok(());
        }
        let n = note::open(&signed, &self.verifiers)
            .map_err(|e| self.fail(format!("kept head: {e}")))?;
        let tree = tlog::parse_tree(n.text.as_bytes())
            .map_err(|e| self.fail(format!("kept head: {e}")))?;
        if tree.n > d.n {
            return Err(self.fail(format!(
                "the kept head has {} records, the store {}",
                tree.n, d.n
            )));
        }
        let h = tlog::tree_hash(tree.n, &d.hashes).map_err(|e| self.fail(e.to_string()))?;
        if h != tree.hash {
            return Err(self.fail(format!(
                "the records do not hash to the kept head of {} records",
                tree.n
            )));
        }
        if d.tree.is_none_or(|t| t.n <= tree.n) {
            d.tree = Some(tree);
            d.signed = signed;
        }
        Ok(())
    }

    /// Catches up with what other replicas appended (on a change notice).
    pub async fn refresh(&self) {
        let _turn = self.turn.lock().await;
        if let Err(e) = self.catch_up().await {
            tracing::error!(db = %self.name, "reading the log another replica appended to: {e}")
        }
    }

    /// In a fleet, the appender's lease (`Some`), waited for up to 10 s;
    /// alone, `None` (this process is the only appender).
    async fn sequencer(&self) -> Result<Option<crate::fleet::Lease>, OwnLogError> {
        use crate::fleet::LeaseOutcome;
        let Some(fleet) = &self.fleet else {
            return Ok(None);
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut pause = std::time::Duration::from_millis(10);
        loop {
            match fleet
                .lease(
                    &format!("ownlog/{}", self.name),
                    std::time::Duration::from_secs(10),
                )
                .await
            {
                LeaseOutcome::Acquired(l) => return Ok(Some(l)),
                LeaseOutcome::Down => {
                    return Err(
                        self.fail("Redis is down: no replica may append (one appender at a time)")
                    )
                }
                LeaseOutcome::Held if std::time::Instant::now() < until => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(200));
                }
                LeaseOutcome::Held => {
                    return Err(self.fail("another replica has been appending for 10 s"))
                }
            }
        }
    }

    /// Adds record `text` (the next id) to the in-memory tree.
    fn add(&self, text: Vec<u8>) -> Result<u64, OwnLogError> {
        let lines = tlog::parse_sum_lines(&text).map_err(|e| self.fail(e.to_string()))?;
        let first = lines.first().ok_or_else(|| self.fail("empty record"))?;
        let mv = format!("{}@{}", first.path, first.version);
        let mut d = self.data.write().unwrap();
        let id = d.n;
        let new =
            tlog::stored_hashes(id, &text, &d.hashes).map_err(|e| self.fail(e.to_string()))?;
        d.hashes.extend(new);
        d.index.insert(mv, id);
        d.records.push(Arc::new(text));
        d.n += 1;
        Ok(id)
    }

    /// Signs the tree of every record held, and keeps the head (consistent
    /// with the one kept before: same log, longer). The caller holds
    /// `turn`.
    async fn sign(&self) -> Result<(), OwnLogError> {
        let (tree, old, proof) = {
            let d = self.data.read().unwrap();
            let hash = tlog::tree_hash(d.n, &d.hashes).map_err(|e| self.fail(e.to_string()))?;
            let tree = Tree { n: d.n, hash };
            let proof = match d.tree {
                Some(old) if old.n > 0 && old.n < tree.n => {
                    tlog::prove_tree(tree.n, old.n, &d.hashes)
                        .map_err(|e| self.fail(e.to_string()))?
                }
                _ => vec![],
            };
            (tree, d.tree, proof)
        };
        let text = tlog::format_tree(&tree);
        let signed = note::sign(
            &note::Note {
                text,
                ..Default::default()
            },
            &[&self.signer],
        )
        .map_err(|e| self.fail(e.to_string()))?;
        let last = old
            .filter(|o| o.n > 0 || o.n == tree.n)
            .map(|o| (o, proof.as_slice()));
        let (_, head) = admit::own_head(&self.head_key(), &signed, &self.verifiers, last)
            .map_err(|e| self.fail(e.to_string()))?;
        self.store
            .put(head)
            .await
            .map_err(|e| self.fail(format!("keeping the head: {e}")))?;
        let mut d = self.data.write().unwrap();
        d.tree = Some(tree);
        d.signed = signed;
        Ok(())
    }

    /// The log's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key clients put in `GOSUMDB`.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// Records in the signed tree.
    pub fn size(&self) -> u64 {
        self.data.read().unwrap().tree.map_or(0, |t| t.n)
    }

    /// The record of `module@version`, if held: its id and text.
    fn record(&self, module: &str, version: &str) -> Option<(u64, Arc<Vec<u8>>)> {
        let d = self.data.read().unwrap();
        let id = *d.index.get(&format!("{module}@{version}"))?;
        Some((id, d.records.get(id as usize)?.clone()))
    }

    /// The hashes the log holds for `module@version` (zip, go.mod), if
    /// logged.
    pub fn logged(&self, module: &str, version: &str) -> Option<(String, String)> {
        let (_, text) = self.record(module, version)?;
        let v = crate::sumdb::vouch_of(module, version, &text, 0).ok()?;
        Some((v.zip?, v.gomod?))
    }

    /// Appends `module@version` with its zip's and go.mod's `h1:` (nothing
    /// when it is logged with these; refused when logged with others) and
    /// signs the new tree; returns the record id.
    pub async fn append(
        &self,
        module: &str,
        version: &str,
        zip_h1: &str,
        mod_h1: &str,
    ) -> Result<u64, OwnLogError> {
        let _turn = self.turn.lock().await;
        let mv = format!("{module}@{version}");
        let text = admit::own_record_text(module, version, zip_h1, mod_h1);
        let lease = if self.record(module, version).is_some() {
            None
        } else {
            // The sequencer's turn, then what others appended meanwhile.
            let lease = self.sequencer().await?;
            if lease.is_some() {
                self.catch_up().await?;
            }
            lease
        };
        if let Some((id, logged)) = self.record(module, version) {
            if logged.as_slice() == text.as_bytes() {
                return Ok(id);
            }
            return Err(OwnLogError::Different {
                name: self.name.clone(),
                mv,
                logged: String::from_utf8_lossy(&logged).replace('\n', " "),
                offered: text.replace('\n', " "),
            });
        }
        let id = self.data.read().unwrap().n;
        let lost = || lease.as_ref().is_some_and(|l| l.lost());
        if lost() {
            return Err(self.fail("the appender's lease was lost: nothing appended"));
        }
        let record = admit::own_record(&self.record_key(id), text.as_bytes())
            .map_err(|e| self.fail(e.to_string()))?;
        self.store
            .put(record)
            .await
            .map_err(|e| self.fail(format!("keeping record {id}: {e}")))?;
        self.add(text.into_bytes())?;
        if lost() {
            return Err(self.fail(format!(
                "the appender's lease was lost after record {id}: its head is left to the next appender"
            )));
        }
        self.sign().await?;
        drop(lease);
        tracing::info!(db = %self.name, module, version, id, "logged");
        Ok(id)
    }

    /// The signed head.
    pub fn latest(&self) -> Vec<u8> {
        self.data.read().unwrap().signed.clone()
    }

    /// The lookup answer for `module@version` (the record, then the signed
    /// head), if logged.
    pub fn lookup(&self, module: &str, version: &str) -> Option<Vec<u8>> {
        let d = self.data.read().unwrap();
        let id = *d.index.get(&format!("{module}@{version}"))?;
        if d.tree.is_none_or(|t| id >= t.n) {
            return None;
        }
        let mut body = tlog::format_record(id, d.records.get(id as usize)?).ok()?;
        body.extend_from_slice(&d.signed);
        Some(body)
    }

    /// Tile `t` of the signed tree: hash tiles (full, or partial at the
    /// right edge) and data tiles; `None` past the tree.
    pub fn tile(&self, t: &Tile) -> Option<Vec<u8>> {
        let d = self.data.read().unwrap();
        let tree = d.tree?;
        if t.h != HEIGHT {
            return None;
        }
        let width = u64::from(t.w);
        if t.l == -1 {
            // Data tile: each record's text and a blank line (as
            // x/mod's sumdb server writes them).
            let first = t.n << t.h;
            if first + width > tree.n {
                return None;
            }
            let mut out = vec![];
            for id in first..first + width {
                out.extend_from_slice(d.records.get(id as usize)?);
                out.push(b'\n');
            }
            return Some(out);
        }
        let level = t.l as u32 * t.h;
        let last = ((t.n << t.h) + width).checked_shl(level)?;
        if last > tree.n {
            return None;
        }
        tlog::read_tile_data(t, d.hashes.as_slice()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const H2: &str = "h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=";

    async fn open(store: &Arc<dyn Store>, skey: &str) -> Arc<OwnLog> {
        OwnLog::open(store.clone(), None, "sum.test", skey)
            .await
            .unwrap()
    }

    /// Appends, reopens, survives a crash between a record and its head,
    /// and refuses other hashes for a logged version.
    #[tokio::test]
    async fn the_log_continues_across_restarts_and_crashes() {
        let (skey, _) = note::generate_key("sum.test").unwrap();
        let store: Arc<dyn Store> = Arc::new(crate::store::MemStore::new().unwrap());
        let log = open(&store, &skey).await;
        assert_eq!(log.size(), 0);
        assert_eq!(
            log.append("example.com/a", "v1.0.0", H1, H2).await.unwrap(),
            0
        );
        assert_eq!(
            log.append("example.com/b", "v1.0.0", H1, H2).await.unwrap(),
            1
        );
        // Logged again with the same hashes: the same record.
        assert_eq!(
            log.append("example.com/a", "v1.0.0", H1, H2).await.unwrap(),
            0
        );
        assert!(matches!(
            log.append("example.com/a", "v1.0.0", H2, H2).await,
            Err(OwnLogError::Different { .. })
        ));
        let head2 = log.latest();
        let answer = log.lookup("example.com/b", "v1.0.0").unwrap();
        assert!(answer.ends_with(&head2));
        // Reopened: the same tree.
        let log = open(&store, &skey).await;
        assert_eq!(log.size(), 2);
        assert_eq!(log.latest(), head2);
        // A record kept, then a crash before its head: reopening signs it
        // into a new head that extends the old one.
        let text = admit::own_record_text("example.com/c", "v1.0.0", H1, H2);
        let rec = admit::own_record(&log.record_key(2), text.as_bytes()).unwrap();
        store.put(rec).await.unwrap();
        let log = open(&store, &skey).await;
        assert_eq!(log.size(), 3);
        assert_eq!(
            log.logged("example.com/c", "v1.0.0"),
            Some((H1.into(), H2.into()))
        );
        // Tiles: the partial level-0 tile of 3 hashes, and the data tile.
        let t = tlog::parse_tile_path("tile/8/0/000.p/3").unwrap();
        assert_eq!(log.tile(&t).unwrap().len(), 3 * tlog::HASH_SIZE);
        let t = tlog::parse_tile_path("tile/8/0/000.p/4").unwrap();
        assert!(log.tile(&t).is_none(), "past the tree");
        let d = tlog::parse_tile_path("tile/8/data/000.p/3").unwrap();
        assert!(String::from_utf8(log.tile(&d).unwrap())
            .unwrap()
            .contains("example.com/c v1.0.0 "));
        // Another key for the name is refused.
        let (other, _) = note::generate_key("sum.test").unwrap();
        assert!(OwnLog::open(store.clone(), None, "sum.test", &other)
            .await
            .is_err());
    }
}
