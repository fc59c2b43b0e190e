//! A body staged to a file is digested while it lands: the receiver only
//! writes it into its staging file, and threads read the file behind it
//! (from the page cache, in large pieces; never faster than it lands):
//!
//! * for a module zip, [`gomod::zip::digest_stream`], which inflates and
//!   digests every entry, so that when the last byte is in only the zip's
//!   central directory is left to read
//!   ([`gomod::zip::check_and_hash_zip_streamed`] decides, with the same
//!   rules and result as reading the zip again); its progress is what live
//!   clients may be sent ([`super::Live`]);
//! * the body's SHA-256, for its record, on a thread of lower priority: no
//!   client waits for it (admission decides without it), only the commit
//!   does, so while the body lands it takes no CPU from what clients wait
//!   for.
//!
//! Both read what is committed and served, the staging file itself; the
//! receiver is never held back by them (no bytes are queued in memory).

use gomod::zip::StreamDigests;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// How far a body has landed in its staging file, shared by the receiver
/// and the threads reading behind it.
pub(super) struct Landing {
    state: Mutex<Landed>,
    moved: Condvar,
}

#[derive(Default)]
struct Landed {
    /// Bytes written to the staging file (readable by others).
    written: u64,
    /// `Some(true)`: the body is complete; `Some(false)`: the transfer
    /// failed (readers stop with an error).
    end: Option<bool>,
}

impl Landing {
    pub(super) fn new() -> Arc<Landing> {
        Arc::new(Landing {
            state: Mutex::default(),
            moved: Condvar::new(),
        })
    }

    /// `written` bytes of the body are in the staging file.
    pub(super) fn advance(&self, written: u64) {
        let mut s = self.state.lock().unwrap();
        if written > s.written {
            s.written = written;
            self.moved.notify_all();
        }
    }

    /// The body is complete (`true`) or will never be (`false`); the first
    /// word stands.
    pub(super) fn end(&self, complete: bool) {
        let mut s = self.state.lock().unwrap();
        if s.end.is_none() {
            s.end = Some(complete);
            self.moved.notify_all();
        }
    }
}

/// Ends a landing as failed when dropped before it was ended (every way
/// out of receiving that is not its end).
pub(super) struct EndOnDrop(pub(super) Arc<Landing>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.end(false);
    }
}

/// The staging file as a `Read` that follows the receiver: it waits for
/// bytes past its position to land, reads them from the file, and ends at
/// the end of a complete body (an error if the transfer failed, or once
/// its result is no longer wanted).
struct Tail {
    landing: Arc<Landing>,
    file: Arc<File>,
    pos: u64,
    abandoned: Arc<AtomicBool>,
}

impl std::io::Read for Tail {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.abandoned.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("no longer wanted"));
        }
        let avail = {
            let mut s = self.landing.state.lock().unwrap();
            loop {
                if s.written > self.pos {
                    break s.written - self.pos;
                }
                match s.end {
                    Some(true) => return Ok(0),
                    Some(false) => {
                        return Err(std::io::Error::other("the transfer failed"));
                    }
                    None => s = self.landing.moved.wait(s).unwrap(),
                }
            }
        };
        let n = buf.len().min(usize::try_from(avail).unwrap_or(usize::MAX));
        let k = self.file.read_at(&mut buf[..n], self.pos)?;
        if k == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the staging file is shorter than what was written",
            ));
        }
        self.pos += k as u64;
        Ok(k)
    }
}

/// A thread's work over a landing body; its result once the body ended.
/// Dropped, it stops the work (a refused body is not hashed to its end).
pub(super) struct Behind<T> {
    result: Option<tokio::sync::oneshot::Receiver<T>>,
    abandoned: Arc<AtomicBool>,
}

impl<T> Behind<T> {
    /// The work's result (`None` if its thread failed).
    pub(super) async fn finish(mut self) -> Option<T> {
        self.result.take()?.await.ok()
    }
}

