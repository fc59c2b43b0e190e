//! The local file-system store (the default).
//!
//! Layout under the data directory:
//!
//! ```text
//! objects/<key>            the object's bytes, exactly as served
//! objects/<key>.gmeta      its metadata record (JSON); the commit point
//! quarantine/<key>.<time>  objects taken out of service, with their record
//! tmp/                     staging files; emptied at start-up
//! ```
//!
//! Commit order: sync the staged bytes, write and sync the record to a temp
//! file, remove any old record, rename the bytes into place, rename the
//! record into place, sync the directory. A crash before the record's rename
//! leaves bytes without a record, which the store treats as absent.

use super::{
    check_key, Meta, ObjectRead, Opened, Result, Staged, Store, StoreError, Unrecorded,
    UnrecordedFile,
};
use crate::admit::Admitted;
use async_trait::async_trait;
use bytes::Bytes;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Suffix of metadata records beside objects; no key element may end in it.
pub(crate) const META_SUFFIX: &str = ".gmeta";

/// A [`Store`] on the local file system.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

fn io_err<'a>(op: &'static str, key: &'a str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        key: key.to_owned(),
        source,
    }
}

impl FsStore {
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
        Ok(FsStore { root })
    }

    /// Opens an existing store at `root` without touching its staging
    /// directory, for tools that run beside a live server (emptying `tmp/`
    /// would break the server's admissions in flight).
    pub fn attach(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let objects = root.join("objects");
        match std::fs::metadata(&objects) {
            Ok(m) if m.is_dir() => Ok(FsStore { root }),
            Ok(_) => Err(io_err("open", "objects")(std::io::Error::other(
                "not a directory",
            ))),
            Err(e) => Err(io_err("open", "objects")(e)),
        }
    }

    /// Walks the objects directory under `prefix` for what [`Store::list`]
    /// does not show: bytes without a metadata record (a crash between the
    /// two renames of a commit, or a file put there by hand) and records
    /// without their bytes (a file removed by hand, or lost). Sorted keys.
    async fn scan_unrecorded(&self, prefix: &str) -> Result<Unrecorded> {
        let objects = self.root.join("objects");
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || -> Result<Unrecorded> {
            let mut out = Unrecorded::default();
            walk_prefix(&objects, &prefix, "walk", |rel, e| {
                if e.file_type().is_err() {
                    return;
                }
                if let Some(k) = rel.strip_suffix(META_SUFFIX) {
                    if k.starts_with(&prefix) && !objects.join(k).exists() {
                        out.records_without_bytes.push(k.to_owned());
                    }
                } else if rel.starts_with(&prefix) && !FsStore::meta_path(&e.path()).exists() {
                    if let Ok(m) = e.metadata() {
                        out.bytes_without_record.push(UnrecordedFile {
                            key: rel.to_owned(),
                            size: m.len(),
                            modified: m.modified().ok(),
                        });
                    }
                }
            })?;
            out.bytes_without_record.sort_by(|a, b| a.key.cmp(&b.key));
            out.records_without_bytes.sort();
            Ok(out)
        })
        .await
        .expect("store task panicked")
    }

    /// Whether the bytes of `key` are absent (whatever its record says).
    fn bytes_missing(&self, key: &str) -> bool {
        self.object_path(key)
            .is_ok_and(|p| std::fs::symlink_metadata(p).is_err())
    }

    /// Whether `key` has bytes but no metadata record.
    fn bytes_without_record(&self, key: &str) -> bool {
        self.object_path(key)
            .is_ok_and(|p| p.is_file() && !FsStore::meta_path(&p).exists())
    }

    fn object_path(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join("objects").join(key))
    }

    fn meta_path(path: &Path) -> PathBuf {
        let mut s = path.as_os_str().to_owned();
        s.push(META_SUFFIX);
        PathBuf::from(s)
    }

    fn read_meta(&self, key: &str, path: &Path) -> Result<Option<Meta>> {
        match std::fs::read(Self::meta_path(path)) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| StoreError::BadMeta {
                    key: key.to_owned(),
                    source: e,
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read record", key)(e)),
        }
    }
}

