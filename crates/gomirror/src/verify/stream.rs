//! Streams of stored objects: hashed on the way out, or plain ranges of a
//! copy verified whole.

use super::{digest_matches, OnRot, CHUNK};
use crate::admit::FailureKind;
use crate::record::Meta;
use crate::store::ObjectRead;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A stored object to stream whole while hashing it.
pub(super) struct Hashed {
    pub(super) key: String,
    pub(super) meta: Meta,
    pub(super) reader: Box<dyn ObjectRead>,
    pub(super) fingerprint: Option<String>,
    /// Where a complete, matching stream records the copy as verified.
    pub(super) verified: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

/// Streams a stored object whole while hashing it; if the bytes do not
/// complete the admitted digest (or end early), the stream yields an error
/// instead of its last chunk, so the client never sees a clean end of a bad
/// body, and `on_rot` is told. A matching stream records the copy as
/// verified.
pub(super) fn hashed(h: Hashed, on_rot: OnRot) -> BoxStream<'static, std::io::Result<Bytes>> {
    struct St {
        h: Hashed,
        on_rot: OnRot,
        hasher: Sha256,
        sent: u64,
        done: bool,
    }
    let st = St {
        h,
        on_rot,
        hasher: Sha256::new(),
        sent: 0,
        done: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        let want = (st.h.meta.size - st.sent).min(CHUNK as u64) as usize;
        let chunk = match st.h.reader.read_at(st.sent, want).await {
            Ok(c) => c,
            Err(e) => {
                st.done = true;
                return Some((Err(e), st));
            }
        };
        st.hasher.update(&chunk);
        st.sent += chunk.len() as u64;
        if chunk.len() < want || st.sent == st.h.meta.size {
            st.done = true;
            let digest = std::mem::take(&mut st.hasher).finalize();
            if !digest_matches(&st.h.meta, st.sent, &digest) {
                let msg = format!(
                    "stored bytes do not match the admitted digest ({} of {} bytes read)",
                    st.sent, st.h.meta.size
                );
                (st.on_rot)(st.h.key.clone(), FailureKind::Sha256, msg.clone());
                // Never the last good-looking chunk: the client must see a
                // broken transfer.
                return Some((Err(std::io::Error::other(msg)), st));
            }
            if let Some(fp) = st.h.fingerprint.take() {
                st.h.verified
                    .lock()
                    .unwrap()
                    .insert(st.h.key.clone(), (fp, Instant::now()));
            }
        }
        Some((Ok(chunk), st))
    })
    .boxed()
}

/// Streams bytes `start..=end` of a stored copy verified whole (by `load`,
/// now or within the re-verify interval); a copy that ends early is an
/// error, never a short clean body.
pub(super) fn range(
    reader: Box<dyn ObjectRead>,
    start: u64,
    end: u64,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    futures_util::stream::unfold((reader, start), move |(r, pos)| async move {
        if pos > end {
            return None;
        }
        let want = (end + 1 - pos).min(CHUNK as u64) as usize;
        match r.read_at(pos, want).await {
            Ok(c) if c.is_empty() => Some((
                Err(std::io::Error::other("stored object ended early")),
                (r, end + 1),
            )),
            Ok(c) => {
                let next = pos + c.len() as u64;
                Some((Ok(c), (r, next)))
            }
            Err(e) => Some((Err(e), (r, end + 1))),
        }
    })
    .boxed()
}
