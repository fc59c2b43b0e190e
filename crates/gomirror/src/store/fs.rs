//! The local file-system store (the default).
//!
//! Layout under the data directory:
//!
//! ```text
//! objects/<path>.gmeta             an object's record (JSON): the metadata it
//!                                  was admitted with, its key, and the name
//!                                  of its blob; the commit point
//! objects/<path>.<random>.gblob    a blob: the object's bytes, exactly as
//!                                  served, never changed once written
//! objects/#long/<#sha256>...       records and blobs of keys whose path
//!                                  would be too long
//! quarantine/<path>.<time>         objects taken out of service, with their
//!                                  record (`.gmeta`) and reason (`.reason`)
//! tmp/                             staging files; emptied at start-up
//! ```
//!
//! `<path>` is the key itself (`example.com/m/@v/v1.0.0.zip`) when the file
//! system can hold it: an element the file system could refuse or the
//! layout reserves — longer than 255 bytes (249 for the last, which gets
//! the record's suffix), ending in `.gmeta`, or starting with `#` — is
//! replaced by `#` and the hex SHA-256 of the element; a path that would
//! still be longer than 3,072 bytes becomes `#long/#<SHA-256 of the key>`.
//! The mapping is one-to-one (kept elements never start with `#`, no
//! directory ends in `.gmeta`), and every record holds its full key, so a
//! listing gives keys back whatever their path. A blob's name is its
//! record's file name (cut to 200 bytes) with a random suffix.
//!
//! Commit order ([`Store::put`]): sync the staged bytes; publish them as a
//! new blob beside the record (a rename that never replaces anything);
//! sync the directory; write and sync the new record to a temp file;
//! rename it over the old record (one atomic step: the commit point); sync
//! the directory; remove the blob the old record named. A crash at any
//! instant leaves the old object or the new one whole; at worst a blob no
//! record names is left over, which [`Store::unrecorded`] reports and a
//! healing scrub removes.
//!
//! Reads pair a record with the bytes it names, never with others: a
//! reader reads the record, then opens the blob it names (an open file
//! keeps its bytes whatever happens to its name). When that blob is gone —
//! a concurrent put replaced the record and removed it — the reader reads
//! the record again and retries; a record that still names a missing blob
//! is real loss (a record without bytes).
//!
//! Stores written by earlier versions (bytes at `objects/<key>`, the record
//! beside them at `objects/<key>.gmeta` without a blob name) are read as
//! they are, without migration: a record that names no blob has its bytes
//! at its own path minus the suffix. Replacing, quarantining or deleting
//! such an object leaves the new layout. An older version must not run on
//! a store this version wrote (it would find no bytes).

use super::open_files::{OpenFiles, Pooled};
use super::{
    check_key, Meta, ObjectRead, Opened, Result, Staged, Store, StoreError, Unrecorded,
    UnrecordedFile,
};
use crate::admit::Admitted;
use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Suffix of record files.
const RECORD_SUFFIX: &str = ".gmeta";
/// Suffix of blobs.
const BLOB_SUFFIX: &str = ".gblob";
/// The longest directory element kept as it is.
const MAX_ELEM: usize = 255;
/// The longest last element kept as it is (its record adds `.gmeta`).
const MAX_LAST: usize = MAX_ELEM - RECORD_SUFFIX.len();
/// The longest path under `objects/` (PATH_MAX is 4,096 with the data
/// directory's own path).
const MAX_PATH: usize = 3072;
/// How much of its record's name a blob's name keeps.
const BLOB_STEM: usize = 200;
/// Where keys with too long a path go.
const LONG_DIR: &str = "#long";
/// How many times a read follows a record replaced under it.
const OPEN_TRIES: usize = 16;
/// Lock stripes serialising the writes of one key in this process.
const LOCKS: usize = 256;

/// A [`Store`] on the local file system.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
    /// Writes of one key (put, quarantine, delete) take its stripe, so two
    /// puts of a key in this process never both miss the other's blob.
    locks: Arc<Vec<Mutex<()>>>,
    /// The files readers are reading, at most a bounded number open (see
    /// [`super::open_files`]).
    open_files: Arc<OpenFiles>,
    /// Per key, the record last read (its identity) and the blob it
    /// names: [`Store::fingerprint`] needs two stats, not a record read,
    /// while the record is unchanged.
    blob_names: Arc<Mutex<lru::LruCache<String, KnownBlob>>>,
}

/// A record file's identity: any replacement (a rename over it) or write
/// changes the inode or the times.
type RecordId = (u64, u64, u64, i64, i64, i64, i64);

/// The record a blob was found through, the blob's path and name.
type KnownBlob = (RecordId, PathBuf, String);

fn record_identity(m: &std::fs::Metadata) -> RecordId {
    use std::os::unix::fs::MetadataExt;
    (
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    )
}

/// A record file: the admitted metadata, the key and the blob.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    #[serde(flatten)]
    meta: Meta,
    /// The key (absent in records of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// The blob's file name, in the record's directory (absent in records
    /// of earlier versions: the bytes are the record's path minus suffix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blob: Option<String>,
}

fn io_err<'a>(op: &'static str, key: &'a str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        key: key.to_owned(),
        source,
    }
}

fn bad_record(key: &str, why: String) -> StoreError {
    StoreError::BadMeta {
        key: key.to_owned(),
        source: <serde_json::Error as serde::de::Error>::custom(why),
    }
}

/// Where a key's record is, relative to `objects/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Loc {
    /// The record's directory (`""`: the top).
    dir: String,
    /// The record's file name without its suffix.
    stem: String,
    /// The path is the key itself (earlier versions kept bytes there).
    natural: bool,
}