/// Positional reads of an open stored file (`pread` on a blocking thread,
/// straight into the returned buffer).
struct FileRead {
    /// `None`: the bytes are missing (a zero-length copy).
    file: Option<Arc<std::fs::File>>,
}

impl FileRead {
    fn missing() -> FileRead {
        FileRead { file: None }
    }
}

#[async_trait]
impl ObjectRead for FileRead {
    async fn stored_len(&self) -> std::io::Result<u64> {
        let Some(f) = self.file.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || f.metadata().map(|m| m.len()))
            .await
            .expect("store task panicked")
    }

    async fn read_at(&self, pos: u64, max: usize) -> std::io::Result<Bytes> {
        use std::os::unix::fs::FileExt;
        let Some(f) = self.file.clone() else {
            return Ok(Bytes::new());
        };
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; max];
            let mut n = 0;
            while n < max {
                match f.read_at(&mut buf[n..], pos + n as u64) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(n);
            Ok(Bytes::from(buf))
        })
        .await
        .expect("store task panicked")
    }
}

/// Walks the directories of `objects` that can hold keys starting with
/// `prefix` (only those: never the whole store) and calls `visit` with the
/// `/`-separated path relative to `objects` of every entry that is not a
/// directory. A directory that vanishes meanwhile is skipped.
fn walk_prefix(
    objects: &Path,
    prefix: &str,
    op: &'static str,
    mut visit: impl FnMut(&str, &std::fs::DirEntry),
) -> Result<()> {
    let (dir_part, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    let mut stack = vec![objects.join(dir_part)];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(op, prefix)(e)),
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(objects)
                .expect("under objects")
                .to_string_lossy()
                .into_owned();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if rel.starts_with(prefix) || prefix.starts_with(&format!("{rel}/")) {
                    stack.push(p);
                }
            } else {
                visit(&rel, &e);
            }
        }
    }
    Ok(())
}

