//! Live admission: the clients waiting for a cold module zip receive its
//! bytes while they arrive from the upstream, and the end of them only
//! when admission has decided.
//!
//! The rule that keeps the guarantee: a live stream completes only after
//! admission admitted exactly the bytes it carried. Until then it holds
//! back the last [`HOLD`] bytes received (a module zip's central
//! directory, without which no zip reader opens it) and, while the zip's
//! digest runs, whatever it has not checked yet, except inside an entry
//! larger than [`LAG`] (see there); if admission refuses
//! the content, the stream ends with an error instead of its end, so the
//! client sees a broken transfer — never a complete body that was not
//! admitted. With a `Content-Length` the client also knows the body is
//! short.
//!
//! An attempt that fails (a cut body, a refused copy) is followed by
//! another attempt (a retry, the next upstream): a new *generation* of
//! bytes. Clients already sent a prefix continue seamlessly when the new
//! generation's bytes agree with everything any client was sent — which is
//! checked as they arrive — and are broken off when they differ (or the
//! promised length differs): then no client is served live any more for
//! this fetch, and later ones wait for the admitted copy.
//!
//! Only zips of at least [`LIVE_MIN`] bytes go live: below that, waiting
//! costs little and a refused copy gets a clear error status instead of a
//! cut transfer.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The smallest zip (declared, or received so far) served live.
pub const LIVE_MIN: u64 = 4 << 20;
/// Bytes held back from live clients until admission decides.
pub const HOLD: u64 = 64 << 10;
/// Largest piece a live stream sends at once.
const CHUNK: usize = 64 << 10;
/// How far the bytes released may lag behind the zip's digest when they
/// are not yet verified: an entry smaller than this is released only once
/// its content checked (a corrupt entry is caught before any client sees
/// it, so the next upstream continues the stream seamlessly); inside a
/// larger entry, bytes go out this far behind the digest.
const LAG: u64 = 4 << 20;

/// The live state of one fetch of a zip, shared by the fetch (writer) and
/// the clients streaming it (readers).
pub struct Live {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    /// Makes the fetch wanted (a client's interest) while it lives.
    want: Box<dyn Fn() -> Box<dyn std::any::Any + Send> + Send + Sync>,
    /// Held once live clients were broken off: the fetch still goes on to
    /// admit a good copy for the next client, though the clients it broke
    /// off have gone.
    wanted: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

#[derive(Default)]
struct State {
    /// Counts generations started.
    generation: u64,
    /// The current generation's staged bytes, for reading.
    file: Option<Arc<File>>,
    /// Its declared length.
    declared: Option<u64>,
    /// Its bytes on disk (and, where they overlap the reference, equal to
    /// it).
    written: u64,
    /// The longest prefix any earlier generation released: where it is and
    /// how long.
    reference: Option<(Arc<File>, u64)>,
    /// The most the current generation has released so far.
    released: u64,
    /// Admission admitted exactly this many bytes of the current
    /// generation: all of them are released.
    decided: Option<u64>,
    /// No client is (or will be) served live any more; those streaming
    /// end with an error.
    broken: bool,
    /// The length promised to clients (`Content-Length`), fixed when the
    /// first one joined.
    promised: Option<Option<u64>>,
    /// Clients that joined.
    readers: u64,
    /// The zip's digest of the current generation, when one runs: the end
    /// of the last entry whose content checked, the bytes it read, and
    /// whether it still parses entries.
    digest: Option<(u64, u64, bool)>,
}

impl State {
    /// What the current generation may show readers.
    fn safe(&self) -> u64 {
        let held = self.written.saturating_sub(HOLD);
        match (self.decided, self.digest) {
            (Some(n), _) => n.min(self.written),
            // Parsing: bytes far enough behind the digest go (inside a large
            // entry). Stopped (at the directory, or at something wrong or
            // not handled): only what checked, until admission decides.
            (None, Some((verified, read, true))) => {
                held.min(verified.max(read.saturating_sub(LAG)))
            }
            (None, Some((verified, _, false))) => held.min(verified),
            (None, None) => held,
        }
    }