impl Loc {
    fn rel(&self, name: &str) -> String {
        join(&self.dir, name)
    }
    fn record_rel(&self) -> String {
        self.rel(&format!("{}{RECORD_SUFFIX}", self.stem))
    }
    /// Where an earlier version kept the bytes.
    fn legacy_rel(&self) -> Option<String> {
        self.natural.then(|| self.rel(&self.stem))
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

fn hashed(s: &str) -> String {
    format!("#{}", hex::encode(Sha256::digest(s.as_bytes())))
}

/// Whether a key element can be a file name as it is.
fn kept(elem: &str, max: usize) -> bool {
    elem.len() <= max && !elem.starts_with('#') && !elem.ends_with(RECORD_SUFFIX)
}

fn map_elem(elem: &str, max: usize) -> String {
    if kept(elem, max) {
        elem.to_owned()
    } else {
        hashed(elem)
    }
}

/// The path of the directory that holds keys starting with `dir/`, or
/// `None` when keys under it all go to [`LONG_DIR`].
fn map_dir(dir: &str) -> Option<String> {
    if dir.is_empty() {
        return Some(String::new());
    }
    let p = dir
        .split('/')
        .map(|e| map_elem(e, MAX_ELEM))
        .collect::<Vec<_>>()
        .join("/");
    (p.len() < MAX_PATH).then_some(p)
}

/// Where the record of `key` is (see the module documentation).
fn locate(key: &str) -> Loc {
    let (dir, last) = key.rsplit_once('/').unwrap_or(("", key));
    let natural = kept(last, MAX_LAST) && dir.split('/').all(|e| kept(e, MAX_ELEM));
    let stem = map_elem(last, MAX_LAST);
    match map_dir(dir) {
        Some(d) if d.len() + 1 + stem.len() + RECORD_SUFFIX.len() <= MAX_PATH => Loc {
            dir: d,
            stem,
            natural,
        },
        _ => Loc {
            dir: LONG_DIR.to_owned(),
            stem: hashed(key),
            natural: false,
        },
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A new blob name for a record named `stem`.
fn blob_name(stem: &str) -> String {
    format!(
        "{}.{:016x}{BLOB_SUFFIX}",
        cut(stem, BLOB_STEM),
        rand::random::<u64>()
    )
}

/// Whether `file` has the shape of a blob of the record named `stem`.
fn blob_of(stem: &str, file: &str) -> bool {
    file.strip_prefix(cut(stem, BLOB_STEM))
        .and_then(|r| r.strip_prefix('.'))
        .and_then(|r| r.strip_suffix(BLOB_SUFFIX))
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether a record's blob name names a file in the record's directory.
fn plain_name(n: &str) -> bool {
    !n.is_empty() && n != "." && n != ".." && !n.contains(['/', '\0'])
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Renames `from` to `to`; `Ok(false)` when `from` is absent.
fn rename_if_there(from: &Path, to: &Path) -> std::io::Result<bool> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn remove_if_there(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// One directory of `objects/`, as read once.
#[derive(Default)]
struct DirScan {
    dirs: Vec<String>,
    /// Record files: their stem and their record (`None`: unreadable).
    records: Vec<(String, Option<Record>)>,
    /// Every other file.
    files: HashMap<String, std::fs::Metadata>,
}

impl DirScan {
    /// Whether a record of this directory names `file` as its bytes (an
    /// unreadable record is taken to name what could be its bytes).
    fn named(&self, file: &str) -> bool {
        self.records.iter().any(|(stem, r)| match r {
            Some(r) => r.blob.as_deref().unwrap_or(stem) == file,
            None => file == stem || blob_of(stem, file),
        })
    }

    /// The names of the bytes records of this directory name.
    fn named_set(&self) -> HashSet<&str> {
        self.records
            .iter()
            .filter_map(|(stem, r)| r.as_ref().map(|r| r.blob.as_deref().unwrap_or(stem)))
            .collect()
    }
}

/// The key of a record found at `dir`/`stem`, if that is where the key's
/// record belongs (a record moved by hand, or of a key an earlier version
/// placed elsewhere, is not an object).
fn record_key(dir: &str, stem: &str, rec: Option<&Record>) -> Option<String> {
    let key = match rec.and_then(|r| r.key.clone()) {
        Some(k) => k,
        None => join(dir, stem),
    };
    let loc = locate(&key);
    (check_key(&key).is_ok() && loc.dir == dir && loc.stem == stem).then_some(key)
}

impl FsStore {
    fn new(root: PathBuf) -> FsStore {
        FsStore {
            root,
            locks: Arc::new((0..LOCKS).map(|_| Mutex::new(())).collect()),
            open_files: OpenFiles::new(super::open_files::DEFAULT_CAP),
            blob_names: Arc::new(Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(16_384).expect("non-zero"),
            ))),
        }
    }

    /// Opens (creating if needed) a store rooted at `root`, and empties its
    /// staging directory of files left by a crash. Start-up cost does not
    /// depend on the number of stored objects.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for d in ["objects", "quarantine", "tmp"] {
            std::fs::create_dir_all(root.join(d)).map_err(io_err("create", d))?;
        }
        let tmp = root.join("tmp");
        let entries = std::fs::read_dir(&tmp).map_err(io_err("list", "tmp"))?;
        for e in entries.flatten() {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
        Ok(FsStore::new(root))
    }

    /// Opens an existing store at `root` without touching its staging
    /// directory, for tools that run beside a live server (emptying `tmp/`
    /// would break the server's admissions in flight).
    pub fn attach(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let objects = root.join("objects");
        match std::fs::metadata(&objects) {
            Ok(m) if m.is_dir() => Ok(FsStore::new(root)),
            Ok(_) => Err(io_err("open", "objects")(std::io::Error::other(
                "not a directory",
            ))),
            Err(e) => Err(io_err("open", "objects")(e)),
        }
    }

    fn objects(&self) -> PathBuf {
        self.root.join("objects")
    }

    /// The staging directory: new blobs and records are written here, then
    /// renamed into place.
    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn lock(&self, loc: &Loc) -> MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        loc.hash(&mut h);
        let m = &self.locks[(h.finish() as usize) % self.locks.len()];
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The record of `key`, `None` when there is none.
    fn read_record(&self, key: &str, loc: &Loc) -> Result<Option<Record>> {
        Ok(self.read_record_id(key, loc)?.map(|(r, _)| r))
    }

    /// The record of `key` and the identity of the record file it was read
    /// from, taken before reading (so a change while it is read shows in
    /// the identity afterwards); `None` when there is none.
    fn read_record_id(&self, key: &str, loc: &Loc) -> Result<Option<(Record, RecordId)>> {
        let read = || -> std::io::Result<(Vec<u8>, RecordId)> {
            use std::io::Read;
            let mut f = std::fs::File::open(self.objects().join(loc.record_rel()))?;
            let id = record_identity(&f.metadata()?);
            let mut b = Vec::new();
            f.read_to_end(&mut b)?;
            Ok((b, id))
        };
        let (b, id) = match read() {
            Ok(r) => r,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read record", key)(e)),
        };
        let rec: Record = serde_json::from_slice(&b).map_err(|e| StoreError::BadMeta {
            key: key.to_owned(),
            source: e,
        })?;
        match &rec.key {
            Some(k) if k != key => {
                return Err(bad_record(key, format!("it is the record of {k:?}")))
            }
            None if !loc.natural => return Err(bad_record(key, "it names no key".into())),
            _ => {}
        }
        if let Some(b) = rec.blob.as_deref().filter(|b| !plain_name(b)) {
            return Err(bad_record(key, format!("it names an invalid blob {b:?}")));
        }
        Ok(Some((rec, id)))
    }

    /// The path and file name of the bytes a record names.
    fn bytes_of(&self, loc: &Loc, rec: &Record) -> (PathBuf, String) {
        let name = rec.blob.clone().unwrap_or_else(|| loc.stem.clone());
        (self.objects().join(loc.rel(&name)), name)
    }

    /// Reads the record of `key` and applies `f` to the path and name of
    /// the bytes it names. When those are missing, reads the record again:
    /// a record replaced meanwhile is followed; the same record naming the
    /// same missing bytes twice is a record without bytes (`Some((r,
    /// None))`). `None`: no record.
    fn with_bytes<T>(
        &self,
        key: &str,
        mut f: impl FnMut(&Path, &str) -> std::io::Result<T>,
    ) -> Result<Option<(Record, Option<T>)>> {
        self.with_bytes_id(key, |_, path, name| f(path, name))
    }

    /// [`FsStore::with_bytes`], also telling `f` the record file's path and
    /// identity (see [`FsStore::read_record_id`]).
    fn with_bytes_id<T>(
        &self,
        key: &str,
        mut f: impl FnMut((&Path, RecordId), &Path, &str) -> std::io::Result<T>,
    ) -> Result<Option<(Record, Option<T>)>> {
        let loc = locate(key);
        let record_path = self.objects().join(loc.record_rel());
        let mut missing: Option<PathBuf> = None;
        for _ in 0..OPEN_TRIES {
            let Some((rec, id)) = self.read_record_id(key, &loc)? else {
                return Ok(None);
            };
            let (path, name) = self.bytes_of(&loc, &rec);
            match f((&record_path, id), &path, &name) {
                Ok(t) => return Ok(Some((rec, Some(t)))),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if missing.as_ref() == Some(&path) {
                        return Ok(Some((rec, None)));
                    }
                    missing = Some(path);
                }
                Err(e) => return Err(io_err("open", key)(e)),
            }
        }
        Err(io_err("open", key)(std::io::Error::other(
            "replaced too often while being opened",
        )))
    }

    fn put_blocking(&self, key: &str, staged: Staged, meta: Meta) -> Result<()> {
        let loc = locate(key);
        let objects = self.objects();
        let dir = objects.join(&loc.dir);
        let record_path = objects.join(loc.record_rel());
        let _g = self.lock(&loc);
        std::fs::create_dir_all(&dir).map_err(io_err("create dir", key))?;
        let mut tmp = staged.into_temp();
        tmp.as_file().sync_all().map_err(io_err("sync", key))?;
        // Publish the bytes under a name nothing uses yet.
        let blob = loop {
            let name = blob_name(&loc.stem);
            match tmp.persist_noclobber(dir.join(&name)) {
                Ok(_) => break name,
                Err(e) if e.error.kind() == ErrorKind::AlreadyExists => tmp = e.file,
                Err(e) => return Err(io_err("publish bytes", key)(e.error)),
            }
        };
        let blob_path = dir.join(&blob);
        let commit = || -> Result<Option<PathBuf>> {
            sync_dir(&dir).map_err(io_err("sync dir", key))?;
            let record = serde_json::to_vec_pretty(&Record {
                meta: meta.clone(),
                key: Some(key.to_owned()),
                blob: Some(blob.clone()),
            })
            .expect("records serialise");
            let mut t = tempfile::Builder::new()
                .prefix("meta-")
                .tempfile_in(self.tmp_dir())
                .map_err(io_err("stage record", key))?;
            t.write_all(&record)
                .and_then(|_| t.as_file().sync_all())
                .map_err(io_err("write record", key))?;
            let old = match self.read_record(key, &loc) {
                Ok(Some(r)) => Some(self.bytes_of(&loc, &r).0),
                Ok(None) => None,
                // Whatever blob a corrupt record named is left over.
                Err(_) => loc.legacy_rel().map(|r| objects.join(r)),
            };
            t.persist(&record_path)
                .map_err(|e| io_err("rename record", key)(e.error))?;
            Ok(old)
        };
        let old = match commit() {
            Ok(old) => old,
            Err(e) => {
                let _ = std::fs::remove_file(&blob_path);
                return Err(e);
            }
        };
        sync_dir(&dir).map_err(io_err("sync dir", key))?;
        if let Some(old) = old.filter(|o| *o != blob_path) {
            if let Err(e) = remove_if_there(&old) {
                tracing::warn!(key, "store: the replaced bytes stay as a leftover: {e}");
            }
        }
        Ok(())
    }

    fn quarantine_blocking(&self, key: &str, reason: &str) -> Result<()> {
        let loc = locate(key);
        let objects = self.objects();
        let _g = self.lock(&loc);
        let bytes = match self.read_record(key, &loc) {
            Ok(Some(r)) => Some(self.bytes_of(&loc, &r).0),
            _ => loc.legacy_rel().map(|r| objects.join(r)),
        };
        let qdir = self.root.join("quarantine").join(&loc.dir);
        std::fs::create_dir_all(&qdir).map_err(io_err("quarantine", key))?;
        let dest = qdir.join(format!("{}.{}", cut(&loc.stem, BLOB_STEM), now_nanos()));
        // The record goes first: from this instant the object is absent.
        let moved = rename_if_there(
            &objects.join(loc.record_rel()),
            &with_suffix(&dest, RECORD_SUFFIX),
        )
        .map_err(io_err("quarantine record", key))?;
        let moved_bytes = match bytes {
            Some(b) => rename_if_there(&b, &dest).map_err(io_err("quarantine", key))?,
            None => false,
        };
        if moved || moved_bytes {
            let _ = std::fs::write(with_suffix(&dest, ".reason"), format!("{key}\n{reason}\n"));
        }
        Ok(())
    }

    fn delete_blocking(&self, key: &str) -> Result<()> {
        let loc = locate(key);
        let objects = self.objects();
        let _g = self.lock(&loc);
        let bytes = match self.read_record(key, &loc) {
            Ok(Some(r)) => Some(self.bytes_of(&loc, &r).0),
            _ => loc.legacy_rel().map(|r| objects.join(r)),
        };
        remove_if_there(&objects.join(loc.record_rel())).map_err(io_err("delete", key))?;
        if let Some(b) = bytes {
            remove_if_there(&b).map_err(io_err("delete", key))?;
        }
        Ok(())
    }

    /// Reads one directory of `objects/` (`rel` relative to it).
    fn scan_dir(&self, rel: &str) -> std::io::Result<DirScan> {
        let mut out = DirScan::default();
        for e in std::fs::read_dir(self.objects().join(rel))? {
            let Ok(e) = e else { continue };
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                out.dirs.push(name);
            } else if let Some(stem) = name.strip_suffix(RECORD_SUFFIX) {
                let rec = std::fs::read(e.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Record>(&b).ok());
                out.records.push((stem.to_owned(), rec));
            } else {
                out.files.insert(name, m);
            }
        }
        Ok(out)
    }

    /// Calls `visit` with every directory of `objects/` (relative path and
    /// contents) that can hold keys starting with `prefix`: only those,
    /// never the whole store, and [`LONG_DIR`] always.
    fn walk(&self, prefix: &str, mut visit: impl FnMut(&str, &DirScan)) -> Result<()> {
        let (complete, partial) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        // No key has such elements (and the walk must stay in `objects/`).
        let dotted = complete.split('/').any(|e| e == "." || e == "..");
        let complete = if dotted { None } else { map_dir(complete) };
        let mut stack: Vec<(String, bool)> = complete.into_iter().map(|d| (d, true)).collect();
        let scan = |rel: &str| match self.scan_dir(rel) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("list", prefix)(e)),
        };
        while let Some((rel, first)) = stack.pop() {
            let Some(s) = scan(&rel)? else { continue };
            for d in &s.dirs {
                let skip = (rel.is_empty() && d == LONG_DIR)
                    || (first && !d.starts_with('#') && !d.starts_with(partial));
                if !skip {
                    stack.push((join(&rel, d), false));
                }
            }
            visit(&rel, &s);
        }
        if let Some(s) = scan(LONG_DIR)? {
            visit(LONG_DIR, &s);
        }
        Ok(())
    }

