//! A bounded set of open stored files, shared by every reader of a store.
//!
//! A response body reads its stored file chunk by chunk for as long as the
//! client takes; a client that stalls (an HTTP/2 stream that never reads)
//! would hold the file open indefinitely, and thousands of them would run
//! the process out of descriptors. So readers do not own their file: they
//! hold a handle into this set, which keeps at most [`OpenFiles::cap`]
//! files open and closes the least recently read first. A reader whose
//! file was closed opens it again by path on its next read — and refuses
//! to go on if the path now holds another file (device and inode differ),
//! so a reader never mixes the bytes of two copies.

use lru::LruCache;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Files kept open at most, by default (descriptors for client
/// connections are the rest of the limit; see `cli::conn`).
pub const DEFAULT_CAP: usize = 256;

/// The open files of a store (see the module documentation).
pub struct OpenFiles {
    cap: usize,
    files: Mutex<LruCache<u64, Arc<File>>>,
    next: AtomicU64,
}

impl std::fmt::Debug for OpenFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenFiles")
            .field("cap", &self.cap)
            .field("open", &self.open())
            .finish()
    }
}

impl OpenFiles {
    /// A set keeping at most `cap` (at least 1) files open.
    pub fn new(cap: usize) -> Arc<OpenFiles> {
        Arc::new(OpenFiles {
            cap: cap.max(1),
            files: Mutex::new(LruCache::unbounded()),
            next: AtomicU64::new(0),
        })
    }

    /// How many files are open in the set now.
    pub fn open(&self) -> usize {
        self.files.lock().unwrap().len()
    }

    fn keep(&self, id: u64, f: Arc<File>) {
        let mut files = self.files.lock().unwrap();
        files.put(id, f);
        while files.len() > self.cap {
            files.pop_lru();
        }
    }

    /// Takes `file` (opened from `path`) into the set; reads go through
    /// the returned handle.
    pub fn adopt(self: &Arc<Self>, file: File, path: PathBuf) -> std::io::Result<Pooled> {
        let m = file.metadata()?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.keep(id, Arc::new(file));
        Ok(Pooled {
            id,
            path,
            ident: (m.dev(), m.ino()),
            set: self.clone(),
        })
    }
}

/// A reader's handle on one stored file in an [`OpenFiles`] set.
pub struct Pooled {
    id: u64,
    path: PathBuf,
    ident: (u64, u64),
    set: Arc<OpenFiles>,
}

impl Pooled {
    /// The open file if the set still holds it (without blocking).
    pub fn file_if_open(&self) -> Option<Arc<File>> {
        self.set.files.lock().unwrap().get(&self.id).cloned()
    }

    /// The open file: from the set, or opened again by path (checked to be
    /// the same file). Blocking: call it on a blocking thread.
    pub fn file(&self) -> std::io::Result<Arc<File>> {
        if let Some(f) = self.set.files.lock().unwrap().get(&self.id) {
            return Ok(f.clone());
        }
        let f = File::open(&self.path)?;
        let m = f.metadata()?;
        if (m.dev(), m.ino()) != self.ident {
            return Err(std::io::Error::other(
                "the stored copy was replaced while it was being read",
            ));
        }
        let f = Arc::new(f);
        self.set.keep(self.id, f.clone());
        Ok(f)
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.set.files.lock().unwrap().pop(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    fn fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    #[test]
    fn many_readers_hold_at_most_the_cap_and_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"0123456789").unwrap();
        let set = OpenFiles::new(8);
        let before = fds();
        let readers: Vec<Pooled> = (0..300)
            .map(|_| set.adopt(File::open(&path).unwrap(), path.clone()).unwrap())
            .collect();
        // Descriptors of other tests' threads come and go: a margin.
        assert!(fds() <= before + 8 + 4, "{} open", fds() - before);
        assert_eq!(set.open(), 8);
        for (i, r) in readers.iter().enumerate() {
            let mut b = [0u8; 1];
            r.file().unwrap().read_at(&mut b, (i % 10) as u64).unwrap();
            assert_eq!(b[0], b'0' + (i % 10) as u8);
        }
        assert_eq!(set.open(), 8);
        drop(readers);
        assert_eq!(set.open(), 0);
    }

    #[test]
    fn a_reopened_path_holding_another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"first").unwrap();
        let set = OpenFiles::new(1);
        let a = set.adopt(File::open(&path).unwrap(), path.clone()).unwrap();
        let other = dir.path().join("other");
        std::fs::write(&other, b"first").unwrap();
        let _b = set
            .adopt(File::open(&other).unwrap(), other.clone())
            .unwrap();
        // `a` was closed to make room; its path now names another file.
        std::fs::rename(&other, &path).unwrap();
        let e = a.file().unwrap_err();
        assert!(e.to_string().contains("replaced"), "{e}");
    }
}
