//! A real S3-compatible store for the fleet tests: a 3-node Garage
//! cluster (replication factor 3, so reads and writes need 2 nodes) on
//! loopback, each node a process with its own directory and config, all
//! in one temp directory removed on drop, every node killed on drop.
//!
//! Garage is pinned at [`GARAGE_VERSION`], built by `scripts/test` into the
//! tools cache (`GOMIRROR_GARAGE` names the binary). A test that needs it
//! fails, never skips, when it is missing.

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Garage release these tests run (`scripts/test` installs it).
pub const GARAGE_VERSION: &str = "2.5.0";
/// Number of nodes in the cluster.
pub const NODES: usize = 3;
const BUCKET: &str = "gomirror";
const KEY_NAME: &str = "gomirror-key";
const REGION: &str = "garage";
/// Longest wait for a node or the cluster to come up (or notice a node
/// going down).
const WAIT: Duration = Duration::from_secs(30);

/// The garage binary: `$GOMIRROR_GARAGE`, else the one `scripts/test`
/// builds into the tools cache
/// (`${GOMIRROR_TOOLS:-~/.cache/gomirror-tools}/garage-2.5.0/bin/garage`).
/// Panics when it is missing.
pub fn garage_bin() -> PathBuf {
    let bin = match std::env::var_os("GOMIRROR_GARAGE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let tools = std::env::var_os("GOMIRROR_TOOLS")
                .filter(|t| !t.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    let cache = std::env::var_os("XDG_CACHE_HOME")
                        .filter(|c| !c.is_empty())
                        .map(PathBuf::from)
                        .unwrap_or_else(|| {
                            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                                .join(".cache")
                        });
                    cache.join("gomirror-tools")
                });
            tools.join(format!("garage-{GARAGE_VERSION}/bin/garage"))
        }
    };
    assert!(
        bin.is_file(),
        "the garage binary (Garage {GARAGE_VERSION}) is missing at {}: run ./scripts/test, which \
         builds it into the tools cache, or set GOMIRROR_GARAGE to a garage {GARAGE_VERSION} binary",
        bin.display()
    );
    bin
}

/// One node: its directory, config and ports, and its process while it
/// runs.
struct Node {
    dir: PathBuf,
    config: PathBuf,
    s3_port: u16,
    rpc_port: u16,
    admin_port: u16,
    /// Full node id (`<hex>`, without the address).
    id: String,
    child: Option<Child>,
}

impl Node {
    fn log_path(&self) -> PathBuf {
        self.dir.join("garage.log")
    }
}

/// A running 3-node Garage cluster with one bucket ([`Garage::bucket`])
/// and one key allowed to read, write and own it.
pub struct Garage {
    nodes: Vec<Node>,
    rpc_secret: String,
    admin_token: String,
    key_id: String,
    secret: String,
    // Last: removed after the nodes are killed.
    dir: tempfile::TempDir,
}