    /// Whether `name` (a path under `objects/`) is a file no record names.
    fn unrecorded_file(&self, name: &str) -> bool {
        if check_key(name).is_err() || name.ends_with(RECORD_SUFFIX) {
            return false;
        }
        if !std::fs::symlink_metadata(self.objects().join(name)).is_ok_and(|m| m.is_file()) {
            return false;
        }
        let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
        self.scan_dir(dir).is_ok_and(|s| !s.named(file))
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Positional reads of a stored file (`pread` on a blocking thread,
/// straight into the returned buffer), through the store's bounded set of
/// open files.
struct FileRead {
    /// `None`: the bytes are missing (a zero-length copy).
    file: Option<Arc<Pooled>>,
}

#[async_trait]
impl ObjectRead for FileRead {
    async fn stored_len(&self) -> std::io::Result<u64> {
        let Some(p) = self.file.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || p.file()?.metadata().map(|m| m.len()))
            .await
            .expect("store task panicked")
    }

    async fn read_at(&self, pos: u64, max: usize) -> std::io::Result<Bytes> {
        let Some(p) = self.file.clone() else {
            return Ok(Bytes::new());
        };
        // Cached bytes are read here; the rest on the blocking pool.
        if let Some(b) = p
            .file_if_open()
            .and_then(|f| crate::file_read::read_cached_at(&f, pos, max))
        {
            return Ok(b);
        }
        tokio::task::spawn_blocking(move || crate::file_read::read_full_at(&*p.file()?, pos, max))
            .await
            .expect("store task panicked")
    }
}

/// The file store's [`CopyProbe`]: the record file at the key's path and
/// the blob it named, each identified (device, inode, size, mtime and
/// ctime to the nanosecond) as they were when the copy was opened.
///
/// The rule it enforces: the copy is unchanged only if a `stat` of each
/// path now finds the very same identity. The record is the same file,
/// unchanged (a commit renames a new record over it: a new inode; an edit
/// in place changes its times), so it still names the same blob; and the
/// blob is the same file, unchanged (any write through the file system
/// changes its ctime). This is stricter than comparing
/// [`Store::fingerprint`] (which follows a changed record to its blob and
/// compares only the blob), and needs no allocation: two `stat` calls.
struct FsProbe {
    record: PathBuf,
    record_id: RecordId,
    blob: PathBuf,
    blob_id: RecordId,
}

impl super::CopyProbe for FsProbe {
    fn unchanged(&self) -> bool {
        let same = |p: &Path, id: &RecordId| {
            std::fs::metadata(p).is_ok_and(|m| record_identity(&m) == *id)
        };
        same(&self.record, &self.record_id) && same(&self.blob, &self.blob_id)
    }
}

/// Identifies a stored copy: its file's name, and its inode's identity and
/// times (any write through the file system changes the ctime, so in-place
/// rot or an edit by hand changes the fingerprint too).
pub(super) fn fingerprint_of(m: &std::fs::Metadata, name: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{}:{}:{}:{}.{}:{}.{}:{name}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    )
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl FsStore {
    /// Whether `key` has no record, as one `stat` on the calling (async)
    /// thread tells: a miss (every cold request) is answered without a
    /// hand-off to the blocking pool, the file system knowing the name is
    /// not there from its cached directory entries, usually. `false` means
    /// "read it" (on a blocking thread).
    fn surely_absent(&self, key: &str) -> bool {
        let record = self.objects().join(locate(key).record_rel());
        std::fs::symlink_metadata(record).is_err_and(|e| e.kind() == ErrorKind::NotFound)
    }
}

/// Runs a blocking store operation on the blocking pool.
async fn blocking<T: Send + 'static>(
    this: &FsStore,
    f: impl FnOnce(FsStore) -> T + Send + 'static,
) -> T {
    let this = this.clone();
    tokio::task::spawn_blocking(move || f(this))
        .await
        .expect("store task panicked")
}

#[async_trait]
impl Store for FsStore {
    async fn meta(&self, key: &str) -> Result<Option<Meta>> {
        check_key(key)?;
        if self.surely_absent(key) {
            return Ok(None);
        }
        let key = key.to_owned();
        blocking(self, move |s| {
            Ok(s.read_record(&key, &locate(&key))?.map(|r| r.meta))
        })
        .await
    }

