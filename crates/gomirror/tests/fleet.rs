//! A fleet: gomirror replicas on a 3-node Garage cluster (S3), coordinated
//! through Redis, behind an nginx load balancer, with the real `go`
//! command as the client. Every peer is a real process on loopback.

mod support;

use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use support::balancer::Balancer;
use support::garage::Garage;
use support::redis::Redis;
use support::server::{ok, GoEnv, Server};
use support::upstream::{publish, Fault, ModVersion, Upstream};
use support::{get_blocking, metric};

const MODULE: &str = "example.com/fleet";
const VERSION: &str = "v1.0.0";
const ZIP: &str = "/example.com/fleet/@v/v1.0.0.zip";

/// A module version whose zip holds `payload` (so two upstreams can serve
/// different valid zips of one version).
fn module(payload: &str) -> ModVersion<'static> {
    ModVersion {
        path: MODULE,
        version: VERSION,
        files: vec![
            ("go.mod", b"module example.com/fleet\n\ngo 1.21\n".to_vec()),
            (
                "fleet.go",
                format!("package fleet\n\nconst Payload = {payload:?}\n").into_bytes(),
            ),
        ],
    }
}

/// An upstream serving `module(payload)`.
fn upstream(dir: &Path, payload: &str) -> Upstream {
    std::fs::create_dir_all(dir).unwrap();
    publish(dir, &module(payload));
    Upstream::start(dir)
}