impl Garage {
    /// Starts the cluster: 3 nodes, connected, a layout giving each 1 GB in
    /// zone dc1, the bucket and the key; returns once every node is
    /// healthy and serves S3 with the key (≤ 30 s per step). Tries new
    /// ports when a free one was taken in between.
    pub fn start() -> Garage {
        garage_bin(); // missing: a clear panic first
        let mut attempt = 1;
        loop {
            match Garage::try_start() {
                Ok(g) => return g,
                Err(e) if attempt < 3 && e.contains("Address already in use") => attempt += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn try_start() -> Result<Garage, String> {
        let dir = tempfile::Builder::new()
            .prefix("gomirror-garage.")
            .tempdir()
            .unwrap();
        let rpc_secret = hex::encode(rand::random::<[u8; 32]>());
        let admin_token = hex::encode(rand::random::<[u8; 16]>());
        // All ports at once (listeners held together): no two alike.
        let ports: Vec<u16> = {
            let ls: Vec<std::net::TcpListener> = (0..3 * NODES)
                .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
                .collect();
            ls.iter().map(|l| l.local_addr().unwrap().port()).collect()
        };
        let nodes = (0..NODES)
            .map(|i| {
                let dir = dir.path().join(format!("node{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                Node {
                    config: dir.join("garage.toml"),
                    dir,
                    s3_port: ports[3 * i],
                    rpc_port: ports[3 * i + 1],
                    admin_port: ports[3 * i + 2],
                    id: String::new(),
                    child: None,
                }
            })
            .collect();
        let mut g = Garage {
            nodes,
            rpc_secret,
            admin_token,
            key_id: String::new(),
            secret: String::new(),
            dir,
        };
        for i in 0..NODES {
            g.write_config(i);
        }
        for i in 0..NODES {
            g.spawn(i)?;
        }
        for i in 0..NODES {
            // Local: read from the node's own metadata directory.
            let out = g.try_cli_on(i, &["node", "id", "-q"])?;
            let full = out.lines().next().unwrap_or("").trim().to_owned();
            let id = full.split('@').next().unwrap_or("").to_owned();
            if id.len() != 64 {
                return Err(format!("garage node id: unexpected output {out:?}"));
            }
            g.nodes[i].id = id;
        }
        for i in 1..NODES {
            g.try_cli_on(0, &["node", "connect", &g.peer(i)])?;
        }
        // From now on a node that starts again connects to the others at
        // once (else it knows only the peers it had saved, and they retry
        // it only every 30 s).
        for i in 0..NODES {
            g.write_config(i);
        }
        let ids: Vec<String> = g.nodes.iter().map(|n| n.id.clone()).collect();
        let mut assign = vec!["layout", "assign", "-z", "dc1", "-c", "1G"];
        assign.extend(ids.iter().map(String::as_str));
        g.try_cli_on(0, &assign)?;
        g.try_cli_on(0, &["layout", "apply", "--version", "1"])?;
        g.wait_connected("the cluster to become healthy", |_| ())?;
        g.try_cli_on(0, &["bucket", "create", BUCKET])?;
        let out = g.try_cli_on(0, &["key", "create", KEY_NAME])?;
        let field = |name: &str| {
            out.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| format!("no {name:?} in the output of garage key create:\n{out}"))
        };
        g.key_id = field("Key ID:")?;
        g.secret = field("Secret key:")?;
        g.try_cli_on(
            0,
            &[
                "bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", KEY_NAME,
            ],
        )?;
        for i in 0..NODES {
            g.wait_serving(i)?;
        }
        Ok(g)
    }

    /// Writes node `i`'s config; once the node ids are known, with every
    /// other node as a bootstrap peer.
    fn write_config(&self, i: usize) {
        let n = &self.nodes[i];
        let d = n.dir.display();
        let (s3_port, rpc_port, admin_port) = (n.s3_port, n.rpc_port, n.admin_port);
        let (rpc_secret, admin_token) = (&self.rpc_secret, &self.admin_token);
        let peers: Vec<String> = (0..self.nodes.len())
            .filter(|&j| j != i && !self.nodes[j].id.is_empty())
            .map(|j| format!("\"{}\"", self.peer(j)))
            .collect();
        std::fs::write(
            &n.config,
            format!(
                r#"metadata_dir = "{d}/meta"
data_dir = "{d}/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{rpc_secret}"
# A node down is noticed fast.
rpc_timeout_msec = 5000
bootstrap_peers = [{peers}]

[s3_api]
api_bind_addr = "127.0.0.1:{s3_port}"
s3_region = "{REGION}"

[admin]
api_bind_addr = "127.0.0.1:{admin_port}"
admin_token = "{admin_token}"
"#,
                peers = peers.join(", ")
            ),
        )
        .unwrap();
        // The file holds the secrets: private to its owner.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&n.config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// `<node id>@127.0.0.1:<rpc port>` of node `i`.
    fn peer(&self, i: usize) -> String {
        format!("{}@127.0.0.1:{}", self.nodes[i].id, self.nodes[i].rpc_port)
    }

    /// Number of nodes (3).
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The S3 endpoint of node `i`: `http://127.0.0.1:<port>`.
    pub fn endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].s3_port)
    }

    /// The admin API of node `i`: `http://127.0.0.1:<port>` (bearer
    /// [`Garage::admin_token`]).
    pub fn admin_endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].admin_port)
    }

    /// The admin API token (every node's).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The access key id allowed on the bucket.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Its secret.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The bucket (`gomirror`).
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// The S3 region Garage expects in signatures (`garage`).
    pub fn region(&self) -> &str {
        REGION
    }

    /// The directory of node `i` (config `garage.toml`, `garage.log`,
    /// `meta/`, `data/`).
    pub fn node_dir(&self, i: usize) -> &Path {
        &self.nodes[i].dir
    }

    /// The log of node `i` (all its runs).
    pub fn node_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].log_path()).unwrap_or_default()
    }

    /// Whether node `i` runs (not [`Garage::stop_node`]ped).
    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].child.is_some()
    }

    /// The environment of a gomirror replica storing under `prefix` of the
    /// bucket through node `i`: `GOMIRROR_STORE=s3://<bucket>/<prefix>`,
    /// `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP=true`.
    pub fn store_env(&self, i: usize, prefix: &str) -> Vec<(String, String)> {
        let prefix = prefix.trim_matches('/');
        let store = if prefix.is_empty() {
            format!("s3://{BUCKET}")
        } else {
            format!("s3://{BUCKET}/{prefix}")
        };
        [
            ("GOMIRROR_STORE", store),
            ("AWS_ENDPOINT_URL", self.endpoint(i)),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Kills node `i` (SIGKILL: a crash; its data stays on disk), waits for
    /// it to exit and (≤ 30 s) for the running nodes to see it gone.
    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // A node notices a peer gone when a message to it fails, which
        // without traffic is at the next ping (every 15 s): make each
        // running node send some to every node (statistics of all nodes;
        // the second message to a dead peer fails at once), without
        // waiting for the answers (which wait for the dead node).
        let mut pokes: Vec<Child> = vec![];
        let poke = |g: &Garage| {
            let pending = pokes
                .iter_mut()
                .filter_map(|c| c.try_wait().ok())
                .filter(Option::is_none)
                .count();
            if pending < 8 {
                for j in (0..g.nodes.len()).filter(|&j| g.is_running(j)) {
                    if let Ok(c) = garage_cmd(&g.nodes[j].config)
                        .args(["stats", "-a"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                    {
                        pokes.push(c);
                    }
                }
            }
        };
        let r = self.wait_connected(&format!("the other nodes to see node {i} down"), poke);
        for mut c in pokes {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Err(e) = r {
            panic!("{e}");
        }
    }

    /// Starts node `i` again with its config and data, and waits (≤ 30 s
    /// per step) until it and the running nodes are connected again and it
    /// serves S3.
    pub fn start_node(&mut self, i: usize) {
        if self.nodes[i].child.is_some() {
            return;
        }
        // The node connects to the others at once (its bootstrap peers),
        // but they retry their own connection to it only every 30 s: make
        // them connect now.
        let peer = self.peer(i);
        let connect = |g: &Garage| {
            for j in (0..g.nodes.len()).filter(|&j| j != i && g.is_running(j)) {
                let _ = g.try_cli_on(j, &["node", "connect", &peer]);
            }
        };
        let start = |g: &mut Garage| {
            g.spawn(i)
                .and_then(|()| {
                    g.wait_connected(&format!("node {i} to rejoin the cluster"), connect)
                })
                .and_then(|()| g.wait_serving(i))
        };
        // A restarted node has been seen (rarely, with several clusters
        // running on two cores) to listen and still fail every S3 request
        // for 30 s: its process is then started once more before the test
        // fails.
        if let Err(first) = start(self) {
            eprintln!("node {i} did not come back; starting it once more: {first}");
            if let Some(mut c) = self.nodes[i].child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            if let Err(e) = start(self) {
                panic!("{e}\n(the first attempt: {first})");
            }
        }
    }

    /// `garage <args>` (the CLI, through the first running node): its
    /// output. Panics, with the command's output and the node's log, when
    /// it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli_on(self.running(), args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// An S3 client for the bucket through node `i` (object_store; a
    /// runtime of the caller's). At most 2 retries within 10 s.
    pub fn store(&self, i: usize) -> AmazonS3 {
        self.store_with(i, 2)
    }

    fn store_with(&self, i: usize, retries: usize) -> AmazonS3 {
        // reqwest is built without a default TLS provider; plain http
        // needs none but the client wants one installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        AmazonS3Builder::new()
            .with_endpoint(self.endpoint(i))
            .with_allow_http(true)
            .with_bucket_name(BUCKET)
            .with_region(REGION)
            .with_access_key_id(&self.key_id)
            .with_secret_access_key(&self.secret)
            // One DELETE per object, not the multi-object `POST ?delete`.
            .with_disable_bulk_delete(true)
            .with_retry(RetryConfig {
                max_retries: retries,
                retry_timeout: Duration::from_secs(10),
                ..Default::default()
            })
            // (Replaces every client option, allow_http included.)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(true)
                    .with_timeout(Duration::from_secs(30))
                    .with_connect_timeout(Duration::from_secs(5)),
            )
            .build()
            .unwrap_or_else(|e| panic!("building the S3 client for node {i}: {e}"))
    }

    /// The keys under `prefix` (a directory: `a/b` lists `a/b/...`; `""`
    /// everything), sorted, through the first running node.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.list_via(self.running(), prefix)
    }

    /// [`Garage::list`] through node `i`.
    pub fn list_via(&self, i: usize, prefix: &str) -> Vec<String> {
        self.try_list_via(i, prefix)
            .unwrap_or_else(|e| panic!("S3 list {prefix:?} through node {i}: {e}"))
    }

    /// [`Garage::list_via`], the error as text (an outage: `Could not reach
    /// quorum`).
    pub fn try_list_via(&self, i: usize, prefix: &str) -> Result<Vec<String>, String> {
        use futures_util::TryStreamExt;
        let s = self.store(i);
        let prefix = (!prefix.trim_matches('/').is_empty()).then(|| obj_path(prefix));
        let mut keys = blocking(async move {
            s.list(prefix.as_ref())
                .map_ok(|m| m.location.to_string())
                .try_collect::<Vec<_>>()
                .await
        })
        .map_err(|e| e.to_string())?;
        keys.sort();
        Ok(keys)
    }

    /// The bytes of `key`, `None` when there is no such object, through the
    /// first running node.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.get_via(self.running(), key)
    }

    /// [`Garage::get`] through node `i`.
    pub fn get_via(&self, i: usize, key: &str) -> Option<Vec<u8>> {
        self.try_get_via(i, key)
            .unwrap_or_else(|e| panic!("S3 get {key:?} through node {i}: {e}"))
    }

    /// [`Garage::get_via`], the error as text.
    pub fn try_get_via(&self, i: usize, key: &str) -> Result<Option<Vec<u8>>, String> {
        let s = self.store(i);
        let p = obj_path(key);
        blocking(async move {
            match s.get(&p).await {
                Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .map_err(|e| e.to_string())
    }

    /// Stores `bytes` as `key` (replacing it), through the first running
    /// node: how a test tampers with a stored object.
    pub fn put(&self, key: &str, bytes: &[u8]) {
        self.put_via(self.running(), key, bytes)
    }

    /// [`Garage::put`] through node `i`.
    pub fn put_via(&self, i: usize, key: &str, bytes: &[u8]) {
        self.try_put_via(i, key, bytes)
            .unwrap_or_else(|e| panic!("S3 put {key:?} through node {i}: {e}"))
    }

    /// [`Garage::put_via`], the error as text.
    pub fn try_put_via(&self, i: usize, key: &str, bytes: &[u8]) -> Result<(), String> {
        let s = self.store(i);
        let p = obj_path(key);
        let payload = PutPayload::from(bytes.to_vec());
        blocking(async move { s.put(&p, payload).await.map(|_| ()) }).map_err(|e| e.to_string())
    }

    /// Deletes `key` (no error when absent), through the first running
    /// node.
    pub fn delete(&self, key: &str) {
        let i = self.running();
        let s = self.store(i);
        let p = obj_path(key);
        blocking(async move { s.delete(&p).await })
            .unwrap_or_else(|e| panic!("S3 delete {key:?} through node {i}: {e}"))
    }

    /// The first running node.
    fn running(&self) -> usize {
        (0..self.nodes.len())
            .find(|&i| self.is_running(i))
            .expect("no garage node is running")
    }

    /// Starts node `i`'s process (log appended to `garage.log`) and waits
    /// until its admin API answers.
    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let n = &self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(n.log_path())
            .unwrap();
        let log_start = log.metadata().map(|m| m.len() as usize).unwrap_or(0);
        let child = garage_cmd(&n.config)
            .arg("server")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", garage_bin().display()));
        self.nodes[i].child = Some(child);
        let start = Instant::now();
        let addr = format!("127.0.0.1:{}", self.nodes[i].admin_port);
        loop {
            if super::http10_get(&addr, "/health", &[]).is_ok() {
                return Ok(());
            }
            let exited = self.nodes[i]
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || start.elapsed() > WAIT {
                if let Some(mut c) = self.nodes[i].child.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                let log = self.node_log(i);
                return Err(format!(
                    "garage node {i} did not start ({}); its log:\n{}",
                    match exited {
                        Some(st) => format!("exited: {st}"),
                        None => format!("admin API not answering after {WAIT:?}"),
                    },
                    super::tail(log.get(log_start..).unwrap_or(&log), 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `garage -c <node i's config> <args>`: stdout, or an error with its
    /// output and the node's log.
    fn try_cli_on(&self, i: usize, args: &[&str]) -> Result<String, String> {
        let out = super::run(garage_cmd(&self.nodes[i].config).args(args));
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "garage {} (node {i}) failed ({}):\n{}{}\nnode {i}'s log:\n{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                super::tail(&self.node_log(i), 30)
            ))
        }
    }

    /// The cluster health as node `i` sees it (admin API
    /// `GetClusterHealth`: `status`, `connectedNodes`, ...).
    pub fn health(&self, i: usize) -> Result<serde_json::Value, String> {
        let addr = format!("127.0.0.1:{}", self.nodes[i].admin_port);
        let auth = format!("Bearer {}", self.admin_token);
        let (status, _, body) =
            super::http10_get(&addr, "/v2/GetClusterHealth", &[("Authorization", &auth)])
                .map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
        }
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }

    /// Waits (≤ 30 s) until every running node sees exactly the running
    /// nodes connected (and, when all run, the cluster healthy); runs
    /// `nudge` before each look.
    fn wait_connected(&self, what: &str, mut nudge: impl FnMut(&Garage)) -> Result<(), String> {
        let running: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.is_running(i))
            .collect();
        let start = Instant::now();
        loop {
            nudge(self);
            let views: Vec<Result<serde_json::Value, String>> =
                running.iter().map(|&i| self.health(i)).collect();
            let ok = views.iter().all(|v| {
                v.as_ref().is_ok_and(|h| {
                    h["connectedNodes"] == running.len()
                        && (running.len() < self.nodes.len() || h["status"] == "healthy")
                })
            });
            if ok {
                return Ok(());
            }
            if start.elapsed() > WAIT {
                let mut msg = format!("waiting for {what}: still not there after {WAIT:?}\n");
                for (&i, v) in running.iter().zip(&views) {
                    msg.push_str(&format!(
                        "node {i} sees {}\nnode {i}'s log:\n{}\n",
                        match v {
                            Ok(h) => h.to_string(),
                            Err(e) => e.clone(),
                        },
                        super::tail(&self.node_log(i), 20)
                    ));
                }
                return Err(msg);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (≤ 30 s) until node `i` serves S3 with the key (a listing of
    /// the bucket succeeds).
    fn wait_serving(&self, i: usize) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let s = self.store_with(i, 0);
            let r = blocking(async move {
                use futures_util::StreamExt;
                match s.list(None).next().await {
                    Some(Err(e)) => Err(e.to_string()),
                    _ => Ok(()),
                }
            });
            match r {
                Ok(()) => return Ok(()),
                Err(e) if start.elapsed() > WAIT => {
                    return Err(format!(
                        "node {i} does not serve S3 after {WAIT:?}: {e}\nits log:\n{}",
                        super::tail(&self.node_log(i), 30)
                    ))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// `garage -c <config>` without any GARAGE_* setting of the environment.
fn garage_cmd(config: &Path) -> Command {
    let mut c = Command::new(garage_bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GARAGE_") {
            c.env_remove(k);
        }
    }
    c.env("NO_COLOR", "1").arg("-c").arg(config);
    c
}

/// `key` as an object_store path, exactly as given (no re-encoding).
fn obj_path(key: &str) -> ObjPath {
    ObjPath::parse(key).unwrap_or_else(|e| panic!("{key:?} is not an object key: {e}"))
}

/// Runs `f` to completion on a runtime of its own, in a thread of its own
/// (callable from any context, a runtime's included).
fn blocking<T: Send>(f: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}