    async fn open(&self, key: &str) -> Result<Option<Opened>> {
        check_key(key)?;
        if self.surely_absent(key) {
            return Ok(None);
        }
        let key = key.to_owned();
        let found = blocking(self, move |s| {
            s.with_bytes_id(&key, |(record, record_id), path, name| {
                let f = std::fs::File::open(path)?;
                let m = f.metadata()?;
                let fp = fingerprint_of(&m, name);
                let probe = FsProbe {
                    record: record.to_owned(),
                    record_id,
                    blob: path.to_owned(),
                    blob_id: record_identity(&m),
                };
                Ok((s.open_files.adopt(f, path.to_owned())?, fp, probe))
            })
        })
        .await?;
        Ok(found.map(|(rec, bytes)| match bytes {
            Some((f, fp, probe)) => Opened {
                meta: rec.meta,
                reader: Box::new(FileRead {
                    file: Some(Arc::new(f)),
                }),
                fingerprint: Some(fp),
                probe: Some(Arc::new(probe)),
            },
            // A record without its bytes: the object is missing; the
            // caller's verification reports it as rot.
            None => Opened {
                meta: rec.meta,
                reader: Box::new(FileRead { file: None }),
                fingerprint: None,
                probe: None,
            },
        }))
    }

    fn fingerprint(&self, key: &str) -> Option<String> {
        check_key(key).ok()?;
        let loc = locate(key);
        let record_path = self.objects().join(loc.record_rel());
        let before = record_identity(&std::fs::metadata(&record_path).ok()?);
        // The fast path: the record is the one whose blob was looked up
        // last time, so two stats do.
        let known = self.blob_names.lock().unwrap().get(key).cloned();
        if let Some((rid, path, name)) = known {
            if rid == before {
                match std::fs::metadata(&path) {
                    Ok(m) => return Some(fingerprint_of(&m, &name)),
                    Err(_) => {
                        self.blob_names.lock().unwrap().pop(key);
                    }
                }
            }
        }
        let mut seen = None;
        let found = self
            .with_bytes(key, |path, name| {
                seen = Some((path.to_owned(), name.to_owned()));
                std::fs::metadata(path).map(|m| fingerprint_of(&m, name))
            })
            .ok()??;
        // Remembered only when the record did not change meanwhile.
        let after = std::fs::metadata(&record_path)
            .ok()
            .map(|m| record_identity(&m));
        if let (Some((path, name)), true) = (seen, after == Some(before)) {
            self.blob_names
                .lock()
                .unwrap()
                .put(key.to_owned(), (before, path, name));
        }
        found.1
    }