impl<T> Drop for Behind<T> {
    fn drop(&mut self) {
        // A reader waiting for bytes wakes when the receiver ends the
        // landing (it always does), and then stops here.
        if self.result.is_some() {
            self.abandoned.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs `work` on a thread of its own (named `name`, with nice value
/// `nice` when above 0: a pooled thread is never reniced) over a reader
/// of the landing body.
fn behind<T: Send + 'static>(
    name: &str,
    nice: i32,
    file: Arc<File>,
    landing: Arc<Landing>,
    work: impl FnOnce(Tail) -> T + Send + 'static,
) -> std::io::Result<Behind<T>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let abandoned = Arc::new(AtomicBool::new(false));
    let tail = Tail {
        landing,
        file,
        pos: 0,
        abandoned: abandoned.clone(),
    };
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if nice > 0 {
                crate::util::lower_thread_priority(nice);
            }
            let _ = tx.send(work(tail));
        })?;
    Ok(Behind {
        result: Some(rx),
        abandoned,
    })
}

/// Nice value of the thread hashing a body for its record (see the module
/// documentation): it yields to what clients wait for, and still gets a
/// share of a busy machine.
const HASH_NICE: i32 = 10;

/// Starts digesting the zip of `module`@`version` landing in `file` (see
/// the module's docs), telling `live` how far the content checked and how
/// far the digest read.
pub(super) fn digesting(
    file: Arc<File>,
    landing: Arc<Landing>,
    module: &str,
    version: &str,
    live: Option<Arc<super::Live>>,
) -> std::io::Result<Behind<std::io::Result<StreamDigests>>> {
    let (m, v) = (module.to_owned(), version.to_owned());
    behind("gomirror-digest", 0, file, landing, move |r| {
        gomod::zip::digest_stream(r, &m, &v, |p| {
            if let Some(l) = &live {
                l.digested(p.verified_end, p.consumed, p.parsing);
            }
        })
    })
}

/// Starts the SHA-256 of the body landing in `file`.
pub(super) fn hashing(
    file: Arc<File>,
    landing: Arc<Landing>,
) -> std::io::Result<Behind<std::io::Result<[u8; 32]>>> {
    behind("gomirror-hash", HASH_NICE, file, landing, |mut r| {
        use sha2::Digest;
        use std::io::Read;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(h.finalize().into()),
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn landing_file() -> (tempfile::NamedTempFile, Arc<File>, Arc<Landing>) {
        let f = tempfile::NamedTempFile::new().unwrap();
        let r = Arc::new(f.as_file().try_clone().unwrap());
        (f, r, Landing::new())
    }

    /// The hash read behind the writer is the body's, however the body
    /// lands (written in pieces while the thread reads).
    #[tokio::test]
    async fn the_hash_behind_the_writer_is_the_bodys() {
        use sha2::Digest;
        let (mut f, r, l) = landing_file();
        let h = hashing(r, l.clone()).unwrap();
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let mut n = 0;
        for piece in body.chunks(100_003) {
            f.write_all(piece).unwrap();
            n += piece.len() as u64;
            l.advance(n);
        }
        l.end(true);
        let got = h.finish().await.unwrap().unwrap();
        assert_eq!(got, <[u8; 32]>::from(sha2::Sha256::digest(&body)));
    }

    /// A transfer that fails ends the readers behind it with an error,
    /// never with a result over the bytes that did land.
    #[tokio::test]
    async fn a_failed_transfer_ends_the_readers_with_an_error() {
        let (mut f, r, l) = landing_file();
        let h = hashing(r, l.clone()).unwrap();
        f.write_all(&[1u8; 5000]).unwrap();
        l.advance(5000);
        drop(EndOnDrop(l.clone()));
        let r = tokio::time::timeout(std::time::Duration::from_secs(10), h.finish()).await;
        assert!(r.expect("the reader ended").unwrap().is_err());
    }

    /// Work whose result is dropped stops at its next read.
    #[tokio::test]
    async fn a_dropped_result_stops_the_work() {
        let (mut f, r, l) = landing_file();
        f.write_all(&[1u8; 1 << 20]).unwrap();
        l.advance(1 << 20);
        l.end(true);
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (read_tx, read_rx) = std::sync::mpsc::channel();
        let b = behind("test", 0, r, l, move |mut t| {
            let mut buf = [0u8; 4096];
            let _ = read_tx.send(t.read(&mut buf).is_ok());
            go_rx.recv().unwrap();
            let _ = read_tx.send(t.read(&mut buf).is_ok());
        })
        .unwrap();
        let wait = || {
            read_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap()
        };
        assert!(wait(), "the first read, while wanted");
        drop(b);
        go_tx.send(()).unwrap();
        assert!(!wait(), "a read after the result was dropped");
    }
}