/// An upstream serving `versions` of a module whose zips are large (`mib`
/// MiB of incompressible bytes derived from `payload`): their upload to the
/// bucket takes a while, which widens the window in which replicas race.
fn large_upstream(dir: &Path, payload: &str, mib: usize, versions: &[&'static str]) -> Upstream {
    std::fs::create_dir_all(dir).unwrap();
    let mut x: u64 = payload
        .bytes()
        .fold(0x9e37_79b9_7f4a_7c15, |h, b| h.rotate_left(5) ^ b as u64);
    let data: Vec<u8> = (0..mib << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    for v in versions {
        let mut m = module(payload);
        m.version = v;
        m.files.push(("blob.bin", data.clone()));
        publish(dir, &m);
    }
    Upstream::start(dir)
}

/// At most this many fleets run at once (each is a dozen processes; the
/// test machine may have 2 cores).
const FLEETS_AT_ONCE: usize = 4;
static RUNNING: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// A turn to run a fleet, given back on drop.
struct Turn;

impl Turn {
    fn take() -> Turn {
        let mut n = RUNNING.0.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= FLEETS_AT_ONCE {
            n = RUNNING.1.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        *RUNNING.0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        RUNNING.1.notify_one();
    }
}

/// The peers of one fleet test: a Garage cluster, Redis, the replicas.
struct Fleet {
    garage: Garage,
    redis: Redis,
    dir: tempfile::TempDir,
    replicas: Vec<Option<Server>>,
    /// The bucket prefix the replicas share.
    prefix: String,
    /// Dropped last (fields drop in order): the peers are gone by then.
    _turn: Turn,
}

impl Fleet {
    fn new() -> Fleet {
        let turn = Turn::take();
        Fleet {
            _turn: turn,
            garage: Garage::start(),
            redis: Redis::new(),
            dir: tempfile::tempdir().unwrap(),
            replicas: vec![],
            prefix: "mirror".into(),
        }
    }

    /// The environment of replica `i`: the shared bucket (through Garage
    /// node 0), Redis, a short admission lease, no background scrub
    /// unless `extra` asks for one.
    fn env(&self, i: usize, extra: &[(&str, &str)]) -> Vec<(String, OsString)> {
        let mut env: Vec<(String, OsString)> = self
            .garage
            .store_env(0, &self.prefix)
            .into_iter()
            .map(|(k, v)| (k, OsString::from(v)))
            .collect();
        for (k, v) in [
            ("GOMIRROR_REDIS_URL", self.redis.url()),
            ("GOMIRROR_REPLICA", format!("r{i}")),
            ("GOMIRROR_LEASE_TTL", "3s".to_owned()),
            ("GOMIRROR_SCRUB_RATE", "0".to_owned()),
            ("GOMIRROR_ADMIN_TOKEN", "fleet-admin-token".to_owned()),
        ] {
            env.push((k.to_owned(), v.into()));
        }
        for (k, v) in extra {
            env.retain(|(e, _)| e != k);
            env.push(((*k).to_owned(), (*v).into()));
        }
        env
    }

    /// Starts replica `i` (its own data directory) with upstream chain
    /// `goproxy`.
    fn start(&mut self, i: usize, goproxy: &str, extra: &[(&str, &str)]) -> &Server {
        self.start_with_args(i, goproxy, &[], extra)
    }

    /// [`Fleet::start`] with extra command-line arguments.
    fn start_with_args(
        &mut self,
        i: usize,
        goproxy: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> &Server {
        let env = self.env(i, extra);
        let env: Vec<(&str, &std::ffi::OsStr)> = env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_os_str()))
            .collect();
        let data = self.dir.path().join(format!("r{i}"));
        let s = Server::start_with_env(&data, goproxy, args, &env);
        while self.replicas.len() <= i {
            self.replicas.push(None);
        }
        self.replicas[i] = Some(s);
        self.replicas[i].as_ref().unwrap()
    }

    /// Starts replicas `0..n` (see [`Fleet::start`]) and waits until each
    /// is coordinated.
    fn start_all(&mut self, n: usize, goproxy: &str, extra: &[(&str, &str)]) {
        for i in 0..n {
            self.start(i, goproxy, extra);
        }
        for i in 0..n {
            self.wait_coordinated(i);
        }
    }

    fn r(&self, i: usize) -> &Server {
        self.replicas[i].as_ref().expect("replica running")
    }

    fn urls(&self) -> Vec<String> {
        self.replicas
            .iter()
            .flatten()
            .map(|s| s.url.clone())
            .collect()
    }

    /// Waits (≤ 30 s) until replica `i` says Redis is reachable and its
    /// change feed connected.
    fn wait_coordinated(&self, i: usize) {
        wait_for(Duration::from_secs(30), || {
            metric(&scrape(self.r(i)), "gomirror_fleet_redis_up", &[]) == 1.0
        })
        .unwrap_or_else(|| panic!("replica {i} never reached Redis:\n{}", self.r(i).log()));
    }

    /// Overwrites, through the S3 API, the blob holding `good` with a copy
    /// of it whose byte `at` has `mask` flipped (the bucket's rot); returns
    /// the blob's name and the rotten bytes.
    fn rot_blob(&self, good: &[u8], at: usize, mask: u8) -> (String, Vec<u8>) {
        let blob = self
            .bucket("b/")
            .into_iter()
            .find(|k| self.garage.get(k).is_some_and(|b| b == good))
            .expect("the blob holding these bytes");
        let mut bad = good.to_vec();
        bad[at] ^= mask;
        self.garage.put(&blob, &bad);
        (blob, bad)
    }

    /// Bucket object names under the shared prefix that start with `p`
    /// (a string prefix: S3 listings go by whole path elements, so the
    /// directory `p` is in is listed, then filtered).
    fn bucket(&self, p: &str) -> Vec<String> {
        let full = format!("{}/{p}", self.prefix);
        let dir = &full[..full.rfind('/').unwrap()];
        self.garage
            .list(dir)
            .into_iter()
            .filter(|k| k.starts_with(&full))
            .collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // A failed test shows what each replica said.
        if std::thread::panicking() {
            for (i, r) in self.replicas.iter().enumerate() {
                if let Some(r) = r {
                    eprintln!(
                        "--- replica {i} log (tail):\n{}",
                        support::tail(&r.log(), 40)
                    );
                }
            }
        }
    }
}

/// `/metrics` of a replica (after `/readyz`, which refreshes the fleet
/// gauges).
fn scrape(s: &Server) -> String {
    let _ = get_blocking(&format!("{}/readyz", s.url));
    let (st, body) = get_blocking(&format!("{}/metrics", s.url));
    assert_eq!(st, 200);
    String::from_utf8(body).unwrap()
}

/// Polls `f` every 100 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn get(url: &str) -> (u16, Vec<u8>) {
    get_blocking(url)
}

/// `n` GETs of `path`, released at the same instant, spread round robin
/// over `bases` (replica URLs): each one's status and body, in order.
fn concurrent_gets(bases: &[String], path: &str, n: usize) -> Vec<(u16, Vec<u8>)> {
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let url = format!("{}{path}", bases[i % bases.len()]);
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                get(&url)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// An admin API call with the fleet's token: status and body.
fn admin(post: bool, url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = support::http_client();
        let r = if post { c.post(url) } else { c.get(url) };
        let r = r.bearer_auth("fleet-admin-token").send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    })
}

