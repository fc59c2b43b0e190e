//! The local tier of a replica: copies of bucket objects on this
//! machine's disk, within a byte budget, least recently used out.
//!
//! It is a cache, never the truth: each entry is the bucket record it was
//! copied with (key, admitted record, blob name) and, when the bytes fit
//! the budget, the bytes. Entries are files under the tier's directory:
//! `<kh[..2]>/<kh>.rec` (the record) and `<kh[..2]>/<kh>-<sha256>` (the
//! bytes), written to a temporary name and renamed, bytes first. Every
//! byte served from here is still compared with the admitted digest by the
//! door out ([`crate::verify`]).

use super::key_hash;
use crate::record::Meta;
use serde::{Deserialize, Serialize};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// At most this many records are kept (records without bytes included).
const MAX_ENTRIES: usize = 1 << 20;

/// A local copy of a bucket record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub key: String,
    pub meta: Meta,
    /// The blob (its sha256) the record names.
    pub blob: String,
    /// Whether the bytes are kept here too.
    #[serde(skip)]
    pub has_bytes: bool,
    /// The coordination epoch in which the record was last checked
    /// against the bucket (0: never in this process).
    #[serde(skip)]
    pub epoch: u64,
}

struct State {
    lru: lru::LruCache<String, Entry>,
    /// Bytes of the entries that have their bytes here.
    bytes: u64,
}

/// A bounded directory of local copies.
pub(crate) struct LocalTier {
    dir: PathBuf,
    budget: u64,
    state: Mutex<State>,
}

