//! The server's log writer: a request never waits on the log's file
//! descriptor, and no line is ever dropped.
//!
//! Every log line (one per request: see [`crate::access`]) is appended to
//! one in-memory buffer; a dedicated thread writes the buffer out. It
//! sleeps while there is nothing to write; the first line after a quiet
//! spell wakes it, and it lets [`LINGER`] pass before writing everything
//! buffered at once — so under load a `write` carries hundreds of lines,
//! and neither a line nor a write costs a thread wake-up. A line is out
//! within about [`LINGER`] of being logged. When the buffer is half full
//! the thread is woken at once; when the output is slower than the lines
//! come and the buffer is full (its cap, [`DEFAULT_CAP`] for the server),
//! writers wait for room: lines are delayed, never lost, and memory stays
//! bounded. [`LogSink::flush`] writes out every line logged before it and
//! waits for that (at shutdown, before a panic message, and after each
//! warning or error: those are out before the code that logged them goes
//! on, as before the buffer).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Bytes buffered at most before writers wait.
pub const DEFAULT_CAP: usize = 1 << 20;
/// How long the writer thread lets lines gather before a write.
pub const LINGER: Duration = Duration::from_millis(10);

/// A buffered log output written by its own thread (clones share it).
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// The writer thread waits on it.
    work: Condvar,
    /// Writers waiting for room, and flushes, wait on it.
    done: Condvar,
    cap: usize,
}

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    /// Bytes ever appended / ever written out (or failed to).
    appended: u64,
    written: u64,
    /// The writer thread sleeps until a line comes.
    sleeping: bool,
    /// Someone waits for a write: no lingering.
    urgent: bool,
    /// Threads waiting on `done`.
    waiters: usize,
}

impl LogSink {
    /// A sink writing to `out` from a new thread, buffering at most `cap`
    /// bytes.
    pub fn new(mut out: Box<dyn Write + Send>, cap: usize) -> std::io::Result<LogSink> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            cap: cap.max(1),
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("gomirror-log".into())
            .spawn(move || {
                let mut spare = Vec::new();
                loop {
                    let upto = {
                        let mut st = s.lock();
                        while st.buf.is_empty() {
                            st.sleeping = true;
                            st = s.work.wait(st).unwrap_or_else(|e| e.into_inner());
                        }
                        st.sleeping = false;
                        if !st.urgent {
                            st = s
                                .work
                                .wait_timeout_while(st, LINGER, |st| !st.urgent)
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                        }
                        st.urgent = false;
                        std::mem::swap(&mut st.buf, &mut spare);
                        st.appended
                    };
                    // A failing output loses its lines, as an unbuffered
                    // write would; the server goes on.
                    let _ = out.write_all(&spare).and_then(|()| out.flush());
                    spare.clear();
                    // Do not keep a burst's buffer for ever.
                    if spare.capacity() > s.cap {
                        spare = Vec::new();
                    }
                    let mut st = s.lock();
                    st.written = upto;
                    if st.waiters > 0 {
                        s.done.notify_all();
                    }
                }
            })?;
        Ok(LogSink { shared })
    }

    /// Appends one line (or any bytes), whole: waits while the buffer is
    /// full.
    fn append(&self, bytes: &[u8]) {
        let s = &self.shared;
        let mut st = s.lock();
        while !st.buf.is_empty() && st.buf.len() + bytes.len() > s.cap {
            st.urgent = true;
            s.work.notify_one();
            st.waiters += 1;
            st = s.done.wait(st).unwrap_or_else(|e| e.into_inner());
            st.waiters -= 1;
        }
        st.buf.extend_from_slice(bytes);
        st.appended += bytes.len() as u64;
        if st.sleeping {
            st.sleeping = false;
            s.work.notify_one();
        } else if !st.urgent && st.buf.len() >= s.cap / 2 {
            st.urgent = true;
            s.work.notify_one();
        }
    }

    /// Writes out every byte appended before this call and waits for it,
    /// at most `timeout`; whether it was all written.
    pub fn flush(&self, timeout: Duration) -> bool {
        let s = &self.shared;
        let deadline = Instant::now() + timeout;
        let mut st = s.lock();
        let target = st.appended;
        while st.written < target {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            st.urgent = true;
            s.work.notify_one();
            st.waiters += 1;
            st = s
                .done
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            st.waiters -= 1;
        }
        true
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One log event's writer (the formatter writes a whole line at once).
pub struct SinkWriter<'a> {
    sink: &'a LogSink,
    /// Written out before the caller goes on (warnings and errors).
    sync: bool,
}