    fn stage(&self) -> Result<Staged> {
        Staged::create_in(&self.tmp_dir()).map_err(io_err("stage", "tmp"))
    }

    async fn visit_records(
        &self,
        prefix: &str,
        visit: &mut (dyn for<'k> FnMut(&'k str, &'k Meta) + Send),
    ) -> Result<()> {
        // The walk runs in a thread of its own at the lowest CPU priority
        // (a count of the whole store must not slow requests down), and
        // hands over each directory's objects as it goes (a few
        // directories in flight).
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<(String, Meta)>>(4);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let s = self.clone();
        let prefix = prefix.to_owned();
        let walk = move || {
            crate::util::lower_thread_priority(19);
            s.walk(&prefix, |rel, scan| {
                let batch: Vec<(String, Meta)> = scan
                    .records
                    .iter()
                    .filter_map(|(stem, rec)| {
                        // What `meta` would refuse is not counted.
                        let rec = rec.as_ref()?;
                        if rec.blob.as_deref().is_some_and(|b| !plain_name(b)) {
                            return None;
                        }
                        let key = record_key(rel, stem, Some(rec))?;
                        key.starts_with(&prefix).then(|| (key, rec.meta.clone()))
                    })
                    .collect();
                if !batch.is_empty() {
                    let _ = tx.blocking_send(batch);
                }
            })
        };
        std::thread::Builder::new()
            .name("gomirror-walk".into())
            .spawn(move || {
                let _ = done_tx.send(walk());
            })
            .map_err(io_err("list", "objects"))?;
        // Ends when the walk is over (its sender dropped).
        while let Some(batch) = rx.recv().await {
            for (k, m) in &batch {
                visit(k, m);
            }
        }
        done_rx.await.unwrap_or_else(|_| {
            Err(io_err("list", "objects")(std::io::Error::other(
                "the walk panicked",
            )))
        })
    }

    async fn put(&self, obj: Admitted) -> Result<()> {
        check_key(obj.key())?;
        blocking(self, move |s| {
            let (key, staged, meta) = super::staged_parts(obj, &s.tmp_dir())?;
            s.put_blocking(&key, staged, meta)
        })
        .await
    }

    async fn quarantine(&self, key: &str, reason: &str) -> Result<()> {
        check_key(key)?;
        let (key, reason) = (key.to_owned(), reason.to_owned());
        blocking(self, move |s| s.quarantine_blocking(&key, &reason)).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let key = key.to_owned();
        blocking(self, move |s| s.delete_blocking(&key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = prefix.to_owned();
        blocking(self, move |s| {
            let objects = s.objects();
            let mut out = vec![];
            s.walk(&prefix, |rel, scan| {
                for (stem, rec) in &scan.records {
                    let Some(key) = record_key(rel, stem, rec.as_ref()) else {
                        continue;
                    };
                    if !key.starts_with(&prefix) {
                        continue;
                    }
                    // An unreadable record is listed (a scrub reports it);
                    // a record without its bytes is not an object.
                    let listed = match rec {
                        None => true,
                        Some(r) => {
                            let name = r.blob.as_deref().unwrap_or(stem);
                            scan.files.contains_key(name) || objects.join(join(rel, name)).is_file()
                        }
                    };
                    if listed {
                        out.push(key);
                    }
                }
            })?;
            out.sort();
            out.dedup();
            Ok(out)
        })
        .await
    }

    /// Walks the directories under `prefix` for what [`Store::list`] does
    /// not show: records without their bytes (removed by hand, or lost) and
    /// files no record names (a blob left by a crash mid-commit or a failed
    /// clean-up, a file put there by hand). Leftover files are reported by
    /// their path under `objects/`; those under `#long/` only when
    /// `prefix` is empty.
    async fn unrecorded(&self, prefix: &str) -> Result<Unrecorded> {
        let prefix = prefix.to_owned();
        blocking(self, move |s| {
            let objects = s.objects();
            let mut out = Unrecorded::default();
            s.walk(&prefix, |rel, scan| {
                for (stem, rec) in &scan.records {
                    let Some(r) = rec else { continue };
                    let Some(key) = record_key(rel, stem, Some(r)) else {
                        continue;
                    };
                    let name = r.blob.as_deref().unwrap_or(stem);
                    if key.starts_with(&prefix)
                        && !scan.files.contains_key(name)
                        && !objects.join(join(rel, name)).exists()
                    {
                        out.records_without_bytes.push(key);
                    }
                }
                let named = scan.named_set();
                for (name, m) in &scan.files {
                    let path = join(rel, name);
                    if named.contains(name.as_str())
                        || scan.named(name)
                        || !(prefix.is_empty() || path.starts_with(&prefix))
                    {
                        continue;
                    }
                    out.bytes_without_record.push(UnrecordedFile {
                        key: path,
                        size: m.len(),
                        modified: m.modified().ok(),
                    });
                }
            })?;
            out.bytes_without_record.sort_by(|a, b| a.key.cmp(&b.key));
            out.records_without_bytes.sort();
            out.records_without_bytes.dedup();
            Ok(out)
        })
        .await
    }

    fn free_space(&self) -> Option<u64> {
        crate::util::free_space(&self.root)
    }

    fn object_missing(&self, key: &str) -> bool {
        if check_key(key).is_err() {
            return false;
        }
        match self.with_bytes(key, |path, _| std::fs::symlink_metadata(path)) {
            Ok(Some((_, found))) => found.is_none(),
            Ok(None) => true,
            Err(_) => false,
        }
    }

    fn is_unrecorded(&self, name: &str) -> bool {
        self.unrecorded_file(name)
    }

    async fn quarantine_unrecorded(&self, name: &str, reason: &str) -> Result<()> {
        check_key(name)?;
        let (name, reason) = (name.to_owned(), reason.to_owned());
        blocking(self, move |s| {
            if !s.unrecorded_file(&name) {
                return Ok(());
            }
            let (dir, file) = name.rsplit_once('/').unwrap_or(("", &name));
            let dest = s.root.join("quarantine").join(dir).join(format!(
                "{}.{}",
                cut(file, BLOB_STEM),
                now_nanos()
            ));
            std::fs::create_dir_all(dest.parent().expect("has parent"))
                .map_err(io_err("quarantine", &name))?;
            if rename_if_there(&s.objects().join(&name), &dest)
                .map_err(io_err("quarantine", &name))?
            {
                let _ =
                    std::fs::write(with_suffix(&dest, ".reason"), format!("{name}\n{reason}\n"));
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PutBytes;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn fs_store_passes_compliance() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        crate::store::compliance::run_all(&store).await;
    }

    /// The path of the bytes the record of `key` names.
    fn bytes_path(store: &FsStore, key: &str) -> PathBuf {
        let loc = locate(key);
        let rec = store.read_record(key, &loc).unwrap().unwrap();
        store.bytes_of(&loc, &rec).0
    }

    /// The files of `objects/<dir>`, sorted.
    fn files_in(root: &Path, dir: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(root.join("objects").join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn keys_map_to_paths_the_file_system_can_hold() {
        let l = locate("example.com/m/@v/v1.0.0.zip");
        assert_eq!(
            (l.dir.as_str(), l.stem.as_str(), l.natural),
            ("example.com/m/@v", "v1.0.0.zip", true)
        );
        assert_eq!(l.record_rel(), "example.com/m/@v/v1.0.0.zip.gmeta");
        let long = "e".repeat(256);
        let l = locate(&format!("example.com/{long}/@v/list"));
        assert_eq!(l.dir, format!("example.com/{}/@v", hashed(&long)));
        assert_eq!((l.stem.as_str(), l.natural), ("list", false));
        // The longest elements an earlier version could hold stay as they are.
        let (d255, l249) = ("d".repeat(255), "l".repeat(249));
        let l = locate(&format!("{d255}/{l249}"));
        assert_eq!(
            (l.dir.as_str(), l.stem.as_str(), l.natural),
            (d255.as_str(), l249.as_str(), true)
        );
        assert!(!locate(&format!("{d255}/{l249}x")).natural);
        let l = locate("example.com/x.gmeta/@v/list.gmeta");
        assert_eq!(l.dir, format!("example.com/{}/@v", hashed("x.gmeta")));
        assert_eq!(l.stem, hashed("list.gmeta"));
        assert_eq!(locate("#a/b").dir, hashed("#a"));
        let huge = vec!["p".repeat(100); 40].join("/");
        let l = locate(&huge);
        assert_eq!((l.dir.as_str(), l.stem.clone()), (LONG_DIR, hashed(&huge)));
        // Every path element and path fits the file system.
        for k in [
            huge.as_str(),
            &format!("{long}/{long}"),
            &format!("{d255}/{l249}"),
        ] {
            let l = locate(k);
            let rel = l.record_rel();
            assert!(
                rel.len() <= MAX_PATH && rel.split('/').all(|e| e.len() <= 255),
                "{k}"
            );
            let blob = blob_name(&l.stem);
            assert!(blob.len() <= 255 && blob_of(&l.stem, &blob));
        }
    }

    #[tokio::test]
    async fn a_put_publishes_a_new_blob_and_removes_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let k = "example.com/m/@v/list";
        store
            .put_bytes(
                k,
                b"v1.0.0\n",
                &crate::admit::testing::meta_of(b"v1.0.0\n", "t"),
            )
            .await
            .unwrap();
        let first = bytes_path(&store, k);
        let fp = store.fingerprint(k).unwrap();
        assert_eq!(
            store.open(k).await.unwrap().unwrap().fingerprint.as_deref(),
            Some(fp.as_str())
        );
        store
            .put_bytes(
                k,
                b"v1.1.0\n",
                &crate::admit::testing::meta_of(b"v1.1.0\n", "t"),
            )
            .await
            .unwrap();
        let second = bytes_path(&store, k);
        assert_ne!(first, second);
        assert!(!first.exists(), "the replaced blob is removed");
        let blob = second.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(blob_of("list", &blob), "{blob}");
        assert_eq!(
            files_in(dir.path(), "example.com/m/@v"),
            [blob.clone(), "list.gmeta".into()]
        );
        let rec: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("objects/example.com/m/@v/list.gmeta")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            (rec["key"].as_str(), rec["blob"].as_str()),
            (Some(k), Some(blob.as_str()))
        );
        // An edit in place (rot) changes the fingerprint.
        let fp = store.fingerprint(k).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&second, b"v1.1.1\n").unwrap();
        assert_ne!(store.fingerprint(k).unwrap(), fp);
        // A crash after a blob was published, before its record: the old
        // object stays whole; the blob is a leftover, reported and cleanable.
        let orphan = second.with_file_name("list.0123456789abcdef.gblob");
        std::fs::write(&orphan, b"half").unwrap();
        assert_eq!(store.get_bytes(k).await.unwrap().unwrap().1, b"v1.1.1\n");
        let u = store.unrecorded("").await.unwrap();
        let name = "example.com/m/@v/list.0123456789abcdef.gblob";
        assert_eq!(
            u.bytes_without_record
                .iter()
                .map(|f| f.key.as_str())
                .collect::<Vec<_>>(),
            [name]
        );
        assert!(u.records_without_bytes.is_empty());
        assert!(store.is_unrecorded(name));
        store.quarantine_unrecorded(name, "test").await.unwrap();
        assert!(!orphan.exists());
        assert!(store
            .unrecorded("")
            .await
            .unwrap()
            .bytes_without_record
            .is_empty());
        assert_eq!(store.list("").await.unwrap(), [k]);
        // Quarantine moves record and blob aside, with the reason.
        store.quarantine(k, "rot").await.unwrap();
        assert!(files_in(dir.path(), "example.com/m/@v").is_empty());
        let q = std::fs::read_dir(dir.path().join("quarantine/example.com/m/@v"))
            .unwrap()
            .count();
        assert_eq!(
            q, 5,
            "the leftover and the object (record, blob), each with its reason"
        );
    }

    #[tokio::test]
    async fn leftovers_and_losses_of_hashed_keys_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let k = vec!["p".repeat(200); 20].join("/");
        let meta = crate::admit::testing::meta_of(b"x", "t");
        store.put_bytes(&k, b"x", &meta).await.unwrap();
        let l = locate(&k);
        assert_eq!(l.dir, LONG_DIR);
        let leftover = format!("{LONG_DIR}/{}.00000000000000ff.gblob", l.stem);
        std::fs::write(dir.path().join("objects").join(&leftover), b"y").unwrap();
        let u = store.unrecorded("").await.unwrap();
        let keys: Vec<_> = u
            .bytes_without_record
            .iter()
            .map(|f| f.key.as_str())
            .collect();
        assert_eq!(keys, [leftover.as_str()]);
        assert!(store.is_unrecorded(&leftover));
        store.quarantine_unrecorded(&leftover, "t").await.unwrap();
        assert!(!dir.path().join("objects").join(&leftover).exists());
        assert_eq!(store.list("p").await.unwrap(), [k.as_str()]);
        std::fs::remove_file(bytes_path(&store, &k)).unwrap();
        assert_eq!(
            store.unrecorded("").await.unwrap().records_without_bytes,
            [k.as_str()]
        );
        assert!(store.object_missing(&k));
        assert!(store.list("").await.unwrap().is_empty());
        let o = store.open(&k).await.unwrap().unwrap();
        assert_eq!(o.reader.stored_len().await.unwrap(), 0);
        store.quarantine(&k, "lost").await.unwrap();
        assert!(store.meta(&k).await.unwrap().is_none());
        assert!(dir.path().join("quarantine").join(LONG_DIR).is_dir());
    }

    #[tokio::test]
    async fn stores_of_the_earlier_layout_are_read_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let k = "example.com/old/@v/v1.0.0.mod";
        let meta = crate::admit::testing::meta_of(b"module old\n", "t");
        let d = dir.path().join("objects/example.com/old/@v");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("v1.0.0.mod"), b"module old\n").unwrap();
        std::fs::write(
            d.join("v1.0.0.mod.gmeta"),
            serde_json::to_vec(&meta).unwrap(),
        )
        .unwrap();
        assert_eq!(
            store.get_bytes(k).await.unwrap(),
            Some((meta.clone(), b"module old\n".to_vec()))
        );
        assert_eq!(store.list("example.com/").await.unwrap(), [k]);
        let u = store.unrecorded("").await.unwrap();
        assert!(u.bytes_without_record.is_empty() && u.records_without_bytes.is_empty());
        assert!(store.fingerprint(k).is_some());
        assert!(!store.object_missing(k));
        // Replacing it leaves the new layout, and nothing of the old.
        store.put_bytes(k, b"module old\n", &meta).await.unwrap();
        assert!(!d.join("v1.0.0.mod").exists());
        assert_eq!(files_in(dir.path(), "example.com/old/@v").len(), 2);
        assert_eq!(
            store.get_bytes(k).await.unwrap().unwrap().1,
            b"module old\n"
        );
        // An old record whose bytes are gone is a record without bytes.
        let k2 = "example.com/old/@v/v1.1.0.mod";
        std::fs::write(
            d.join("v1.1.0.mod.gmeta"),
            serde_json::to_vec(&meta).unwrap(),
        )
        .unwrap();
        assert_eq!(
            store.unrecorded("").await.unwrap().records_without_bytes,
            [k2]
        );
        assert!(store.object_missing(k2));
        assert_eq!(store.list("").await.unwrap(), [k]);
    }

    #[tokio::test]
    async fn unrecorded_finds_what_list_hides_and_attach_keeps_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let meta = crate::admit::testing::meta_of(b"x", "test");
        store
            .put_bytes("a/@v/v1.0.0.mod", b"x", &meta)
            .await
            .unwrap();
        store
            .put_bytes("a/@v/v1.0.0.zip", b"x", &meta)
            .await
            .unwrap();
        std::fs::remove_file(bytes_path(&store, "a/@v/v1.0.0.zip")).unwrap();
        std::fs::write(dir.path().join("objects/a/@v/v2.0.0.zip"), b"half").unwrap();
        std::fs::create_dir_all(dir.path().join("objects/b")).unwrap();
        std::fs::write(dir.path().join("objects/b/stray"), b"s").unwrap();
        let u = store.unrecorded("").await.unwrap();
        let keys: Vec<_> = u
            .bytes_without_record
            .iter()
            .map(|f| f.key.as_str())
            .collect();
        assert_eq!(keys, ["a/@v/v2.0.0.zip", "b/stray"]);
        assert_eq!(u.bytes_without_record[0].size, 4);
        assert_eq!(u.records_without_bytes, ["a/@v/v1.0.0.zip"]);
        let u = store.unrecorded("b/").await.unwrap();
        assert_eq!(u.bytes_without_record.len(), 1);
        assert!(u.records_without_bytes.is_empty());
        assert!(store.object_missing("a/@v/v1.0.0.zip"));
        assert!(store.is_unrecorded("b/stray"));
        assert!(!store.is_unrecorded("a/@v/v1.0.0.mod"));
        let blob = bytes_path(&store, "a/@v/v1.0.0.mod");
        let blob = blob.strip_prefix(dir.path().join("objects")).unwrap();
        assert!(!store.is_unrecorded(blob.to_str().unwrap()));

        std::fs::write(dir.path().join("tmp/stage-live"), b"in flight").unwrap();
        let attached = FsStore::attach(dir.path()).unwrap();
        assert_eq!(attached.list("").await.unwrap(), ["a/@v/v1.0.0.mod"]);
        assert!(dir.path().join("tmp/stage-live").exists());
        assert!(FsStore::attach(dir.path().join("nowhere")).is_err());
    }

    #[tokio::test]
    async fn bytes_without_record_are_absent_and_tmp_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        // Simulate a crash between the bytes' rename and the record's.
        std::fs::create_dir_all(dir.path().join("objects/a")).unwrap();
        std::fs::write(dir.path().join("objects/a/b"), b"half").unwrap();
        std::fs::write(dir.path().join("tmp/stage-left"), b"junk").unwrap();
        assert!(store.meta("a/b").await.unwrap().is_none());
        assert!(store.open("a/b").await.unwrap().is_none());
        assert!(store.list("a/").await.unwrap().is_empty());
        drop(store);
        let _store = FsStore::open(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    /// A copy's probe says unchanged only while the record and the blob it
    /// was opened through are the very same files, untouched: a new commit
    /// of the key, an edit of either file (even one that restores the
    /// bytes), or a lost blob each make it say changed, as they change the
    /// fingerprint.
    #[tokio::test]
    async fn a_copy_probe_sees_every_change_the_fingerprint_sees() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let k = "example.com/m/@v/v1.0.0.info";
        let data = br#"{"Version":"v1.0.0"}"#;
        let meta = crate::admit::testing::meta_of(data, "test");
        let fresh = || async {
            store.put_bytes(k, data, &meta).await.unwrap();
            let o = store.open(k).await.unwrap().unwrap();
            let p = o.probe.clone().expect("the file store gives a probe");
            assert!(p.unchanged());
            (o, p)
        };
        // Read again and again: nothing changed.
        let (o, p) = fresh().await;
        let _ = store.open(k).await.unwrap().unwrap();
        let _ = store.fingerprint(k);
        assert!(p.unchanged());
        drop(o);
        // A new commit of the same bytes: a new record and blob.
        store.put_bytes(k, data, &meta).await.unwrap();
        assert!(!p.unchanged());
        // The blob written in place, even with the same bytes.
        let (_o, p) = fresh().await;
        let fp = store.fingerprint(k);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(bytes_path(&store, k), data).unwrap();
        assert_ne!(store.fingerprint(k), fp);
        assert!(!p.unchanged());
        // The record rewritten in place with the same content.
        let (_o, p) = fresh().await;
        let rec = dir.path().join("objects").join(locate(k).record_rel());
        let content = std::fs::read(&rec).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&rec, &content).unwrap();
        assert!(!p.unchanged());
        // The blob gone.
        let (_o, p) = fresh().await;
        std::fs::remove_file(bytes_path(&store, k)).unwrap();
        assert!(!p.unchanged());
        // The record gone.
        let (_o, p) = fresh().await;
        std::fs::remove_file(&rec).unwrap();
        assert!(!p.unchanged());
    }