/// go downloads through the load balancer; every replica then serves the
/// version from the bucket without asking the upstream again.
#[test]
fn go_through_the_balancer_then_every_replica_serves_from_the_bucket() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "one");
    for i in 0..3 {
        f.start(i, &up.url(), &[]);
    }
    let lb = Balancer::start(&f.urls());
    let go = GoEnv::new(&lb.url());
    let app = go.new_module("app");
    ok(go.go(&app).args(["get", &format!("{MODULE}@{VERSION}")]));
    ok(go.go(&app).args(["mod", "download", "-json", MODULE]));
    let fetched = up.total();
    assert_eq!(up.count(ZIP), 1, "the zip is fetched once for the fleet");
    // Every replica answers every file of the version; the upstream is not
    // asked again.
    let mut zips = vec![];
    for i in 0..3 {
        for ext in ["info", "mod", "zip"] {
            let (st, body) = get(&format!("{}/{MODULE}/@v/{VERSION}.{ext}", f.r(i).url));
            assert_eq!(st, 200, "replica {i} {ext}:\n{}", f.r(i).log());
            if ext == "zip" {
                zips.push(body);
            }
        }
    }
    assert!(zips.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(up.total(), fetched, "no replica went to the upstream again");
    // The objects are in the bucket: records and content-addressed blobs.
    assert!(
        f.bucket("r/example.com/fleet/@v/")
            .iter()
            .any(|k| k.ends_with("v1.0.0.zip")),
        "{:?}",
        f.bucket("")
    );
    assert!(!f.bucket("b/").is_empty());
    // A replica started later, with an empty local tier, serves it too.
    f.start(3, &up.url(), &[]);
    let (st, body) = get(&format!("{}{ZIP}", f.r(3).url));
    assert_eq!((st, &body), (200, &zips[0]));
    assert_eq!(up.total(), fetched);
}

/// 60 concurrent cold requests for one zip, spread over 3 replicas: one
/// upstream request.
#[test]
fn sixty_cold_requests_over_three_replicas_fetch_once() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "one");
    // Slow answers widen the window in which replicas race.
    up.set_delay_ms(300);
    f.start_all(3, &up.url(), &[]);
    let bodies = concurrent_gets(&f.urls(), ZIP, 60);
    for (st, b) in &bodies {
        assert_eq!(*st, 200, "{}", String::from_utf8_lossy(b));
    }
    assert!(bodies.windows(2).all(|w| w[0].1 == w[1].1));
    assert_eq!(up.count(ZIP), 1, "one upstream zip request for the fleet");
    let waited: f64 = (0..3)
        .map(|i| {
            metric(
                &scrape(f.r(i)),
                "gomirror_fleet_events_total",
                &[("event", "admitted_elsewhere")],
            )
        })
        .sum();
    assert!(waited >= 1.0, "other replicas waited for the one admitting");
}

/// Two upstreams serve different valid zips of one version (no checksum
/// database); replicas pointed at different ones, hit at the same moment,
/// all serve one and the same content — then and after restarts. Run with
/// Redis and, the rule being the bucket's, with Redis down.
fn first_writer_wins(with_redis: bool) {
    let mut f = Fleet::new();
    if !with_redis {
        f.redis.stop();
    }
    // Different answers at slightly different times: both replicas find no
    // record, the first to answer commits first, the second's upload ends
    // after the first's record is written (a plain last-writer-wins store
    // would let it overwrite what was already served). Three versions with
    // three gaps, as upload times vary.
    let versions = ["v1.0.0", "v1.1.0", "v1.2.0"];
    let a = large_upstream(&f.dir.path().join("a"), "from a", 12, &versions);
    let b = large_upstream(&f.dir.path().join("b"), "from b", 12, &versions);
    a.set_delay_ms(200);
    let chains = [a.url(), b.url(), a.url()];
    for (i, c) in chains.iter().enumerate() {
        f.start(i, c, &[]);
    }
    let urls = f.urls();
    let mut served = vec![];
    for (v, gap) in versions.iter().zip([40, 90, 150]) {
        b.set_delay_ms(200 + gap);
        let zip = format!("/{MODULE}/@v/{v}.zip");
        let bodies = concurrent_gets(&urls, &zip, 30);
        for (i, (st, body)) in bodies.iter().enumerate() {
            assert_eq!(
                *st,
                200,
                "{v} request {i}: {}",
                String::from_utf8_lossy(body)
            );
        }
        let first = bodies[0].1.clone();
        assert!(
            bodies.iter().all(|(_, b)| *b == first),
            "{v}: replicas served different content for one version"
        );
        served.push((zip, first));
    }
    // Restarted replicas (empty memory) still serve those bytes.
    for (i, c) in chains.iter().enumerate() {
        f.replicas[i].as_mut().unwrap().kill9();
        f.start(i, c, &[]);
        for (zip, first) in &served {
            let (st, body) = get(&format!("{}{zip}", f.r(i).url));
            assert_eq!(
                (st, body == *first),
                (200, true),
                "replica {i} after restart: {zip}"
            );
        }
    }
    if with_redis {
        // The go command agrees with itself across replicas.
        let lb = Balancer::start(&f.urls());
        let go = GoEnv::new(&lb.url());
        let app = go.new_module("app");
        for _ in 0..3 {
            ok(go
                .go(&app)
                .args(["mod", "download", &format!("{MODULE}@{VERSION}")]));
            go.clean_modcache();
        }
    }
}

#[test]
fn first_writer_wins_fleet_wide() {
    first_writer_wins(true);
}

#[test]
fn first_writer_wins_with_redis_down() {
    first_writer_wins(false);
}