impl Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sink.append(buf);
        if self.sync {
            self.sink.flush(SYNC_TIMEOUT);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How long a warning or error waits at most to be written out.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

/// Lines at `INFO` and below (the request log) go out in batches; a
/// warning or an error is written out, with every line before it, before
/// the code that logged it goes on — as unbuffered as it was.
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = SinkWriter<'a>;
    fn make_writer(&'a self) -> SinkWriter<'a> {
        SinkWriter {
            sink: self,
            sync: false,
        }
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SinkWriter<'a> {
        SinkWriter {
            sink: self,
            sync: *meta.level() <= tracing::Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// An output that keeps what it gets, and can be held (a slow disk).
    #[derive(Clone, Default)]
    struct Held {
        got: Arc<Mutex<Vec<u8>>>,
        hold: Arc<AtomicBool>,
        writes: Arc<Mutex<usize>>,
    }
    impl Write for Held {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            while self.hold.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.got.lock().unwrap().extend_from_slice(b);
            *self.writes.lock().unwrap() += 1;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Every line from many threads arrives whole, in each thread's
    /// order; flush returns once they are all out.
    #[test]
    fn every_line_arrives_whole_and_in_order() {
        let out = Held::default();
        let sink = LogSink::new(Box::new(out.clone()), 4096).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    use tracing_subscriber::fmt::MakeWriter;
                    for i in 0..2000 {
                        let line = format!("t{t} line {i:05} {}\n", "x".repeat(i % 50));
                        sink.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(sink.flush(Duration::from_secs(10)));
        let got = String::from_utf8(out.got.lock().unwrap().clone()).unwrap();
        let mut next = [0usize; 4];
        for line in got.lines() {
            let (t, rest) = line[1..].split_once(" line ").unwrap();
            let t: usize = t.parse().unwrap();
            let i: usize = rest[..5].parse().unwrap();
            assert_eq!(i, next[t], "thread {t} out of order");
            assert_eq!(rest.len(), 5 + 1 + i % 50, "a cut line: {line:?}");
            next[t] += 1;
        }
        assert_eq!(next, [2000; 4], "lines lost");
    }

    /// A stalled output makes writers wait once the buffer is full (the
    /// memory stays bounded), and nothing is lost when it resumes.
    #[test]
    fn a_stalled_output_holds_writers_back_and_loses_nothing() {
        let out = Held::default();
        out.hold.store(true, Ordering::SeqCst);
        let sink = LogSink::new(Box::new(out.clone()), 1000).unwrap();
        let writer = {
            let sink = sink.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    sink.append(format!("{i:099}\n").as_bytes());
                }
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!writer.is_finished(), "a writer went on past the cap");
        assert!(sink.shared.state.lock().unwrap().buf.len() <= 1000);
        assert!(!sink.flush(Duration::from_millis(10)));
        out.hold.store(false, Ordering::SeqCst);
        writer.join().unwrap();
        assert!(sink.flush(Duration::from_secs(10)));
        assert_eq!(out.got.lock().unwrap().len(), 100 * 100);
    }

    /// A lone line goes out by itself, soon, without a flush.
    #[test]
    fn a_lone_line_goes_out_soon() {
        let out = Held::default();
        let sink = LogSink::new(Box::new(out.clone()), DEFAULT_CAP).unwrap();
        sink.append(b"alone\n");
        let t = Instant::now();
        while out.got.lock().unwrap().is_empty() {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "the line never went out"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(&out.got.lock().unwrap()[..], b"alone\n");
    }

    /// A warning is written out, with the lines before it, by the time
    /// the code that logged it goes on; an info line may wait.
    #[test]
    fn a_warning_is_out_before_the_caller_goes_on() {
        use tracing_subscriber::fmt::MakeWriter;
        let out = Held::default();
        let sink = LogSink::new(Box::new(out.clone()), DEFAULT_CAP).unwrap();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("first");
            tracing::warn!("integrity failure");
        });
        let got = String::from_utf8(out.got.lock().unwrap().clone()).unwrap();
        assert!(
            got.contains("first") && got.contains("integrity failure"),
            "{got:?}"
        );
        let mut w = sink.make_writer();
        w.write_all(b"later\n").unwrap();
        assert!(
            !out.got.lock().unwrap().ends_with(b"later\n"),
            "an info line was not batched"
        );
    }

    /// Lines that come faster than they are written go out in batches.
    #[test]
    fn lines_are_batched_under_load() {
        let out = Held::default();
        out.hold.store(true, Ordering::SeqCst);
        let sink = LogSink::new(Box::new(out.clone()), DEFAULT_CAP).unwrap();
        sink.append(b"first\n");
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..1000 {
            sink.append(b"line\n");
        }
        out.hold.store(false, Ordering::SeqCst);
        assert!(sink.flush(Duration::from_secs(10)));
        assert!(
            *out.writes.lock().unwrap() <= 3,
            "{} writes",
            out.writes.lock().unwrap()
        );
        assert_eq!(out.got.lock().unwrap().len(), 6 + 5000);
    }
}