    /// One pass over the records gives exactly what listing the keys and
    /// reading each record gives: every readable object once, with its
    /// recorded size, under the prefix only (keys mapped to other paths
    /// included, a corrupt record skipped).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn visiting_sizes_matches_list_and_meta() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        let long = "e".repeat(300);
        let keys = [
            "example.com/a/@v/v1.0.0.info".to_owned(),
            "example.com/a/@v/v1.0.0.zip".to_owned(),
            "example.com/b/@v/list".to_owned(),
            format!("example.com/{long}/@v/v1.0.0.mod"),
            "other.org/c/@v/v1.0.0.mod".to_owned(),
        ];
        for (i, k) in keys.iter().enumerate() {
            let data = vec![b'x'; 10 + i];
            let meta = crate::admit::testing::meta_of(&data, "test");
            store.put_bytes(k, &data, &meta).await.unwrap();
        }
        let bad = dir
            .path()
            .join("objects/example.com/a/@v/v2.0.0.info.gmeta");
        std::fs::write(&bad, b"{not json").unwrap();
        for prefix in ["", "example.com/", "example.com/a/", "nothing/"] {
            let mut visited = vec![];
            store
                .visit_records(prefix, &mut |k, m| visited.push((k.to_owned(), m.size)))
                .await
                .unwrap();
            visited.sort();
            let mut want = vec![];
            for k in store.list(prefix).await.unwrap() {
                if let Ok(Some(m)) = store.meta(&k).await {
                    want.push((k, m.size));
                }
            }
            assert_eq!(visited, want, "under {prefix:?}");
        }
    }

    /// The walk's thread yields to serving: nice 19, that thread only.
    #[test]
    fn a_lowered_thread_has_nice_19_and_only_it() {
        fn nice() -> i64 {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            // Fields after the command name (in parentheses): nice is the 19th field.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            rest.split(' ').nth(16).unwrap().parse().unwrap()
        }
        let before = nice();
        let lowered = std::thread::spawn(|| {
            crate::util::lower_thread_priority(19);
            nice()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, 19);
        assert_eq!(nice(), before);
    }
}