/// A blob in the bucket overwritten with one flipped byte through the S3
/// API: never served, counted, quarantined and healed once; replicas that
/// hold a good local copy keep serving the admitted bytes.
#[test]
fn rot_in_the_bucket_is_never_served_and_healed_once() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "one");
    f.start_all(3, &up.url(), &[]);
    let (st, good) = get(&format!("{}{ZIP}", f.r(0).url));
    assert_eq!(st, 200);
    let (blob, _) = f.rot_blob(&good, good.len() / 2, 0x01);
    // Replica 1 has no local copy: it reads the bucket's, finds rot, and
    // heals it through admission; the client gets the admitted bytes.
    let (st, body) = get(&format!("{}{ZIP}", f.r(1).url));
    assert_eq!(st, 200, "{}", f.r(1).log());
    assert_eq!(body, good, "rotten bytes were served");
    let m1 = scrape(f.r(1));
    assert_eq!(
        metric(
            &m1,
            "gomirror_integrity_failures_total",
            &[("source", "store")]
        ),
        1.0
    );
    assert!(
        !f.bucket("q/").is_empty(),
        "the rotten copy is quarantined in the bucket"
    );
    assert_eq!(f.garage.get(&blob).as_deref(), Some(&good[..]), "healed");
    assert_eq!(up.count(ZIP), 2, "fetched once more to heal");
    // The others were told: they dropped what they held of the old
    // record (replica 0 its local copy), serve the admitted bytes, and
    // never saw the rot.
    for i in [0, 2] {
        wait_for(Duration::from_secs(10), || {
            metric(
                &scrape(f.r(i)),
                "gomirror_fleet_changes_received_total",
                &[],
            ) >= 1.0
        })
        .unwrap_or_else(|| panic!("replica {i} was not told of the quarantine and heal"));
    }
    for i in [0, 2] {
        let (st, body) = get(&format!("{}{ZIP}", f.r(i).url));
        assert_eq!((st, body == good), (200, true), "replica {i}");
        let m = scrape(f.r(i));
        assert_eq!(
            metric(
                &m,
                "gomirror_integrity_failures_total",
                &[("source", "store")]
            ),
            0.0,
            "replica {i}"
        );
    }
    assert_eq!(up.count(ZIP), 2, "healed once for the fleet");
}

/// The scrubber runs on one replica at a time: rot in the bucket is found
/// once per pass across the fleet, not once per replica.
#[test]
fn the_fleet_scrubs_the_bucket_once_per_pass() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "one");
    let scrub = [
        ("GOMIRROR_SCRUB_RATE", "100000000"),
        ("GOMIRROR_SCRUB_INTERVAL", "2s"),
    ];
    for i in 0..3 {
        f.start(i, &up.url(), &scrub);
    }
    let (st, good) = get(&format!("{}{ZIP}", f.r(0).url));
    assert_eq!(st, 200);
    let (blob, _) = f.rot_blob(&good, 10, 0x80);
    let rotten = |f: &Fleet| -> f64 {
        (0..3)
            .map(|i| metric(&scrape(f.r(i)), "gomirror_scrub_rotten_total", &[]))
            .sum()
    };
    wait_for(Duration::from_secs(30), || rotten(&f) >= 1.0)
        .unwrap_or_else(|| panic!("no replica scrubbed the rot:\n{}", f.r(0).log()));
    // A few more intervals: passes go on, the rot was healed once.
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(rotten(&f), 1.0, "the rot was found once across the fleet");
    assert_eq!(f.garage.get(&blob).as_deref(), Some(&good[..]), "healed");
    assert_eq!(up.count(ZIP), 2);
}

/// A purge through one replica: the bucket copy and every replica's local
/// and memory copies are gone (the next request fetches anew, and sees
/// the upstream's new content), and the CDN purge hook fired once.
#[test]
fn purge_through_one_replica_reaches_every_replica() {
    let mut f = Fleet::new();
    let up_dir = f.dir.path().join("up");
    let up = upstream(&up_dir, "old");
    // A CDN purge hook that counts its calls.
    let hook = upstream(&f.dir.path().join("hook"), "unused");
    let hook_url = format!("{}/purge-hook", hook.url());
    let extra = [("GOMIRROR_CDN_PURGE_WEBHOOK", hook_url.as_str())];
    f.start_all(3, &up.url(), &extra);
    let mut old = vec![];
    for i in 0..3 {
        for ext in ["info", "mod", "zip"] {
            let (st, body) = get(&format!("{}/{MODULE}/@v/{VERSION}.{ext}", f.r(i).url));
            assert_eq!(st, 200);
            if ext == "zip" {
                old = body;
            }
        }
    }
    // The upstream republishes the version with other content (no
    // checksum database here): only a purged mirror can see it.
    publish(&up_dir, &module("new"));
    let (st, text) = admin(true, &format!("{}/-/purge/{MODULE}@{VERSION}", f.r(1).url));
    assert_eq!(st, 200, "{text}");
    assert!(f.bucket("r/example.com/fleet/@v/v1.0.0").is_empty());
    for i in 0..3 {
        let (st, body) = get(&format!("{}{ZIP}", f.r(i).url));
        assert_eq!(st, 200);
        assert_ne!(body, old, "replica {i} served the purged copy");
    }
    assert_eq!(hook.count("/purge-hook"), 1, "the CDN hook fired once");
}

