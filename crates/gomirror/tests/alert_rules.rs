//! The shipped Prometheus alerting rules are valid, fire on the series they
//! are meant for (`promtool test rules`), and name only metrics gomirror
//! exports.

mod support;

use std::path::Path;
use std::process::Command;

fn rules_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus")
}

fn promtool(args: &[&str]) -> String {
    let out = support::run(Command::new("promtool").current_dir(rules_dir()).args(args));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool {args:?} failed (./scripts/test installs it):\n{text}"
    );
    text
}

#[test]
fn rules_are_valid_and_fire_as_tested() {
    let check = promtool(&["check", "rules", "gomirror-alerts.yml"]);
    assert!(check.contains("SUCCESS: 16 rules found"), "{check}");
    let test = promtool(&["test", "rules", "gomirror-alerts.test.yml"]);
    assert!(test.contains("SUCCESS"), "{test}");
}

#[test]
fn rules_use_only_exported_metrics() {
    let rules = std::fs::read_to_string(rules_dir().join("gomirror-alerts.yml")).unwrap();
    // Label families are only exported once they have a series: give each
    // one a sample.
    use gomirror::telemetry::Metrics;
    let m = Metrics::new();
    for f in [
        &m.cache,
        &m.upstream_requests,
        &m.upstream_errors,
        &m.integrity_failures,
        &m.store_errors,
        &m.cdn_findings,
        &m.requests,
        &m.git_commands,
        &m.upstream_timeouts,
        &m.events_dropped,
    ] {
        Metrics::inc(f, &[("label", "x")]);
    }
    for g in [&m.upstream_in_flight, &m.upstream_queued] {
        g.get_or_create(&vec![("label".to_owned(), "x".to_owned())])
            .set(1);
    }
    let exported = m.encode();
    let mut names: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("gomirror_"))
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 6, "{names:?}");
    for n in names {
        let base = n.strip_suffix("_total").unwrap_or(n);
        assert!(
            exported.contains(&format!("# TYPE {base} ")),
            "{n} is not exported:\n{exported}"
        );
    }
}
