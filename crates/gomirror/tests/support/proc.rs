//! Processes and plain sockets for the test peers: free ports, running a
//! command with a time limit, a minimal HTTP GET, log tails. Self-contained
//! (std only), so the store's unit tests can start the Garage cluster
//! with these too.

use std::process::{Command, Output};

/// A port of 127.0.0.1 that was free a moment ago (the system's choice).
/// A peer started on it may still find it taken: the starters that use it
/// retry with another one when the log says so.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The last `n` lines of `text` (for panic messages quoting a log).
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A plain HTTP/1.0 `GET path` to `addr` (`host:port`) with extra
/// request headers, from any context (no runtime, never panics on a
/// network error): the status, the response head and the body (HTTP/1.0:
/// never chunked, the connection ends the body). 10 s limits on
/// connecting, writing and each read.
pub fn http10_get(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String, Vec<u8>)> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let limit = std::time::Duration::from_secs(10);
    let sa = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr}: no address")))?;
    let mut s = std::net::TcpStream::connect_timeout(&sa, limit)?;
    s.set_read_timeout(Some(limit))?;
    s.set_write_timeout(Some(limit))?;
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut buf = vec![];
    s.read_to_end(&mut buf)?;
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no complete response head"))?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    Ok((status, head, buf[end + 4..].to_vec()))
}

/// Longest a command run by a test may take.
pub const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs a command and returns its output, panicking with the command line
/// when it cannot be started or runs past [`RUN_LIMIT`] (then it is killed:
/// a hang fails the test instead of stalling the run).
pub fn run(cmd: &mut Command) -> Output {
    use std::io::Read;
    // stdin as the caller set it (a test may feed a file).
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = vec![];
        let _ = out.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = vec![];
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = std::time::Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {RUN_LIMIT:?}: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}