/// kill -9 of the replica holding the admission lease, mid-download: no
/// partial object in the bucket; the lease expires, another replica admits
/// the version, go succeeds.
#[test]
fn a_replica_killed_mid_admission_leaves_nothing_and_another_takes_over() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "one");
    f.start_all(3, &up.url(), &[]);
    up.set_fault(ZIP, Fault::Drip(Duration::from_millis(50)));
    let url0 = format!("{}{ZIP}", f.r(0).url);
    let stuck = std::thread::spawn(move || get(&url0));
    wait_for(Duration::from_secs(10), || up.count(ZIP) == 1).expect("replica 0 fetching");
    std::thread::sleep(Duration::from_millis(300));
    f.replicas[0].as_mut().unwrap().kill9();
    let _ = stuck.join();
    assert!(
        f.bucket("r/example.com/fleet/@v/v1.0.0.zip").is_empty(),
        "no record of a half-fetched zip"
    );
    assert!(f.bucket("b/").iter().all(|k| {
        // Only complete blobs of other files (the .info/.mod are not asked).
        f.garage.get(k).is_some_and(|b| !b.is_empty())
    }));
    up.clear_faults();
    let lb = Balancer::start(&[f.r(1).url.clone(), f.r(2).url.clone()]);
    let go = GoEnv::new(&lb.url());
    let app = go.new_module("app");
    let started = Instant::now();
    ok(go
        .go(&app)
        .args(["mod", "download", &format!("{MODULE}@{VERSION}")]));
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(up.count(ZIP), 2, "fetched again by one replica");
}

/// One Garage node stopped mid-run: downloads go on. Redis stopped: cached
/// downloads go on, `/readyz` and the metric say so; Redis back: a new
/// cold zip is fetched once fleet-wide again.
#[test]
fn a_storage_node_or_redis_down_degrades_without_errors() {
    let mut f = Fleet::new();
    let dir = f.dir.path().join("up");
    let up = upstream(&dir, "one");
    f.start_all(3, &up.url(), &[]);
    let lb = Balancer::start(&f.urls());
    let go = GoEnv::new(&lb.url());
    let app = go.new_module("app");
    ok(go
        .go(&app)
        .args(["mod", "download", &format!("{MODULE}@{VERSION}")]));
    // A storage node down: downloads continue, cold ones included.
    f.garage.stop_node(2);
    publish(
        &dir,
        &ModVersion {
            version: "v1.1.0",
            ..module("two")
        },
    );
    for _ in 0..3 {
        go.clean_modcache();
        ok(go
            .go(&app)
            .args(["mod", "download", &format!("{MODULE}@{VERSION}")]));
    }
    ok(go
        .go(&app)
        .args(["mod", "download", &format!("{MODULE}@v1.1.0")]));
    f.garage.start_node(2);
    // Redis down: cached downloads continue; readyz and the metric say so.
    f.redis.stop();
    for i in 0..3 {
        wait_for(Duration::from_secs(20), || {
            metric(&scrape(f.r(i)), "gomirror_fleet_redis_up", &[]) == 0.0
        })
        .unwrap_or_else(|| panic!("replica {i} did not notice Redis down"));
        let (st, body) = get(&format!("{}/readyz", f.r(i).url));
        let text = String::from_utf8_lossy(&body);
        assert_eq!(st, 200, "{text}");
        assert!(text.contains("redis unreachable"), "{text}");
    }
    for _ in 0..3 {
        go.clean_modcache();
        ok(go
            .go(&app)
            .args(["mod", "download", &format!("{MODULE}@{VERSION}")]));
    }
    // Redis back: coordination resumes without a restart.
    f.redis.start();
    for i in 0..3 {
        f.wait_coordinated(i);
    }
    publish(
        &dir,
        &ModVersion {
            version: "v1.2.0",
            ..module("three")
        },
    );
    up.set_delay_ms(300);
    let zip = "/example.com/fleet/@v/v1.2.0.zip";
    for (st, _) in concurrent_gets(&f.urls(), zip, 30) {
        assert_eq!(st, 200);
    }
    assert_eq!(up.count(zip), 1, "one upstream fetch fleet-wide again");
}