impl LocalTier {
    /// Opens (creating) the tier in `dir` with a budget of `budget` bytes,
    /// loading the entries a previous run left (unchecked: epoch 0).
    pub fn open(dir: &Path, budget: u64) -> std::io::Result<LocalTier> {
        std::fs::create_dir_all(dir.join("tmp"))?;
        for e in std::fs::read_dir(dir.join("tmp"))?.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        let t = LocalTier {
            dir: dir.to_owned(),
            budget,
            state: Mutex::new(State {
                lru: lru::LruCache::new(NonZeroUsize::new(MAX_ENTRIES).expect("non-zero")),
                bytes: 0,
            }),
        };
        let mut found: Vec<(std::time::SystemTime, Entry)> = vec![];
        for sub in std::fs::read_dir(dir)?.flatten() {
            if sub.file_name() == "tmp" || !sub.path().is_dir() {
                continue;
            }
            let mut wanted = std::collections::HashSet::new();
            let files: Vec<_> = std::fs::read_dir(sub.path())?.flatten().collect();
            for f in &files {
                let name = f.file_name().to_string_lossy().into_owned();
                let Some(kh) = name.strip_suffix(".rec") else {
                    continue;
                };
                let Ok(body) = std::fs::read(f.path()) else {
                    continue;
                };
                let Ok(mut e) = serde_json::from_slice::<Entry>(&body) else {
                    let _ = std::fs::remove_file(f.path());
                    continue;
                };
                if key_hash(&e.key) != kh {
                    let _ = std::fs::remove_file(f.path());
                    continue;
                }
                let bytes = t.bytes_path(&e.key, &e.blob);
                e.has_bytes = std::fs::metadata(&bytes).is_ok_and(|m| m.len() == e.meta.size);
                wanted.insert(bytes);
                let used = f
                    .metadata()
                    .and_then(|m| m.accessed().or_else(|_| m.modified()))
                    .unwrap_or(std::time::UNIX_EPOCH);
                found.push((used, e));
            }
            // Bytes no record names: a crash between the two renames.
            for f in files {
                let p = f.path();
                if !p.to_string_lossy().ends_with(".rec") && !wanted.contains(&p) {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        found.sort_by_key(|(t, _)| *t);
        {
            let mut st = t.state.lock().unwrap();
            for (_, e) in found {
                if e.has_bytes {
                    st.bytes += e.meta.size;
                }
                st.lru.put(e.key.clone(), e);
            }
        }
        t.evict(None);
        Ok(t)
    }

    /// The tier's budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Whether an object of `size` bytes may be kept here.
    pub fn fits(&self, size: u64) -> bool {
        size <= self.budget / 4
    }

    /// Where the temporary files of the tier go.
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    fn rec_path(&self, key: &str) -> PathBuf {
        let kh = key_hash(key);
        self.dir.join(&kh[..2]).join(format!("{kh}.rec"))
    }

    /// Where the bytes of `key` with blob `blob` are kept.
    pub fn bytes_path(&self, key: &str, blob: &str) -> PathBuf {
        let kh = key_hash(key);
        self.dir.join(&kh[..2]).join(format!("{kh}-{blob}"))
    }

    /// The entry of `key`, marked as used.
    pub fn get(&self, key: &str) -> Option<Entry> {
        self.state.lock().unwrap().lru.get(key).cloned()
    }

    /// The entry of `key`, without marking it used.
    pub fn peek(&self, key: &str) -> Option<Entry> {
        self.state.lock().unwrap().lru.peek(key).cloned()
    }

    /// Marks the entry of `key` (if it still names `blob`) as checked
    /// against the bucket in `epoch`.
    pub fn checked(&self, key: &str, blob: &str, epoch: u64) {
        if let Some(e) = self.state.lock().unwrap().lru.peek_mut(key) {
            if e.blob == blob {
                e.epoch = epoch;
            }
        }
    }

    /// Keeps the bucket record of `key` (without bytes unless the entry
    /// already has these very bytes), checked in `epoch`.
    pub fn record(&self, key: &str, meta: &Meta, blob: &str, epoch: u64) {
        let keep_bytes = self
            .peek(key)
            .is_some_and(|e| e.blob == blob && e.has_bytes);
        if !keep_bytes {
            self.remove(key);
        }
        let e = Entry {
            key: key.to_owned(),
            meta: meta.clone(),
            blob: blob.to_owned(),
            has_bytes: keep_bytes,
            epoch,
        };
        if self.write_rec(&e).is_ok() {
            self.state.lock().unwrap().lru.put(key.to_owned(), e);
        }
    }

    fn write_rec(&self, e: &Entry) -> std::io::Result<()> {
        let p = self.rec_path(&e.key);
        std::fs::create_dir_all(p.parent().expect("has a parent"))?;
        let tmp = tempfile::NamedTempFile::new_in(self.tmp_dir())?;
        std::fs::write(tmp.path(), serde_json::to_vec(e).expect("json"))?;
        tmp.persist(&p).map_err(|e| e.error)?;
        Ok(())
    }

    /// Keeps the bytes in `file` (a file under [`LocalTier::tmp_dir`] or a
    /// staging file on the same file system, linked, not moved) as the
    /// bytes of `key` with `meta` and `blob`, checked in `epoch`. Older
    /// entries are evicted to stay within the budget.
    pub fn insert(
        &self,
        key: &str,
        meta: &Meta,
        blob: &str,
        file: &Path,
        epoch: u64,
    ) -> std::io::Result<()> {
        if !self.fits(meta.size) {
            self.record(key, meta, blob, epoch);
            return Ok(());
        }
        self.remove(key);
        let dest = self.bytes_path(key, blob);
        std::fs::create_dir_all(dest.parent().expect("has a parent"))?;
        let tmp = self
            .tmp_dir()
            .join(format!("link-{:016x}", rand::random::<u64>()));
        if std::fs::hard_link(file, &tmp).is_err() {
            std::fs::copy(file, &tmp)?;
        }
        if let Err(e) = std::fs::rename(&tmp, &dest) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let e = Entry {
            key: key.to_owned(),
            meta: meta.clone(),
            blob: blob.to_owned(),
            has_bytes: true,
            epoch,
        };
        if let Err(err) = self.write_rec(&e) {
            let _ = std::fs::remove_file(&dest);
            return Err(err);
        }
        {
            let mut st = self.state.lock().unwrap();
            st.bytes += meta.size;
            if let Some((_, old)) = st.lru.push(key.to_owned(), e) {
                if old.key != key && old.has_bytes {
                    st.bytes -= old.meta.size;
                    drop(st);
                    self.remove_files(&old);
                }
            }
        }
        self.evict(Some(key));
        Ok(())
    }

    /// Drops the entry of `key` (record and bytes).
    pub fn remove(&self, key: &str) {
        let old = {
            let mut st = self.state.lock().unwrap();
            let old = st.lru.pop(key);
            if let Some(o) = &old {
                if o.has_bytes {
                    st.bytes -= o.meta.size;
                }
            }
            old
        };
        match old {
            Some(o) => self.remove_files(&o),
            None => {
                let _ = std::fs::remove_file(self.rec_path(key));
            }
        }
    }

    /// Forgets the bytes of `key` (kept bytes turned out not to match).
    pub fn drop_bytes(&self, key: &str) {
        let mut st = self.state.lock().unwrap();
        if let Some(e) = st.lru.peek_mut(key) {
            if e.has_bytes {
                e.has_bytes = false;
                let (size, path) = (e.meta.size, self.bytes_path(key, &e.blob));
                st.bytes -= size;
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn remove_files(&self, e: &Entry) {
        let _ = std::fs::remove_file(self.rec_path(&e.key));
        let _ = std::fs::remove_file(self.bytes_path(&e.key, &e.blob));
    }

    /// Evicts least recently used bytes until within the budget (never
    /// `keep`).
    fn evict(&self, keep: Option<&str>) {
        loop {
            let victim = {
                let mut st = self.state.lock().unwrap();
                if st.bytes <= self.budget {
                    return;
                }
                let Some(k) = st
                    .lru
                    .iter()
                    .rev()
                    .find(|(k, e)| e.has_bytes && Some(k.as_str()) != keep)
                    .map(|(k, _)| k.clone())
                else {
                    return;
                };
                let e = st.lru.pop(&k).expect("found above");
                st.bytes -= e.meta.size;
                e
            };
            self.remove_files(&victim);
        }
    }

    /// Bytes kept and entries held (for metrics).
    pub fn usage(&self) -> (u64, usize) {
        let st = self.state.lock().unwrap();
        (st.bytes, st.lru.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(data: &[u8]) -> Meta {
        crate::admit::testing::meta_of(data, "t")
    }

    #[test]
    fn evicts_least_recently_used_bytes_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let t = LocalTier::open(dir.path(), 4000).unwrap();
        let f = dir.path().join("src");
        for i in 0..5 {
            let data = vec![i as u8; 1000];
            std::fs::write(&f, &data).unwrap();
            let m = meta(&data);
            t.insert(&format!("k{i}"), &m, &m.sha256, &f, 1).unwrap();
            // k0 stays in use.
            assert!(t.get("k0").is_some());
        }
        let (bytes, _) = t.usage();
        assert!(bytes <= 4000, "{bytes}");
        assert!(t.get("k0").unwrap().has_bytes);
        assert!(t.get("k1").is_none(), "least recently used is out");
        let e = t.get("k4").unwrap();
        assert_eq!(
            std::fs::read(t.bytes_path("k4", &e.blob)).unwrap(),
            vec![4u8; 1000]
        );
        drop(t);
        let t = LocalTier::open(dir.path(), 4000).unwrap();
        let e = t.get("k4").unwrap();
        assert!(e.has_bytes);
        assert_eq!(e.epoch, 0, "reloaded entries are unchecked");
        t.remove("k4");
        assert!(t.get("k4").is_none());
        assert!(!t.bytes_path("k4", &e.blob).exists());
    }
}
