//! OpenTelemetry traces: a real OTLP/HTTP receiver (`support/otlp_receiver.py`,
//! decoding the protobuf payload with PyPI's opentelemetry-proto) gets the
//! spans of one cold download — request → fetch → upstream fetch,
//! checksum-database lookup, admission, store commit — in one trace that
//! continues the client's W3C `traceparent`, with the parent links right;
//! the upstream sees the trace go on; the log line carries the trace id.

mod support;

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::server::Server;
use support::sumdb::TestSumdb;
use support::upstream::{publish, ModVersion, Upstream};

struct Receiver {
    child: Child,
    url: String,
    spans: std::path::PathBuf,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(dir: &Path) -> Receiver {
        let python = std::env::var("GOMIRROR_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/otlp_receiver.py");
        let spans = dir.join("spans.jsonl");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(&spans)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{python}: {e} (scripts/test sets GOMIRROR_PYTHON)"));
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            panic!("the OTLP receiver did not start (is opentelemetry-proto installed for {python}?): {line:?}")
        });
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            spans,
        }
    }

    fn spans(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.spans)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[test]
fn a_cold_download_is_one_trace_continuing_the_clients() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        ("go.mod", b"module example.com/traced\n\ngo 1.21\n".to_vec()),
        ("t.go", b"package traced\n".to_vec()),
    ];
    let h1 = publish(
        dir.path(),
        &ModVersion {
            path: "example.com/traced",
            version: "v1.0.0",
            files: files.clone(),
        },
    );
    let db = TestSumdb::start();
    db.add(
        "example.com/traced",
        "v1.0.0",
        &h1,
        &gomod::dirhash::hash_go_mod(&files[0].1),
    );
    let up = Upstream::start(dir.path());
    let receiver = Receiver::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let srv = Server::start_with_env(
        &data.path().join("d"),
        &up.url(),
        &["--gosumdb", &gosumdb],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_ref()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".as_ref()),
        ],
    );

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let zip = "/example.com/traced/@v/v1.0.0.zip";
    let out = support::run(Command::new("curl").args([
        "-sS",
        "--noproxy",
        "*",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("traceparent: 00-{trace_id}-{client_span}-01"),
        &format!("{}{zip}", srv.url),
    ]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "{}", srv.log());

    // The spans arrive (batched, every 100 ms here).
    let want = [
        "request",
        "store read",
        "fetch",
        "upstream fetch",
        "checksum database lookup",
        "admission",
        "store commit",
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let s: Vec<serde_json::Value> = receiver
            .spans()
            .into_iter()
            .filter(|s| s["trace_id"] == trace_id)
            .collect();
        if want.iter().all(|w| s.iter().any(|x| x["name"] == *w)) {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "spans of the trace so far: {s:#?}\nall: {:#?}\ngomirror log:\n{}",
            receiver.spans(),
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let by_name: HashMap<&str, &serde_json::Value> = spans
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s))
        .collect();
    let id = |n: &str| by_name[n]["span_id"].as_str().unwrap().to_owned();
    let parent = |n: &str| by_name[n]["parent"].as_str().unwrap().to_owned();
    for s in &spans {
        assert_eq!(s["path"], "/v1/traces");
        assert_eq!(s["content_type"], "application/x-protobuf");
        assert_eq!(s["service"], "gomirror");
    }
    assert_eq!(parent("request"), client_span, "the client's trace goes on");
    assert_eq!(parent("store read"), id("request"));
    assert_eq!(parent("fetch"), id("request"));
    for n in [
        "upstream fetch",
        "checksum database lookup",
        "admission",
        "store commit",
    ] {
        assert_eq!(parent(n), id("fetch"), "{n}'s parent");
    }
    let req = &by_name["request"]["attributes"];
    assert_eq!(req["url.path"], zip);
    assert_eq!(req["http.response.status_code"], 200);
    assert_eq!(
        by_name["upstream fetch"]["attributes"]["upstream"],
        up.url()
    );
    assert_eq!(
        by_name["admission"]["attributes"]["module"],
        "example.com/traced"
    );

    // The upstream saw the same trace, with the mirror's span as parent.
    let h = up.request_headers(zip).expect("the upstream was asked");
    let tp = h
        .get("traceparent")
        .expect("traceparent sent upstream")
        .to_str()
        .unwrap();
    assert!(
        tp.starts_with(&format!("00-{trace_id}-")),
        "traceparent upstream: {tp}"
    );
    assert_eq!(&tp[36..52], id("upstream fetch"), "{tp}");

    // The request's log line names the trace.
    let log = srv.log();
    let line = log
        .lines()
        .find(|l| l.contains(" request") && l.contains(zip))
        .unwrap_or_else(|| panic!("no request line: {log}"));
    assert!(line.contains(trace_id), "{line}");
    // So does the admission's.
    let admitted = log
        .lines()
        .find(|l| l.contains(" admitted ") && l.contains("example.com/traced/@v/v1.0.0.zip"))
        .unwrap_or_else(|| panic!("no admitted line: {log}"));
    assert!(admitted.contains(trace_id), "{admitted}");

    // A request without traceparent starts a trace of its own.
    let (s, _) = support::get_blocking(&format!("{}/example.com/traced/@v/v1.0.0.info", srv.url));
    assert_eq!(s, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let own = receiver.spans().into_iter().any(|s| {
            s["name"] == "request"
                && s["parent"] == ""
                && s["trace_id"] != trace_id
                && s["attributes"]["url.path"] == "/example.com/traced/@v/v1.0.0.info"
        });
        if own {
            break;
        }
        assert!(Instant::now() < deadline, "{:#?}", receiver.spans());
        std::thread::sleep(Duration::from_millis(100));
    }
}