/// `/-/events` on any replica shows the fleet's events.
#[test]
fn events_of_the_fleet_show_on_every_replica() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "one");
    f.start_all(2, &up.url(), &[]);
    // An integrity event on replica 0: a corrupt upstream zip.
    up.set_fault(ZIP, Fault::Corrupt);
    let (st, _) = get(&format!("{}{ZIP}", f.r(0).url));
    assert_ne!(st, 200);
    let events = |i: usize| -> serde_json::Value {
        let (st, text) = admin(false, &format!("{}/-/events", f.r(i).url));
        assert_eq!(st, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    };
    wait_for(Duration::from_secs(10), || {
        events(1)["events"]
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["replica"] == "r0"))
    })
    .unwrap_or_else(|| panic!("replica 1 does not show replica 0's event: {}", events(1)));
}

/// Object storage down (two of three Garage nodes stopped: no quorum): what the local tier
/// holds is served (verified), misses answer 503 with Retry-After, nothing
/// is admitted half-way; `/readyz` and the metric name the outage; with
/// Redis down too the local copies are still served. Storage back: the
/// miss is fetched.
#[test]
fn object_storage_down_serves_the_local_tier_and_misses_get_503() {
    let mut f = Fleet::new();
    let dir = f.dir.path().join("up");
    let up = upstream(&dir, "one");
    f.start(0, &up.url(), &[]);
    f.wait_coordinated(0);
    let files = ["info", "mod", "zip"].map(|e| format!("/{MODULE}/@v/{VERSION}.{e}"));
    let mut good = vec![];
    for p in &files {
        let (st, body) = get(&format!("{}{p}", f.r(0).url));
        assert_eq!(st, 200);
        good.push(body);
    }
    publish(
        &dir,
        &ModVersion {
            version: "v1.1.0",
            ..module("two")
        },
    );
    // Two of three nodes down: the cluster has lost its quorum and answers
    // 503 to everything.
    for i in [1, 2] {
        f.garage.stop_node(i);
    }
    let addr = f.r(0).url.trim_start_matches("http://").to_owned();
    let check_cached = |f: &Fleet| {
        for (p, want) in files.iter().zip(&good) {
            let (st, body) = get(&format!("{}{p}", f.r(0).url));
            assert_eq!((st, &body), (200, want), "{p} from the local tier");
        }
    };
    check_cached(&f);
    let (st, head, _) =
        support::http10_get(&addr, "/example.com/fleet/@v/v1.1.0.zip", &[]).unwrap();
    assert_eq!(st, 503, "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    wait_for(Duration::from_secs(20), || {
        metric(&scrape(f.r(0)), "gomirror_bucket_up", &[]) == 0.0
    })
    .expect("the metric says the bucket is down");
    let (st, body) = get(&format!("{}/readyz", f.r(0).url));
    let text = String::from_utf8_lossy(&body);
    assert_eq!(st, 200, "{text}");
    assert!(text.contains("object storage unreachable"), "{text}");
    // Redis down as well: local records cannot be known current, the
    // bucket cannot be asked: the local copies are served.
    f.redis.stop();
    wait_for(Duration::from_secs(20), || {
        metric(&scrape(f.r(0)), "gomirror_fleet_redis_up", &[]) == 0.0
    })
    .expect("the metric says Redis is down");
    check_cached(&f);
    // (The metrics are refreshed every two seconds.)
    wait_for(Duration::from_secs(10), || {
        metric(
            &scrape(f.r(0)),
            "gomirror_local_served_bucket_down_total",
            &[],
        ) >= 1.0
    })
    .expect("served from the local tier because the bucket failed");
    f.redis.start();
    for i in [1, 2] {
        f.garage.start_node(i);
    }
    assert!(
        f.bucket("r/example.com/fleet/@v/v1.1.0").is_empty(),
        "nothing admitted while the bucket was down"
    );
    wait_for(Duration::from_secs(30), || {
        get(&format!("{}/example.com/fleet/@v/v1.1.0.zip", f.r(0).url)).0 == 200
    })
    .expect("the miss is fetched once the bucket is back");
    assert!(!f.bucket("r/example.com/fleet/@v/v1.1.0.zip").is_empty());
}

/// `gomirror verify` reads the bucket `GOMIRROR_STORE` names: a clean
/// bucket passes, a flipped byte in a blob is reported (read-only: nothing
/// changes).
#[test]
fn verify_reads_the_shared_bucket() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "one");
    f.start(0, &up.url(), &[]);
    let (st, good) = get(&format!("{}{ZIP}", f.r(0).url));
    assert_eq!(st, 200);
    let verify = |f: &Fleet| {
        let mut c = support::gomirror();
        c.args(["verify", "--json", "--data-dir"])
            .arg(f.dir.path().join("tool"))
            .env_remove("GOMIRROR_CONFIG");
        for (k, v) in f.garage.store_env(1, &f.prefix) {
            c.env(k, v);
        }
        support::run(&mut c)
    };
    let out = verify(&f);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["counts"]["ok"], 1, "{report}");
    let (blob, bad) = f.rot_blob(&good, good.len() / 3, 0x04);
    let out = verify(&f);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("example.com/fleet/@v/v1.0.0.zip"), "{text}");
    assert_eq!(f.garage.get(&blob), Some(bad), "read-only");
}

