//! A module zip checked while it arrives: the received chunks are handed to
//! [`gomod::zip::digest_stream`] on a blocking thread, which inflates and
//! digests every entry as the bytes land, so that when the last byte is in
//! only the zip's central directory is left to read
//! ([`gomod::zip::check_and_hash_zip_streamed`] decides, with the same
//! rules and result as reading the zip again). Its SHA-256 is computed on
//! a thread of its own too.

use bytes::{Buf, Bytes};
use gomod::zip::StreamDigests;
use tokio::sync::mpsc;

/// Chunks waiting for the digesting thread at most (back-pressure: the
/// download goes no faster than the digest).
const QUEUE: usize = 32;

/// Work on the chunks of one upstream body, done on a blocking thread while
/// the body arrives: the sending side.
pub(super) struct Offload<T> {
    tx: Option<mpsc::Sender<Bytes>>,
    done: tokio::task::JoinHandle<T>,
}

impl<T: Send + 'static> Offload<T> {
    /// Starts `work` on a blocking thread, reading the chunks fed.
    fn start(work: impl FnOnce(ChunkReader) -> T + Send + 'static) -> Offload<T> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            work(ChunkReader {
                rx,
                current: Bytes::new(),
            })
        });
        Offload { tx: Some(tx), done }
    }

    /// Hands over the next chunk (waits while the thread is behind). A
    /// thread that has stopped is not an error: [`Offload::finish`] says.
    pub(super) async fn feed(&self, chunk: &Bytes) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(chunk.clone()).await;
        }
    }

    /// The work's result over the whole body (`None` if the thread failed).
    pub(super) async fn finish(mut self) -> Option<T> {
        self.tx.take();
        (&mut self.done).await.ok()
    }
}

/// Starts digesting a zip of `module`@`version` (see the module's docs),
/// telling `live` how far the content checked and how far the digest read.
pub(super) fn digesting(
    module: &str,
    version: &str,
    live: Option<std::sync::Arc<super::Live>>,
) -> Offload<std::io::Result<StreamDigests>> {
    let (m, v) = (module.to_owned(), version.to_owned());
    Offload::start(move |r| {
        gomod::zip::digest_stream(r, &m, &v, |p| {
            if let Some(l) = &live {
                l.digested(p.verified_end, p.consumed, p.parsing);
            }
        })
    })
}

/// Starts the SHA-256 of a body on its own thread (a large body's hash then
/// runs beside its digest and its writing, on another core).
pub(super) fn hashing() -> Offload<[u8; 32]> {
    Offload::start(|mut r| {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        while let Some(c) = r.next_chunk() {
            h.update(&c);
        }
        h.finalize().into()
    })
}

/// The received chunks as a `Read`, for the digesting thread; the end of
/// the channel is the end of the stream.
struct ChunkReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChunkReader {
    /// The next whole chunk not yet read (`None` at the end).
    fn next_chunk(&mut self) -> Option<Bytes> {
        if !self.current.is_empty() {
            return Some(std::mem::take(&mut self.current));
        }
        self.rx.blocking_recv()
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(c) => self.current = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
