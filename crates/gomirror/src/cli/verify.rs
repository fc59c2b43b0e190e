//! `gomirror verify`: one scrub of the store from the command line (see
//! [`crate::scrub`]): every object checked against the record it was
//! admitted with; `--fix` quarantines what rotted and fetches it again
//! through admission.

use crate::cli::config::{Config, ServeFlags, StoreFlags};
use crate::scrub::{FixOutcome, Progress, Report, Rotten, Scrubber};
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

/// Arguments of `gomirror verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Quarantine rotten objects and fetch them again through admission,
    /// from the upstreams and checksum database configured as for `serve`
    /// (GOPROXY, GOSUMDB, ... from the environment or --config).
    #[arg(long)]
    pub fix: bool,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Read at most this many bytes per second, e.g. `50M` (suffixes K, M,
    /// G: powers of 1024) [default: unlimited]
    #[arg(long, value_name = "BYTES_PER_SEC", value_parser = parse_rate)]
    pub rate: Option<u64>,
    /// Check zips by size and sha256 only, not also by reading them with
    /// the module zip rules for their h1: (one read of each zip, not two).
    #[arg(long)]
    pub no_zip_h1: bool,
    #[command(flatten)]
    pub store: StoreFlags,
}

/// Parses a byte rate: a number with an optional K, M or G (powers of
/// 1024), optionally followed by `B`, `iB` or `/s`.
pub(crate) fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.eq_ignore_ascii_case(&'k') => (&t[..i], 1u64 << 10),
        Some((i, c)) if c.eq_ignore_ascii_case(&'m') => (&t[..i], 1 << 20),
        Some((i, c)) if c.eq_ignore_ascii_case(&'g') => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected bytes per second, e.g. 1048576 or 50M"))?;
    match n.checked_mul(mult) {
        Some(0) => Err(format!("{s:?}: the rate must be more than 0")),
        Some(v) => Ok(v),
        None => Err(format!("{s:?}: too large")),
    }
}

/// Runs `gomirror verify`.
pub fn run(args: VerifyArgs) -> ExitCode {
    let json = args.json;
    match verify(args) {
        Ok(code) => code,
        Err(e) => {
            if json {
                println!("{}", json!({ "error": format!("{e:#}") }));
            } else {
                eprintln!("gomirror verify: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let (store, location) = crate::cli::serve::open_store_for_tool(&args.store)?;
    let data_dir = std::path::PathBuf::from(&location);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let scrubber = if args.fix {
        let cfg = Config::resolve(&ServeFlags {
            store: args.store.clone(),
            ..Default::default()
        })
        .context("configuration for --fix")?;
        if std::env::var_os("GOMIRROR_LOG").is_some() {
            crate::cli::serve::init_logging(cfg.log_format);
        }
        let mirror = {
            let _guard = rt.enter();
            crate::cli::serve::build_mirror_beside_server(&cfg)?
        };
        Scrubber::healing(mirror)
    } else {
        // Read-only: attached without touching the staging area of a
        // server that may be running on the same directory.
        Scrubber::new(store)
    }
    .zip_h1(!args.no_zip_h1)
    .rate_limit(args.rate);

    let bar = Bar::new(args.json);
    let report = rt.block_on(scrubber.run(&bar))?;
    bar.bar.finish_and_clear();

    if args.json {
        println!("{}", report_json(&report, &data_dir, args.fix));
    } else {
        print_report(&report, &data_dir, args.fix);
    }
    Ok(if report.unhealed() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The progress bar on stderr (hidden when stderr is not a terminal, or
/// with --json): bytes read of the total, and objects done.
struct Bar {
    bar: ProgressBar,
    objects: AtomicU64,
    done: AtomicU64,
}

impl Bar {
    fn new(json: bool) -> Bar {
        use std::io::IsTerminal;
        let bar = if json || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Bar {
            bar,
            objects: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }
}

impl Progress for Bar {
    fn start(&self, objects: u64, bytes: u64) {
        self.objects.store(objects, Ordering::Relaxed);
        self.bar.set_length(bytes);
        self.bar.set_message(format!("0/{objects} objects"));
    }
    fn bytes(&self, n: u64) {
        self.bar.inc(n);
    }
    fn object(&self, key: &str, rot: Option<&Rotten>) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.objects.load(Ordering::Relaxed);
        self.bar.set_message(format!("{done}/{total} objects"));
        if let Some(r) = rot {
            self.bar.println(format!(
                "rotten: {key}: {}: {}{}",
                r.kind.as_str(),
                r.reason,
                fix_note(r.fix.as_ref())
            ));
        }
    }
}

fn fix_note(fix: Option<&FixOutcome>) -> String {
    match fix {
        None => String::new(),
        Some(FixOutcome::Healed) => " [healed]".into(),
        Some(FixOutcome::Removed) => " [quarantined]".into(),
        Some(FixOutcome::Failed(e)) => format!(" [NOT healed: {e}]"),
    }
}

fn report_json(r: &Report, data_dir: &Path, fix: bool) -> serde_json::Value {
    let mut counts = json!({
        "ok": r.ok,
        "rotten": r.rotten.len(),
        "missing_metadata": r.missing_metadata.len(),
        "vanished": r.vanished,
    });
    if fix {
        counts["healed"] = json!(r.healed());
        counts["removed"] = json!(r.removed());
        counts["failed"] = json!(r.unhealed());
    }
    json!({
        "data_dir": data_dir.display().to_string(),
        "fix": fix,
        "objects": r.objects,
        "bytes": r.bytes,
        "seconds": r.seconds,
        "counts": counts,
        "rotten": r.rotten,
        "missing_metadata": r.missing_metadata,
    })
}

fn print_report(r: &Report, data_dir: &Path, fix: bool) {
    println!(
        "verified {} objects ({}) in {:.1}s under {}",
        r.objects,
        HumanBytes(r.bytes),
        r.seconds,
        data_dir.display()
    );
    let mut rows = vec![
        ("ok", r.ok),
        ("rotten", r.rotten.len() as u64),
        ("missing metadata", r.missing_metadata.len() as u64),
    ];
    if r.vanished > 0 {
        rows.push(("vanished meanwhile", r.vanished));
    }
    if fix {
        rows.push(("healed", r.healed()));
        if r.removed() > 0 {
            rows.push(("quarantined", r.removed()));
        }
        rows.push(("not healed", r.unhealed()));
    }
    for (name, n) in rows {
        println!("  {name:<20} {n:>8}");
    }
    if !r.rotten.is_empty() {
        println!("rotten objects:");
        for rot in &r.rotten {
            println!(
                "  {}: {}: {}{}",
                rot.key,
                rot.kind.as_str(),
                rot.reason,
                fix_note(rot.fix.as_ref())
            );
        }
        if !fix {
            println!("(gomirror verify --fix quarantines them and fetches them again)");
        }
    }
    if !r.missing_metadata.is_empty() {
        println!("bytes without a metadata record (never served):");
        for u in &r.missing_metadata {
            println!("  {} ({} bytes){}", u.key, u.size, fix_note(u.fix.as_ref()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1000"), Ok(1000));
        assert_eq!(parse_rate("64k"), Ok(64 << 10));
        assert_eq!(parse_rate("50M"), Ok(50 << 20));
        assert_eq!(parse_rate("50MiB/s"), Ok(50 << 20));
        assert_eq!(parse_rate("2GB"), Ok(2 << 30));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("").is_err());
    }
}
