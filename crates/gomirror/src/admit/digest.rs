//! A module zip checked while it arrives: the received chunks are handed to
//! [`gomod::zip::digest_stream`] on a blocking thread, which inflates and
//! digests every entry as the bytes land, so that when the last byte is in
//! only the zip's central directory is left to read
//! ([`gomod::zip::check_and_hash_zip_streamed`] decides, with the same
//! rules and result as reading the zip again).

use bytes::{Buf, Bytes};
use gomod::zip::StreamDigests;
use tokio::sync::mpsc;

/// Chunks waiting for the digesting thread at most (back-pressure: the
/// download goes no faster than the digest).
const QUEUE: usize = 16;

/// The sending side: the chunks of one upstream body.
pub(super) struct Digesting {
    tx: Option<mpsc::Sender<Bytes>>,
    done: tokio::task::JoinHandle<std::io::Result<StreamDigests>>,
}

impl Digesting {
    /// Starts digesting a zip of `module`@`version` on a blocking thread.
    pub(super) fn start(module: &str, version: &str) -> Digesting {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (m, v) = (module.to_owned(), version.to_owned());
        let done = tokio::task::spawn_blocking(move || {
            let r = ChunkReader {
                rx,
                current: Bytes::new(),
            };
            gomod::zip::digest_stream(r, &m, &v, |_| {})
        });
        Digesting { tx: Some(tx), done }
    }

    /// Hands over the next chunk (waits while the thread is behind). A
    /// thread that has stopped is not an error: the check falls back to
    /// reading the zip.
    pub(super) async fn feed(&self, chunk: &Bytes) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(chunk.clone()).await;
        }
    }

    /// The digests of the whole body (`None` if the thread failed: the
    /// check then reads the zip).
    pub(super) async fn finish(mut self) -> Option<StreamDigests> {
        self.tx.take();
        match (&mut self.done).await {
            Ok(Ok(d)) => Some(d),
            _ => None,
        }
    }
}

/// The received chunks as a `Read`, for the digesting thread; the end of
/// the channel is the end of the stream.
struct ChunkReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
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
