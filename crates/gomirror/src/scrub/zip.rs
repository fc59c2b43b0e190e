//! Re-hashing a stored zip with the go command's rules.

use super::{Progress, RateLimiter};
use crate::store::ObjectRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Reads a stored zip with the module zip rules on a blocking thread: its
/// `h1:` and its go.mod's `h1:` (or a reason it fails the rules), and the
/// bytes read. Progress is reported while it runs.
pub(super) async fn zip_hashes(
    reader: Box<dyn ObjectRead>,
    module: String,
    version: String,
    size: u64,
    limiter: Option<&Arc<RateLimiter>>,
    chunk: usize,
    progress: &dyn Progress,
) -> (Result<(String, String), String>, u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let src = BlockingReader {
        reader,
        handle: tokio::runtime::Handle::current(),
        pos: 0,
        size,
        limiter: limiter.cloned(),
        chunk,
        read: counter.clone(),
        buf: bytes::Bytes::new(),
        buf_at: 0,
    };
    let mut task = tokio::task::spawn_blocking(move || {
        let summary = gomod::zip::check_and_hash_zip(&module, &version, src)
            .map_err(|e| format!("the zip no longer passes the module zip rules: {e}"))?;
        summary
            .checked
            .err()
            .map_err(|e| format!("the zip no longer passes the module zip rules: {e}"))?;
        let h1 = summary.h1.ok_or("the zip could not be hashed")?;
        let gomod = summary
            .go_mod
            .unwrap_or_else(|| gomod::modfile::synthesize_go_mod(&module));
        Ok((h1, gomod::dirhash::hash_go_mod(&gomod)))
    });
    let mut reported = 0;
    let result = loop {
        tokio::select! {
            r = &mut task => break r.unwrap_or_else(|e| Err(format!("zip check task failed: {e}"))),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                let n = counter.load(Ordering::Relaxed).min(size);
                progress.bytes(n.saturating_sub(reported));
                reported = reported.max(n);
            }
        }
    };
    let n = counter.load(Ordering::Relaxed);
    // Progress counts the zip once, whatever the reader re-read.
    progress.bytes(n.min(size).saturating_sub(reported));
    (result, n)
}

/// `Read + Seek` over a stored copy, for the synchronous zip reader (used
/// on a blocking thread only). It keeps the last chunk read, so the zip
/// reader's seeks between entries do not read the same bytes again.
struct BlockingReader {
    reader: Box<dyn ObjectRead>,
    handle: tokio::runtime::Handle,
    pos: u64,
    size: u64,
    limiter: Option<Arc<RateLimiter>>,
    chunk: usize,
    read: Arc<AtomicU64>,
    buf: bytes::Bytes,
    buf_at: u64,
}

impl std::io::Read for BlockingReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || out.is_empty() {
            return Ok(0);
        }
        let cached = self.pos >= self.buf_at && self.pos < self.buf_at + self.buf.len() as u64;
        if !cached {
            let want = self.chunk.min((self.size - self.pos) as usize);
            if let Some(l) = &self.limiter {
                let d = l.delay(want as u64);
                if !d.is_zero() {
                    std::thread::sleep(d);
                }
            }
            let got = self.handle.block_on(self.reader.read_at(self.pos, want))?;
            if got.is_empty() {
                return Ok(0);
            }
            self.read.fetch_add(got.len() as u64, Ordering::Relaxed);
            self.buf = got;
            self.buf_at = self.pos;
        }
        let off = (self.pos - self.buf_at) as usize;
        let n = out.len().min(self.buf.len() - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for BlockingReader {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let next = match to {
            std::io::SeekFrom::Start(n) => Some(n),
            std::io::SeekFrom::End(d) => self.size.checked_add_signed(d),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = next.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}