    /// Whether a new client may join now.
    fn open(&self) -> bool {
        !self.broken
            && self.decided.is_none()
            && self.file.is_some()
            && (self.declared.unwrap_or(0).max(self.written) >= LIVE_MIN)
    }
}

impl Live {
    /// Live state for a new fetch; `want` returns a guard that keeps the
    /// fetch wanted while it lives (as a waiting client does).
    pub fn new(want: impl Fn() -> Box<dyn std::any::Any + Send> + Send + Sync + 'static) -> Live {
        Live {
            state: Mutex::default(),
            changed: watch::channel(0).0,
            want: Box::new(want),
            wanted: Mutex::new(None),
        }
    }

    /// Ends live serving: every reader stops with an error; the fetch
    /// stays wanted (its clients are gone because of this, not by choice).
    fn break_off(&self, s: &mut State) {
        if !s.broken && s.readers > 0 {
            *self.wanted.lock().unwrap() = Some((self.want)());
        }
        s.broken = true;
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// A new attempt's bytes begin (in `file`, `declared` long if said; a
    /// zip digest of them runs when `digested`).
    ///
    /// What the previous attempt released becomes the reference the new
    /// bytes must agree with; a promised length the new attempt does not
    /// declare breaks live serving off.
    pub(crate) fn start(&self, file: Arc<File>, declared: Option<u64>, digested: bool) {
        let mut s = self.state.lock().unwrap();
        if s.file.is_some() {
            let longer = s.reference.as_ref().is_none_or(|(_, n)| s.released > *n);
            if s.released > 0 && longer {
                s.reference = s.file.clone().map(|f| (f, s.released));
            }
        }
        if let (Some(Some(p)), Some(d)) = (s.promised, declared) {
            if p != d {
                self.break_off(&mut s);
            }
        }
        s.generation += 1;
        s.file = Some(file);
        s.declared = declared;
        s.written = 0;
        s.released = 0;
        s.decided = None;
        // A digest that will run holds everything back until it reports.
        s.digest = digested.then_some((0, 0, true));
        drop(s);
        self.notify();
    }

    /// Checks `chunk`, received at `offset` of the current attempt, against
    /// what earlier attempts released: differing bytes break live serving
    /// off (clients were sent something else).
    pub(crate) fn compare(&self, offset: u64, chunk: &[u8]) {
        let (file, n) = {
            let s = self.state.lock().unwrap();
            match &s.reference {
                Some((f, n)) if offset < *n && !s.broken => (f.clone(), *n),
                _ => return,
            }
        };
        let len = chunk.len().min((n - offset) as usize);
        let mut theirs = vec![0u8; len];
        let same = file.read_exact_at(&mut theirs, offset).is_ok() && theirs[..] == chunk[..len];
        if !same {
            let mut s = self.state.lock().unwrap();
            if s.readers > 0 {
                self.break_off(&mut s);
            }
            s.reference = None;
            drop(s);
            self.notify();
        }
    }

    /// The current attempt has `written` bytes on disk.
    pub(crate) fn written(&self, written: u64) {
        let mut s = self.state.lock().unwrap();
        let (before, opened) = (s.safe(), s.written < LIVE_MIN && written >= LIVE_MIN);
        s.written = written;
        // Readers wait for a chunk more; clients waiting to join, for
        // LIVE_MIN bytes of a body of undeclared length.
        let wake = s.safe() >= before + CHUNK as u64 || opened;
        drop(s);
        if wake {
            self.notify();
        }
    }

    /// The current attempt's zip digest has read `read` bytes and checked
    /// every entry up to `verified`, and still parses entries or not (see
    /// [`LAG`]). Called from the digesting thread.
    pub(crate) fn digested(&self, verified: u64, read: u64, parsing: bool) {
        let mut s = self.state.lock().unwrap();
        let before = s.safe();
        s.digest = Some((verified, read, parsing));
        let wake = s.safe() >= before + CHUNK as u64;
        drop(s);
        if wake {
            self.notify();
        }
    }

    /// Admission admitted the current attempt's `size` bytes: all of them
    /// may be sent, and streams complete.
    pub(crate) fn decide(&self, size: u64) {
        let mut s = self.state.lock().unwrap();
        if s.written != size {
            self.break_off(&mut s);
        } else {
            // Clients that got everything leave before the commit ends; the
            // fetch keeps itself wanted meanwhile (see try_versioned).
            s.decided = Some(size);
            s.released = size;
        }
        drop(s);
        self.notify();
    }

    /// The fetch is over: a stream whose bytes were not admitted ends with
    /// an error.
    pub(crate) fn finish(&self) {
        let mut s = self.state.lock().unwrap();
        if s.decided.is_none() {
            s.broken = true;
        }
        drop(s);
        self.wanted.lock().unwrap().take();
        self.notify();
    }

    /// Waits until a client may join (`true`), or until it never will
    /// (`false`: decided, broken off, or the fetch ended).
    pub async fn ready(&self) -> bool {
        let mut rx = self.changed.subscribe();
        loop {
            {
                let s = self.state.lock().unwrap();
                if s.open() {
                    return true;
                }
                if s.broken || s.decided.is_some() {
                    return false;
                }
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    }

    /// Joins a client: the length it is promised (`None`: unknown, the
    /// body is chunked), or `None` when live serving is not open.
    pub fn join(&self) -> Option<Option<u64>> {
        let mut s = self.state.lock().unwrap();
        if !s.open() {
            return None;
        }
        let declared = s.declared;
        let promised = *s.promised.get_or_insert(declared);
        s.readers += 1;
        Some(promised)
    }

    /// The bytes a joined client receives, from the first: each piece as
    /// soon as it is safe to send, the end only once admission decided.
    /// `guard` (the client's interest in the fetch) lives as long as the
    /// stream.
    pub fn stream<G: Send + 'static>(
        self: Arc<Self>,
        promised: Option<u64>,
        guard: G,
    ) -> BoxStream<'static, std::io::Result<Bytes>> {
        struct St<G> {
            live: Arc<Live>,
            rx: watch::Receiver<u64>,
            sent: u64,
            promised: Option<u64>,
            done: bool,
            _guard: G,
        }
        let rx = self.changed.subscribe();
        let st = St {
            live: self,
            rx,
            sent: 0,
            promised,
            done: false,
            _guard: guard,
        };
        let broken = || std::io::Error::other("the upstream's copy was refused while it streamed");
        Box::pin(futures_util::stream::unfold(st, move |mut st| async move {
            if st.done {
                return None;
            }
            loop {
                let step = {
                    let mut s = st.live.state.lock().unwrap();
                    let safe = s.safe();
                    if s.broken {
                        Step::Fail
                    } else if st.sent < safe {
                        let end = safe.min(st.sent + CHUNK as u64);
                        s.released = s.released.max(end);
                        Step::Read(s.file.clone().expect("a generation"), end)
                    } else if s.decided == Some(st.sent) {
                        if st.promised.is_some_and(|p| p != st.sent) {
                            Step::Fail
                        } else {
                            Step::Done
                        }
                    } else {
                        Step::Wait
                    }
                };
                match step {
                    Step::Fail => {
                        st.done = true;
                        return Some((Err(broken()), st));
                    }
                    Step::Done => return None,
                    Step::Wait => {
                        if st.rx.changed().await.is_err() {
                            st.done = true;
                            return Some((Err(broken()), st));
                        }
                    }
                    Step::Read(file, end) => {
                        let (from, len) = (st.sent, (end - st.sent) as usize);
                        // Bytes just written are in the page cache: read
                        // in place, else on a blocking thread.
                        let read = match crate::file_read::read_cached_at(&file, from, len)
                            .filter(|b| b.len() == len)
                        {
                            Some(b) => Ok(b),
                            None => tokio::task::spawn_blocking(move || {
                                let mut buf = vec![0u8; len];
                                file.read_exact_at(&mut buf, from)
                                    .map(|()| Bytes::from(buf))
                            })
                            .await
                            .map_err(std::io::Error::other)
                            .and_then(|r| r),
                        };
                        match read {
                            Ok(buf) => {
                                st.sent = end;
                                return Some((Ok(buf), st));
                            }
                            Err(e) => {
                                st.done = true;
                                return Some((Err(e), st));
                            }
                        }
                    }
                }
            }
        }))
    }
}

enum Step {
    Fail,
    Done,
    Wait,
    Read(Arc<File>, u64),
}
