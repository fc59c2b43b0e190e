//! A real checksum database on loopback, built with gomod's own signer and
//! tlog: records for test modules, signed tree heads, lookups and tiles of
//! height 8, the way sum.golang.org serves them. It can be made to lie: a
//! fork (a tree inconsistent with the one it signed before).

use axum::extract::State;
use axum::response::Response;
use gomod::note;
use gomod::tlog::{self, Hash, Tree};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The database's name (its verifier key names it).
pub const NAME: &str = "sumdb.test.example";

#[derive(Default)]
struct Log {
    records: Vec<Vec<u8>>,
    hashes: Vec<Hash>,
    index: HashMap<String, u64>,
}

impl Log {
    fn add(&mut self, text: Vec<u8>) -> u64 {
        let n = self.records.len() as u64;
        let new = tlog::stored_hashes(n, &text, &self.hashes).unwrap();
        self.hashes.extend(new);
        self.records.push(text);
        n
    }
    fn tree(&self) -> Tree {
        let n = self.records.len() as u64;
        Tree {
            n,
            hash: tlog::tree_hash(n, &self.hashes).unwrap(),
        }
    }
}

struct DbState {
    log: Mutex<Log>,
    /// When set, a different log is served: a fork.
    fork: Mutex<Option<Log>>,
    signer: note::Ed25519Signer,
    requests: Mutex<HashMap<String, u64>>,
    /// Serve hash tiles cut short by this many bytes.
    truncate_tiles: Mutex<usize>,
    /// Answer everything with 503.
    down: Mutex<bool>,
    /// Append this many bytes to every `latest` (a hostile database).
    pad_latest: Mutex<usize>,
}

/// A running test checksum database.
pub struct TestSumdb {
    pub addr: SocketAddr,
    pub vkey: String,
    state: Arc<DbState>,
    _rt: tokio::runtime::Runtime,
}

impl TestSumdb {
    pub fn start() -> TestSumdb {
        let (skey, vkey) = note::generate_key(NAME).unwrap();
        let signer = note::new_signer(&skey).unwrap();
        let state = Arc::new(DbState {
            log: Mutex::default(),
            fork: Mutex::default(),
            signer,
            requests: Mutex::default(),
            truncate_tiles: Mutex::new(0),
            down: Mutex::new(false),
            pad_latest: Mutex::new(0),
        });
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(state.clone());
        let (rt, addr) = super::serve_app("127.0.0.1", 1, app);
        TestSumdb {
            addr,
            vkey,
            state,
            _rt: rt,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds the record of `module@version` with its zip and go.mod hashes.
    pub fn add(&self, module: &str, version: &str, zip_h1: &str, mod_h1: &str) {
        let text = format!("{module} {version} {zip_h1}\n{module} {version}/go.mod {mod_h1}\n");
        let mut log = self.state.log.lock().unwrap();
        let id = log.add(text.into_bytes());
        log.index.insert(format!("{module}@{version}"), id);
    }

    /// Adds filler records (to make the tree span several tiles).
    pub fn add_filler(&self, n: usize) {
        let mut log = self.state.log.lock().unwrap();
        for i in 0..n {
            let text = format!("example.com/filler{i} v1.0.0 h1:AAAA\nexample.com/filler{i} v1.0.0/go.mod h1:BBBB\n");
            log.add(text.into_bytes());
        }
    }

    /// From now on, serve a forked log: the same records but the first one
    /// altered, plus one more record (so the tree grows but its history
    /// differs from what was signed before).
    pub fn fork(&self) {
        let log = self.state.log.lock().unwrap();
        let mut f = Log::default();
        for (i, r) in log.records.iter().enumerate() {
            let mut r = r.clone();
            if i == 0 {
                r = b"example.com/evil v1.0.0 h1:EVIL\nexample.com/evil v1.0.0/go.mod h1:EVIL\n"
                    .to_vec();
            }
            f.add(r);
        }
        f.index = log.index.clone();
        f.add(
            b"example.com/more v1.0.0 h1:MORE\nexample.com/more v1.0.0/go.mod h1:MORE\n".to_vec(),
        );
        *self.state.fork.lock().unwrap() = Some(f);
    }

    /// Serves hash tiles `n` bytes short from now on.
    pub fn truncate_tiles(&self, n: usize) {
        *self.state.truncate_tiles.lock().unwrap() = n;
    }

    /// Appends `n` bytes to every `latest` answer.
    pub fn pad_latest(&self, n: usize) {
        *self.state.pad_latest.lock().unwrap() = n;
    }

    /// Answers every request with 503 (or serves again).
    pub fn set_down(&self, down: bool) {
        *self.state.down.lock().unwrap() = down;
    }

    /// Requests received for paths starting with `prefix`.
    pub fn requests(&self, prefix: &str) -> u64 {
        self.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }
}

fn text(status: u16, body: Vec<u8>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(axum::body::Body::from(body))
        .unwrap()
}

async fn serve(State(st): State<Arc<DbState>>, uri: http::Uri) -> Response {
    let path = uri.path().to_owned();
    *st.requests.lock().unwrap().entry(path.clone()).or_default() += 1;
    if *st.down.lock().unwrap() {
        return text(503, b"down for the test\n".to_vec());
    }
    let cut = *st.truncate_tiles.lock().unwrap();
    let fork = st.fork.lock().unwrap();
    let log_guard = st.log.lock().unwrap();
    let log: &Log = fork.as_ref().unwrap_or(&log_guard);
    let signed = || {
        let n = note::Note {
            text: tlog::format_tree(&log.tree()),
            ..Default::default()
        };
        note::sign(&n, &[&st.signer]).unwrap()
    };
    if path == "/latest" {
        let mut b = signed();
        b.resize(b.len() + *st.pad_latest.lock().unwrap(), b'x');
        return text(200, b);
    }
    if let Some(mv) = path.strip_prefix("/lookup/") {
        let Some((p, v)) = mv.split_once('@') else {
            return text(400, b"bad lookup\n".to_vec());
        };
        let (Ok(p), Ok(v)) = (
            gomod::module::unescape_path(p),
            gomod::module::unescape_version(v),
        ) else {
            return text(400, b"bad lookup\n".to_vec());
        };
        let Some(&id) = log.index.get(&format!("{p}@{v}")) else {
            return text(404, format!("not found: {p}@{v}\n").into_bytes());
        };
        let mut body = tlog::format_record(id, &log.records[id as usize]).unwrap();
        body.extend(signed());
        return text(200, body);
    }
    if path.starts_with("/tile/") {
        let Ok(t) = tlog::parse_tile_path(&path[1..]) else {
            return text(404, b"bad tile\n".to_vec());
        };
        if t.l < 0 {
            let start = (t.n << t.h) as usize;
            let end = start + t.w as usize;
            if end > log.records.len() {
                return text(404, b"tile not found\n".to_vec());
            }
            let mut out = vec![];
            for r in &log.records[start..end] {
                out.extend_from_slice(r);
            }
            return text(200, out);
        }
        return match tlog::read_tile_data(&t, &log.hashes) {
            Ok(mut d) => {
                d.truncate(d.len().saturating_sub(cut));
                text(200, d)
            }
            Err(_) => text(404, b"tile not found\n".to_vec()),
        };
    }
    text(404, b"not found\n".to_vec())
}
