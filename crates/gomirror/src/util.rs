//! Small helpers with no home of their own.

/// Milliseconds since the Unix epoch (0 before it).
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Current time in Unix seconds (0 if the clock is before 1970).
pub fn now_unix() -> u64 {
    now_unix_nanos().0
}

/// Current time as Unix seconds and the nanoseconds within that second
/// (0, 0 if the clock is before 1970).
pub fn now_unix_nanos() -> (u64, u32) {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs(), d.subsec_nanos()))
        .unwrap_or((0, 0))
}

/// An error and its chain of sources, `: `-separated (reqwest and hyper
/// put the useful part in the sources).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// An I/O error's cause without any path it may carry (tempfile and some
/// std errors name the file): the OS error text, else the error kind. For
/// messages that may reach clients.
pub fn io_cause(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
        None => e.kind().to_string(),
    }
}

/// The delay before retry number `attempt` (1-based): exponential from
/// 100 ms, capped at 2 s, with full jitter.
pub fn backoff(attempt: u32) -> std::time::Duration {
    use rand::Rng;
    let cap = 100u64.saturating_mul(1 << attempt.min(5)).min(2000);
    std::time::Duration::from_millis(rand::thread_rng().gen_range(cap / 2..=cap))
}

/// A secret string whose Debug output hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Free bytes (for unprivileged users) on the file system holding `path`,
/// when it can tell.
pub fn free_space(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `st` a valid,
    // writable statvfs for the call to fill.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Gives the calling thread nice value `nice` (19: the lowest CPU
/// priority), for work that must yield to serving. Only this thread: Linux
/// keeps a nice value per thread, and an unprivileged thread cannot raise
/// its priority again (so never lower a pooled thread's).
pub fn lower_thread_priority(nice: i32) {
    // SAFETY: setpriority only changes the calling thread's nice value.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice);
    }
}

/// The OpenTelemetry trace id of the current span, when traces are on and
/// the span is part of one (log lines name it, to find their trace).
pub fn trace_id() -> Option<String> {
    trace_id_of(&tracing::Span::current())
}

/// The OpenTelemetry trace id of `span`, when traces are on and the span
/// is part of one.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}
