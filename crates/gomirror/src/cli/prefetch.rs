//! `gomirror prefetch`: warm the cache from a go.mod, a go.sum or a list of
//! module versions, through admission (in-process: the same upstream
//! chain, checks and checksum database as `serve`).

use crate::cli::config::{ServeFlags, StoreFlags};
use crate::mirror::Mirror;
use crate::protocol::{versioned_key, FileKind};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `gomirror prefetch`.
#[derive(Debug, Args)]
pub struct PrefetchArgs {
    /// A go.mod (its `require`s, after `replace`s), a go.sum (a `/go.mod`
    /// line alone fetches the .info and .mod only; a zip line also checks
    /// the admitted h1: against go.sum), or a file of `module@version` (or
    /// `module version`, as `go list -m all` prints) lines; `-` reads
    /// standard input.
    pub input: String,
    /// What the input is [default: from the file name, else from the content]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Module versions fetched at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreFlags,
}

/// Input formats of `gomirror prefetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A go.mod file.
    Gomod,
    /// A go.sum file.
    Gosum,
    /// `module@version` lines.
    List,
}

/// One module version to warm.
#[derive(Debug, Clone, Default)]
pub(super) struct Want {
    module: String,
    version: String,
    /// Fetch the zip too (not only .info and .mod).
    zip: bool,
    /// go.sum's `h1:` for the zip and for the go.mod.
    zip_sum: Option<String>,
    mod_sum: Option<String>,
    /// Why this entry cannot be fetched (invalid input).
    invalid: Option<String>,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Status {
    Fetched,
    Cached,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct FileResult {
    file: &'static str,
    pub(super) status: Status,
    /// The file's size when this run fetched it (for throughput).
    #[serde(skip)]
    pub(super) fetched_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct ModResult {
    pub(super) module: String,
    pub(super) version: String,
    pub(super) status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    pub(super) files: Vec<FileResult>,
}

/// Runs `gomirror prefetch`.
pub fn run(args: PrefetchArgs) -> ExitCode {
    let json = args.json;
    match prefetch(args) {
        Ok(code) => code,
        Err(e) => {
            if json {
                println!("{}", json!({ "error": format!("{e:#}") }));
            } else {
                eprintln!("gomirror prefetch: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn prefetch(args: PrefetchArgs) -> Result<ExitCode> {
    let (name, data) = if args.input == "-" {
        let mut d = vec![];
        std::io::stdin()
            .read_to_end(&mut d)
            .context("reading standard input")?;
        ("-".to_owned(), d)
    } else {
        let d = std::fs::read(&args.input).with_context(|| format!("reading {}", args.input))?;
        (args.input.clone(), d)
    };
    let format = args.format.unwrap_or_else(|| detect(&name, &data));
    let text = String::from_utf8_lossy(&data);
    let wants = match format {
        Format::Gosum => parse_gosum(&text),
        Format::List => parse_list(&text),
        Format::Gomod => parse_gomod(&name, &data)?,
    };

    let (rt, mirror, _) = crate::cli::serve::tool_mirror(&ServeFlags {
        store: args.store.clone(),
        ..Default::default()
    })?;

    let bar = progress_bar(args.json, wants.len() as u64);
    let concurrency = usize::from(args.concurrency);
    let mut results: Vec<ModResult> = rt.block_on(async {
        futures_util::stream::iter(wants)
            .map(|w| {
                let (mirror, bar) = (mirror.clone(), bar.clone());
                async move { fetch_shown(&mirror, w, None, &bar).await }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await
    });
    bar.finish_and_clear();
    results.sort_by(|a, b| (&a.module, &a.version).cmp(&(&b.module, &b.version)));

    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let count_files = |s: Status| {
        results
            .iter()
            .flat_map(|r| &r.files)
            .filter(|f| f.status == s)
            .count()
    };
    let failed = count(Status::Failed);
    if args.json {
        println!(
            "{}",
            json!({
                "input": name,
                "format": format!("{format:?}").to_lowercase(),
                "fetched": count(Status::Fetched),
                "cached": count(Status::Cached),
                "failed": failed,
                "files": {
                    "fetched": count_files(Status::Fetched),
                    "cached": count_files(Status::Cached),
                    "failed": count_files(Status::Failed),
                },
                "modules": results,
            })
        );
    } else if results.is_empty() {
        println!("nothing to prefetch in {name}");
    } else {
        println!("{:<10} {:>8} {:>8}", "", "modules", "files");
        for (label, s) in [
            ("fetched", Status::Fetched),
            ("cached", Status::Cached),
            ("failed", Status::Failed),
        ] {
            println!("{label:<10} {:>8} {:>8}", count(s.clone()), count_files(s));
        }
        if failed > 0 {
            println!("failed:");
            for r in results.iter().filter(|r| r.status == Status::Failed) {
                println!(
                    "  {}@{}: {}",
                    r.module,
                    r.version,
                    r.error.as_deref().unwrap_or_default()
                );
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn progress_bar(json: bool, len: u64) -> ProgressBar {
    use std::io::IsTerminal;
    let bar = if json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
    };
    bar.set_length(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} modules ({eta}) {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// [`fetch_one`], shown on `bar`: the version as its message, a failure
/// printed above it, one step done.
pub(super) async fn fetch_shown(
    mirror: &Arc<Mirror>,
    w: Want,
    via: Option<&crate::upstream::Chain>,
    bar: &ProgressBar,
) -> ModResult {
    let r = fetch_one(mirror, w, via).await;
    bar.set_message(format!("{}@{}", r.module, r.version));
    if r.status == Status::Failed {
        bar.println(format!(
            "failed: {}@{}: {}",
            r.module,
            r.version,
            r.error.as_deref().unwrap_or_default()
        ));
    }
    bar.inc(1);
    r
}

/// Warms one module version: .info, .mod, then (if wanted) .zip, stopping
/// at the first failure. A file already in the store is `cached` (not read
/// again); otherwise it is fetched through admission.
pub(super) async fn fetch_one(
    mirror: &Arc<Mirror>,
    w: Want,
    via: Option<&crate::upstream::Chain>,
) -> ModResult {
    let mut r = ModResult {
        module: w.module.clone(),
        version: w.version.clone(),
        status: Status::Cached,
        error: None,
        files: vec![],
    };
    if let Some(e) = w.invalid {
        r.status = Status::Failed;
        r.error = Some(e);
        return r;
    }
    let exts: &[FileKind] = if w.zip {
        &[FileKind::Info, FileKind::Mod, FileKind::Zip]
    } else {
        &[FileKind::Info, FileKind::Mod]
    };
    for &ext in exts {
        let (status, error, fetched_bytes) = fetch_file(mirror, &w, ext, via).await;
        if status == Status::Fetched && r.status == Status::Cached {
            r.status = Status::Fetched;
        }
        let failed = status == Status::Failed;
        if failed {
            r.status = Status::Failed;
            r.error.clone_from(&error);
        }
        r.files.push(FileResult {
            file: ext.as_str(),
            status,
            fetched_bytes,
            error,
        });
        if failed {
            break;
        }
    }
    r
}

async fn fetch_file(
    mirror: &Arc<Mirror>,
    w: &Want,
    ext: FileKind,
    via: Option<&crate::upstream::Chain>,
) -> (Status, Option<String>, u64) {
    let key = match versioned_key(&w.module, &w.version, ext) {
        Ok(k) => k,
        Err(e) => return (Status::Failed, Some(e.to_string()), 0),
    };
    let (status, meta) = match mirror.store().meta(&key).await {
        Ok(Some(m)) => (Status::Cached, m),
        _ => match mirror
            .versioned_via(via.cloned(), &w.module, &w.version, ext)
            .await
        {
            Ok(o) => (Status::Fetched, o.meta().clone()),
            Err(e) => return (Status::Failed, Some(e.to_string()), 0),
        },
    };
    let want = match ext {
        FileKind::Zip => w.zip_sum.as_ref(),
        FileKind::Mod => w.mod_sum.as_ref(),
        FileKind::Info => None,
    };
    if let Some(want) = want {
        let got = meta.h1.as_deref().unwrap_or("(none)");
        if got != want {
            let what = if ext == FileKind::Zip {
                "zip"
            } else {
                "go.mod"
            };
            return (
                Status::Failed,
                Some(format!(
                    "the mirror's {what} is {got}, go.sum says {want}: one of them is wrong"
                )),
                0,
            );
        }
    }
    let fetched = if status == Status::Fetched {
        meta.size
    } else {
        0
    };
    (status, None, fetched)
}

/// Guesses the format: by the file name, else by the content.
fn detect(name: &str, data: &[u8]) -> Format {
    let base = Path::new(name)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base == "go.mod" || base.ends_with(".mod") {
        return Format::Gomod;
    }
    if base == "go.sum" || base.ends_with(".sum") {
        return Format::Gosum;
    }
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("//"))
        .collect();
    let gosum_line = |l: &&str| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() == 3 && f[2].starts_with("h1:")
    };
    if !lines.is_empty() && lines.iter().all(gosum_line) {
        return Format::Gosum;
    }
    let directive = |l: &&str| {
        ["module", "require", "go", "replace", "toolchain"]
            .iter()
            .any(|d| l.split_whitespace().next() == Some(*d))
    };
    if lines.iter().any(directive) {
        return Format::Gomod;
    }
    Format::List
}

/// Checks a module version the mirror can fetch: a valid path and a
/// canonical version that fits it.
fn check_version(module: &str, version: &str) -> Option<String> {
    if let Err(e) = gomod::module::check(module, version) {
        return Some(e.to_string());
    }
    if gomod::module::canonical_version(version) != version {
        return Some(format!(
            "{version} is not a canonical version (the mirror fetches exact versions)"
        ));
    }
    None
}

pub(super) fn want(module: &str, version: &str, zip: bool) -> Want {
    Want {
        module: module.to_owned(),
        version: version.to_owned(),
        zip,
        invalid: check_version(module, version),
        ..Default::default()
    }
}

/// go.sum: `path version h1:...` (the zip) and `path version/go.mod
/// h1:...` (the go.mod only). A version with only a `/go.mod` line needs
/// its .info and .mod, as the go command does for the module graph.
fn parse_gosum(text: &str) -> Vec<Want> {
    let mut map: BTreeMap<(String, String), Want> = BTreeMap::new();
    let mut bad = vec![];
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() != 3 {
            bad.push(Want {
                module: format!("go.sum line {}", n + 1),
                invalid: Some(format!("expected `path version hash`, found {line:?}")),
                ..Default::default()
            });
            continue;
        }
        let (version, gomod_only) = match f[1].strip_suffix("/go.mod") {
            Some(v) => (v, true),
            None => (f[1], false),
        };
        let e = map
            .entry((f[0].to_owned(), version.to_owned()))
            .or_insert_with(|| want(f[0], version, false));
        let sum = f[2].starts_with("h1:").then(|| f[2].to_owned());
        if gomod_only {
            e.mod_sum = sum;
        } else {
            e.zip = true;
            e.zip_sum = sum;
        }
    }
    bad.extend(map.into_values());
    bad
}

/// `module@version`, or `module version` (what `go list -m all` prints,
/// including `old version => new version` replacements; a replacement by a
/// directory, or a line with a module path alone, is skipped); `#` and `//`
/// comments. Each is fetched whole (.info, .mod, .zip).
fn parse_list(text: &str) -> Vec<Want> {
    let mut map: BTreeMap<(String, String), Want> = BTreeMap::new();
    let mut bad = vec![];
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let line = match line.split_once("=>") {
            Some((_, new)) => new.trim(),
            None => line,
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        let (m, v) = match f.as_slice() {
            [one] => match one.split_once('@') {
                Some(mv) => mv,
                // A main module or a directory replacement: nothing to fetch.
                None => continue,
            },
            [m, v] => (*m, *v),
            _ => {
                bad.push(Want {
                    module: format!("line {}", n + 1),
                    invalid: Some(format!("expected module@version, found {line:?}")),
                    ..Default::default()
                });
                continue;
            }
        };
        map.entry((m.to_owned(), v.to_owned()))
            .or_insert_with(|| want(m, v, true));
    }
    bad.extend(map.into_values());
    bad
}

/// go.mod: every `require`, after `replace` (a replacement by a module
/// version is fetched instead; by a directory, nothing is).
fn parse_gomod(name: &str, data: &[u8]) -> Result<Vec<Want>> {
    // As the main module's go.mod (with its replacements); a go.mod the
    // strict rules refuse is still read for its requirements, as the go
    // command reads a dependency's.
    let f = match gomod::modfile::parse(name, data) {
        Ok(f) => f,
        Err(_) => gomod::modfile::parse_lax(name, data)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("parsing {name} as a go.mod"))?,
    };
    let mut map: BTreeMap<(String, String), Want> = BTreeMap::new();
    for r in &f.require {
        let rep = f
            .replace
            .iter()
            .filter(|p| p.old_path == r.path)
            .find(|p| p.old_version == r.version)
            .or_else(|| {
                f.replace
                    .iter()
                    .find(|p| p.old_path == r.path && p.old_version.is_empty())
            });
        let (m, v) = match rep {
            Some(p) if p.new_version.is_empty() => continue,
            Some(p) => (p.new_path.as_str(), p.new_version.as_str()),
            None => (r.path.as_str(), r.version.as_str()),
        };
        map.entry((m.to_owned(), v.to_owned()))
            .or_insert_with(|| want(m, v, true));
    }
    Ok(map.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mvs(w: &[Want]) -> Vec<(String, String, bool, bool)> {
        w.iter()
            .map(|w| {
                (
                    w.module.clone(),
                    w.version.clone(),
                    w.zip,
                    w.invalid.is_some(),
                )
            })
            .collect()
    }

    #[test]
    fn gosum_lines() {
        let w = parse_gosum(
            "example.com/a v1.0.0 h1:zzz=\nexample.com/a v1.0.0/go.mod h1:mmm=\n\
             example.com/b v1.1.0/go.mod h1:bbb=\nexample.com/c v1.2 h1:x=\nbroken line\n",
        );
        assert_eq!(
            mvs(&w),
            [
                ("go.sum line 5".into(), "".into(), false, true),
                ("example.com/a".into(), "v1.0.0".into(), true, false),
                ("example.com/b".into(), "v1.1.0".into(), false, false),
                ("example.com/c".into(), "v1.2".into(), true, true),
            ]
        );
        assert_eq!(w[1].zip_sum.as_deref(), Some("h1:zzz="));
        assert_eq!(w[1].mod_sum.as_deref(), Some("h1:mmm="));
    }

    #[test]
    fn list_lines() {
        let w = parse_list(
            "# comment\nexample.com/main\nexample.com/a@v1.0.0\nexample.com/b v0.1.0\n\
             example.com/c v1.0.0 => example.com/d v1.1.0\nexample.com/e v1.0.0 => ../e\n\
             example.com/a@v1.0.0\n",
        );
        assert_eq!(
            mvs(&w),
            [
                ("example.com/a".into(), "v1.0.0".into(), true, false),
                ("example.com/b".into(), "v0.1.0".into(), true, false),
                ("example.com/d".into(), "v1.1.0".into(), true, false),
            ]
        );
    }

    #[test]
    fn gomod_requires_after_replace() {
        let w = parse_gomod(
            "go.mod",
            b"module example.com/app\n\ngo 1.21\n\nrequire (\n\texample.com/a v1.0.0\n\
              \texample.com/b v1.2.0 // indirect\n\texample.com/c v1.0.0\n)\n\n\
              replace example.com/b => example.com/bfork v1.2.1\nreplace example.com/c => ./c\n",
        )
        .unwrap();
        assert_eq!(
            mvs(&w),
            [
                ("example.com/a".into(), "v1.0.0".into(), true, false),
                ("example.com/bfork".into(), "v1.2.1".into(), true, false),
            ]
        );
    }

    #[test]
    fn detects_formats() {
        assert_eq!(detect("x/go.mod", b""), Format::Gomod);
        assert_eq!(detect("go.sum", b""), Format::Gosum);
        assert_eq!(
            detect("-", b"example.com/a v1.0.0 h1:abc=\n"),
            Format::Gosum
        );
        assert_eq!(
            detect("-", b"module example.com/x\nrequire example.com/a v1.0.0\n"),
            Format::Gomod
        );
        assert_eq!(detect("-", b"example.com/a@v1.0.0\n"), Format::List);
    }
}