/// The checksum database's last verified head is the fleet's: a replica
/// that never verified a head itself still detects a fork against the
/// head another replica verified.
#[test]
fn a_checksum_database_fork_is_detected_by_any_replica() {
    let mut f = Fleet::new();
    let dir = f.dir.path().join("up");
    std::fs::create_dir_all(&dir).unwrap();
    let db = support::sumdb::TestSumdb::start();
    db.add_filler(300);
    for (v, payload) in [("v1.0.0", "a"), ("v1.1.0", "b")] {
        let m = ModVersion {
            version: v,
            ..module(payload)
        };
        let zip_h1 = publish(&dir, &m);
        let mod_h1 = gomod::dirhash::hash_go_mod(&m.files[0].1);
        db.add(MODULE, v, &zip_h1, &mod_h1);
    }
    let up = Upstream::start(&dir);
    let gosumdb = format!("{} {}", db.vkey, db.url());
    f.start_with_args(0, &up.url(), &["--gosumdb", &gosumdb], &[]);
    let (st, body) = get(&format!("{}/{MODULE}/@v/v1.0.0.mod", f.r(0).url));
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!f.bucket("r/sumdb/").is_empty(), "{:?}", f.bucket(""));
    // A replica that has verified nothing yet; then the database forks.
    f.start_with_args(1, &up.url(), &["--gosumdb", &gosumdb], &[]);
    f.wait_coordinated(1);
    db.fork();
    let (st, body) = get(&format!("{}/{MODULE}/@v/v1.1.0.mod", f.r(1).url));
    let text = String::from_utf8_lossy(&body);
    assert_eq!(st, 502, "{text}");
    assert!(text.contains("FORK"), "{text}");
    assert!(f.bucket("r/example.com/fleet/@v/v1.1.0").is_empty());
    // The fork shows in the fleet's events, on the other replica too.
    wait_for(Duration::from_secs(10), || {
        let (st, text) = admin(false, &format!("{}/-/events", f.r(0).url));
        st == 200 && text.contains("sumdb_fork") && text.contains("\"r1\"")
    })
    .expect("the fork is a fleet event");
}

/// The CDN canary runs on one replica at a time, once per interval across
/// the fleet (not once per replica).
#[test]
fn the_cdn_canary_runs_once_per_interval_fleet_wide() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "one");
    // The "CDN" is replica 0 itself: the canary fetches through it and
    // compares with the store.
    f.start(0, &up.url(), &[]);
    let cdn = f.r(0).url.clone();
    let (st, _) = get(&format!("{cdn}{ZIP}"));
    assert_eq!(st, 200);
    let watch = [
        ("GOMIRROR_WATCH_CDN", cdn.as_str()),
        ("GOMIRROR_WATCH_INTERVAL", "2s"),
    ];
    for i in 1..4 {
        f.start(i, &up.url(), &watch);
    }
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(9));
    let passes: Vec<usize> = (1..4)
        .map(|i| f.r(i).log().matches("cdn canary pass").count())
        .collect();
    let total: usize = passes.iter().sum();
    let most = started.elapsed().as_secs() as usize / 2 + 2;
    assert!(
        (2..=most).contains(&total),
        "{total} canary passes in {:?} over 3 replicas ({passes:?}): expected one per 2 s interval",
        started.elapsed()
    );
}

/// The status page of any replica has one row per replica, each from the
/// summary that replica published last (through Redis).
#[test]
fn the_status_page_shows_one_row_per_replica() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "rows");
    f.start_all(2, &up.url(), &[]);
    let (st, _) = get(&format!("{}{ZIP}", f.r(0).url));
    assert_eq!(st, 200);
    // Replica 0 publishes its row when its page is asked (and every minute).
    let (st, _) = get(&format!("{}/", f.r(0).url));
    assert_eq!(st, 200);
    let (st, page) = get(&format!("{}/", f.r(1).url));
    assert_eq!(st, 200);
    let page = String::from_utf8_lossy(&page).into_owned();
    let row = |r: &str| -> String {
        let start = page
            .find(&format!("<tr data-replica=\"{r}\">"))
            .unwrap_or_else(|| panic!("no row for {r}: {page}"));
        let end = start + page[start..].find("</tr>").unwrap();
        page[start..end].to_owned()
    };
    let r0 = row("r0");
    let r1 = row("r1");
    assert!(r1.contains("(this one)"), "{r1}");
    assert!(!r0.contains("(this one)"), "{r0}");
    // r0's row: its zip request (at least) and a miss, no hit yet.
    let cells: Vec<&str> = r0
        .split("<td")
        .skip(1)
        .map(|c| c.split_once('>').unwrap().1.trim_end_matches("</td>"))
        .collect();
    assert!(cells[2].parse::<u64>().unwrap() >= 1, "requests: {r0}");
    assert_eq!(cells[3], "0.0%", "hit ratio: {r0}");
}