/// Identifies a stored copy: any write through the file system changes the
/// ctime, a replacement changes the inode.
fn fingerprint_of(m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{}:{}:{}:{}.{}:{}.{}",
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

#[async_trait]
impl Store for FsStore {
    async fn meta(&self, key: &str) -> Result<Option<Meta>> {
        let path = self.object_path(key)?;
        let this = self.clone();
        let key = key.to_owned();
        tokio::task::spawn_blocking(move || this.read_meta(&key, &path))
            .await
            .expect("store task panicked")
    }

    async fn open(&self, key: &str) -> Result<Option<Opened>> {
        let path = self.object_path(key)?;
        let Some(meta) = self.meta(key).await? else {
            return Ok(None);
        };
        let opened = tokio::task::spawn_blocking(
            move || -> std::io::Result<Option<(std::fs::File, String)>> {
                match std::fs::File::open(&path) {
                    Ok(f) => {
                        let fp = fingerprint_of(&f.metadata()?);
                        Ok(Some((f, fp)))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            },
        )
        .await
        .expect("store task panicked")
        .map_err(io_err("open", key))?;
        Ok(Some(match opened {
            Some((f, fp)) => Opened {
                meta,
                reader: Box::new(FileRead {
                    file: Some(Arc::new(f)),
                }),
                fingerprint: Some(fp),
            },
            // A record without its bytes: the object is missing; the
            // caller's verification reports it as rot.
            None => Opened {
                meta,
                reader: Box::new(FileRead::missing()),
                fingerprint: None,
            },
        }))
    }

    fn fingerprint(&self, key: &str) -> Option<String> {
        let path = self.object_path(key).ok()?;
        std::fs::metadata(path).ok().map(|m| fingerprint_of(&m))
    }

    fn stage(&self) -> Result<Staged> {
        let file = tempfile::Builder::new()
            .prefix("stage-")
            .tempfile_in(self.root.join("tmp"))
            .map_err(io_err("stage", "tmp"))?;
        Ok(Staged::new(file))
    }

    async fn put(&self, obj: Admitted) -> Result<()> {
        let (key, staged, meta) = obj.into_parts();
        let (key, meta) = (key.as_str(), &meta);
        let path = self.object_path(key)?;
        let root = self.root.clone();
        let key = key.to_owned();
        let record = serde_json::to_vec_pretty(meta).expect("metadata serialises");
        tokio::task::spawn_blocking(move || -> Result<()> {
            let dir = path
                .parent()
                .expect("object paths have a parent")
                .to_path_buf();
            std::fs::create_dir_all(&dir).map_err(io_err("create dir", &key))?;
            let tmp = staged.into_temp();
            tmp.as_file().sync_all().map_err(io_err("sync", &key))?;
            let mut rec = tempfile::Builder::new()
                .prefix("meta-")
                .tempfile_in(root.join("tmp"))
                .map_err(io_err("stage record", &key))?;
            rec.write_all(&record)
                .and_then(|_| rec.as_file().sync_all())
                .map_err(io_err("write record", &key))?;
            let meta_path = FsStore::meta_path(&path);
            match std::fs::remove_file(&meta_path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove old record", &key)(e)),
            }
            tmp.persist(&path)
                .map_err(|e| io_err("rename", &key)(e.error))?;
            rec.persist(&meta_path)
                .map_err(|e| io_err("rename record", &key)(e.error))?;
            sync_dir(&dir).map_err(io_err("sync dir", &key))?;
            Ok(())
        })
        .await
        .expect("store task panicked")
    }

    async fn quarantine(&self, key: &str, reason: &str) -> Result<()> {
        let path = self.object_path(key)?;
        let qdir = self.root.join("quarantine");
        let key = key.to_owned();
        let reason = reason.to_owned();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let meta_path = FsStore::meta_path(&path);
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dest = qdir.join(format!("{key}.{stamp}"));
            std::fs::create_dir_all(dest.parent().expect("has parent"))
                .map_err(io_err("quarantine", &key))?;
            // The record goes first: from this instant the object is absent.
            match std::fs::rename(&meta_path, FsStore::meta_path(&dest)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("quarantine record", &key)(e)),
            }
            match std::fs::rename(&path, &dest) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("quarantine", &key)(e)),
            }
            let _ = std::fs::write(dest.with_extension("reason"), reason);
            Ok(())
        })
        .await
        .expect("store task panicked")
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.object_path(key)?;
        for p in [FsStore::meta_path(&path), path] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("delete", key)(e)),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let objects = self.root.join("objects");
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let mut out = vec![];
            walk_prefix(&objects, &prefix, "list", |rel, _| {
                if let Some(k) = rel.strip_suffix(META_SUFFIX) {
                    if k.starts_with(&prefix) && objects.join(k).is_file() {
                        out.push(k.to_owned());
                    }
                }
            })?;
            out.sort();
            Ok(out)
        })
        .await
        .expect("store task panicked")
    }

    async fn unrecorded(&self, prefix: &str) -> Result<Unrecorded> {
        self.scan_unrecorded(prefix).await
    }

    fn free_space(&self) -> Option<u64> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.root.as_os_str().as_bytes()).ok()?;
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is a NUL-terminated string and `st` a valid,
        // writable statvfs for the call to fill.
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            return None;
        }
        Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }

    fn object_missing(&self, key: &str) -> bool {
        self.bytes_missing(key)
    }

    fn is_unrecorded(&self, key: &str) -> bool {
        self.bytes_without_record(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PutBytes;

    #[tokio::test]
    async fn fs_store_passes_compliance() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        crate::store::compliance::run_all(&store).await;
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
        std::fs::remove_file(dir.path().join("objects/a/@v/v1.0.0.zip")).unwrap();
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
}
