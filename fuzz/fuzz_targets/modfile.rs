//! The go.mod parser and printer.
//!
//! Input: arbitrary bytes as a go.mod file.
#![no_main]

use gomod::modfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lax = modfile::parse_lax("go.mod", data);
    let _ = modfile::parse("go.mod", data);
    let _ = modfile::parse_work("go.work", data);
    let _ = modfile::module_path(data);
    let _ = modfile::check_go_mod("example.com/m", data);

    let Ok(tree) = modfile::parse_syntax("go.mod", data) else {
        // The interpreting parsers cannot accept what the syntax rejects.
        assert!(lax.is_err(), "parse_lax accepted what parse_syntax rejects");
        return;
    };
    // The printer's output parses again, and printing that tree gives the
    // same bytes: format is idempotent.
    let once = modfile::format(&tree);
    let tree2 = modfile::parse_syntax("go.mod", &once).unwrap_or_else(|e| {
        panic!(
            "format output does not parse: {e}\ninput: {:?}\nformatted: {:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&once)
        )
    });
    let twice = modfile::format(&tree2);
    assert!(
        once == twice,
        "format not idempotent\ninput: {:?}\nonce:  {:?}\ntwice: {:?}",
        String::from_utf8_lossy(data),
        String::from_utf8_lossy(&once),
        String::from_utf8_lossy(&twice)
    );
    // The printer's output is in standard form.
    assert!(once.is_empty() || (once.ends_with(b"\n") && !once.ends_with(b"\n\n")));
    assert!(!once.starts_with(b"\n"));
    assert!(!once.windows(2).any(|w| w == b" \n" || w == b"\t\n"));

    // Formatting does not change what the go command reads from the file
    // (for valid UTF-8; other bytes come back as U+FFFD).
    let utf8 = std::str::from_utf8(data).is_ok();
    if let (Ok(file), true) = (&lax, utf8) {
        same_meaning(data, file, &once, "format(parse_syntax)");
        // The interpreted file's syntax, with its tokens rewritten into
        // canonical form, prints into the same meaning as well -- unless a
        // token was quoted: like Go's modfile, parse_lax rewrites a quoted
        // `retract` version into its raw unquoted value (`retract "v1 x"`
        // prints as `retract v1 x`, and a quoted NUL as a raw NUL), which
        // `go mod edit -fmt` reproduces.
        let out = modfile::format(&file.syntax);
        if !data.iter().any(|&b| b == b'"' || b == b'`') {
            same_meaning(data, file, &out, "format(parse_lax.syntax)");
        }
    } else if let Ok(file) = &lax {
        let _ = modfile::format(&file.syntax);
    }
});

fn same_meaning(data: &[u8], file: &modfile::File, out: &[u8], what: &str) {
    let again = modfile::parse_lax("go.mod", out).unwrap_or_else(|e| {
        panic!(
            "{what} no longer passes parse_lax: {e}\ninput: {:?}\nformatted: {:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(out)
        )
    });
    assert_eq!(
        file.module.as_ref().map(|m| (&m.path, &m.deprecated)),
        again.module.as_ref().map(|m| (&m.path, &m.deprecated)),
        "{what}: module changed"
    );
    assert_eq!(
        file.go.as_ref().map(|g| &g.version),
        again.go.as_ref().map(|g| &g.version),
        "{what}: go version changed"
    );
    let reqs = |f: &modfile::File| {
        f.require
            .iter()
            .map(|r| (r.path.clone(), r.version.clone(), r.indirect))
            .collect::<Vec<_>>()
    };
    assert_eq!(reqs(file), reqs(&again), "{what}: requirements changed");
    let retracts = |f: &modfile::File| {
        f.retract
            .iter()
            .map(|r| (r.interval.clone(), r.rationale.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        retracts(file),
        retracts(&again),
        "{what}: retractions changed"
    );
}