/// The index feed on a fleet: a version one replica admitted is listed by
/// every replica (the change feed announces it), with the same timestamp,
/// and a restarted replica lists the same from the bucket's records.
#[test]
fn every_replica_lists_the_same_index_feed() {
    let mut f = Fleet::new();
    let up = upstream(&f.dir.path().join("up"), "feed");
    f.start_all(2, &up.url(), &[]);
    let feed = |s: &Server| -> Option<String> {
        let (st, body) = get(&format!("{}/index", s.url));
        (st == 200).then(|| String::from_utf8(body).unwrap())
    };
    wait_for(Duration::from_secs(30), || {
        feed(f.r(0)).is_some() && feed(f.r(1)).is_some()
    })
    .expect("the feeds never became ready");
    assert_eq!(feed(f.r(1)).unwrap(), "", "an empty bucket lists nothing");
    for ext in ["info", "mod", "zip"] {
        let (st, _) = get(&format!("{}/{MODULE}/@v/{VERSION}.{ext}", f.r(0).url));
        assert_eq!(st, 200);
    }
    let first = feed(f.r(0)).unwrap();
    assert!(
        first.contains(&format!("\"Path\":\"{MODULE}\",\"Version\":\"{VERSION}\"")),
        "{first}"
    );
    assert_eq!(first.lines().count(), 1, "{first}");
    wait_for(Duration::from_secs(10), || {
        feed(f.r(1)).as_deref() == Some(first.as_str())
    })
    .unwrap_or_else(|| panic!("replica 1 lists {:?}, replica 0 {first:?}", feed(f.r(1))));
    // Restarted: the same feed, rebuilt from the bucket.
    f.replicas[1] = None;
    f.start(1, &up.url(), &[]);
    wait_for(Duration::from_secs(30), || feed(f.r(1)).is_some())
        .expect("feed not ready after the restart");
    assert_eq!(feed(f.r(1)).unwrap(), first);
}

/// The own checksum database on a fleet: versions logged through either
/// replica land in one tree (one appender at a time, each catching up
/// first), which every replica serves; a go client that knows only the
/// log's key verifies through any replica.
#[test]
fn every_replica_serves_one_own_checksum_database() {
    const OWN: &str = "sum.fleet.test";
    let mut f = Fleet::new();
    let key = f.dir.path().join("own.key");
    let vkey = ok(support::gomirror_tool()
        .args(["sumdb", "keygen", "--name", OWN, "--out"])
        .arg(&key))
    .trim()
    .to_owned();
    let up_dir = f.dir.path().join("up");
    let gomod = |p: &str| format!("module {p}\n\ngo 1.21\n").into_bytes();
    let mods = ["example.com/own/a", "example.com/own/b"];
    for p in mods {
        publish(
            &up_dir,
            &ModVersion {
                path: p,
                version: VERSION,
                files: vec![("go.mod", gomod(p)), ("x.go", b"package x\n".to_vec())],
            },
        );
    }
    let up = Upstream::start(&up_dir);
    let k = key.to_string_lossy().into_owned();
    f.start_all(
        2,
        &up.url(),
        &[
            ("GOMIRROR_SUMDB_NAME", OWN),
            ("GOMIRROR_SUMDB_KEY_FILE", &k),
        ],
    );
    let client = |i: usize| {
        let mut env = GoEnv::new(&f.r(i).url);
        env.gosumdb = vkey.clone();
        env
    };
    // One version through each replica.
    for (i, p) in mods.iter().enumerate() {
        let env = client(i);
        let work = env.new_module("app");
        ok(env
            .go(&work)
            .args(["mod", "download", &format!("{p}@{VERSION}")]));
    }
    let latest = |i: usize| get(&format!("{}/sumdb/{OWN}/latest", f.r(i).url)).1;
    wait_for(Duration::from_secs(10), || {
        latest(0) == latest(1) && String::from_utf8_lossy(&latest(0)).lines().nth(1) == Some("2")
    })
    .unwrap_or_else(|| {
        panic!(
            "the replicas serve {:?} and {:?}",
            String::from_utf8_lossy(&latest(0)),
            String::from_utf8_lossy(&latest(1))
        )
    });
    // The version logged through replica 1, verified through replica 0.
    let env = client(0);
    let work = env.new_module("app");
    ok(env
        .go(&work)
        .args(["mod", "download", &format!("{}@{VERSION}", mods[1])]));
    ok(env
        .go(&work)
        .args(["mod", "download", &format!("{}@{VERSION}", mods[0])]));
}
