//! The go command's `.netrc` parsing.
//!
//! Input: arbitrary bytes as a netrc file (UTF-8 with invalid sequences
//! replaced). Never a panic; every entry has a non-empty machine, login and
//! password without white space, there are no more entries than `machine`
//! words, and the entries written back one per line
//! (`machine M login L password P`) parse to the same entries.
#![no_main]

use gomod::netrc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let entries = netrc::parse(&text);
    let machines = text.split_whitespace().filter(|w| *w == "machine").count();
    assert!(entries.len() <= machines, "{entries:?}");
    let mut again = String::new();
    for e in &entries {
        for f in [&e.machine, &e.login, &e.password] {
            assert!(
                !f.is_empty() && !f.chars().any(char::is_whitespace),
                "{e:?}"
            );
        }
        again.push_str(&format!(
            "machine {} login {} password {}\n",
            e.machine, e.login, e.password
        ));
    }
    assert_eq!(netrc::parse(&again), entries);
});
