//! `gomirror mod`: build, hash and check module zips the way the go command
//! does, so that users and operators can reproduce any digest the mirror
//! records.

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use gomod::zip::CheckedFiles;
use serde_json::json;
use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ModCommand {
    /// Create a module zip from a directory; print its go.sum lines.
    ///
    /// The zip holds exactly the files the go command would put in it
    /// (version-control directories, vendor trees, nested modules, symlinks
    /// and irregular files are left out; invalid names and oversized files
    /// are errors). The go.mod line hashes the tree's go.mod, or the go.mod
    /// the go command synthesises when there is none.
    Zip {
        /// The module's root directory.
        dir: PathBuf,
        /// `<module path>@<version>`, e.g. `example.com/m@v1.2.3`.
        module: String,
        /// Where to write the zip (written atomically: whole or not at all).
        #[arg(short, long)]
        output: PathBuf,
        /// Print one JSON object instead of go.sum lines.
        #[arg(long)]
        json: bool,
    },
    /// Print the go.sum `h1:` line of a module zip or a go.mod file.
    ///
    /// A file that starts like a zip is hashed as the module zip; anything
    /// else is hashed as the module's go.mod.
    Hash {
        /// A module zip or a go.mod file.
        file: PathBuf,
        /// `<module path>@<version>`, used for the printed go.sum line.
        module: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check a module zip (or a directory) by the go command's rules.
    ///
    /// Lists valid, omitted and invalid files with reasons; exits 1 when
    /// anything is invalid or a size limit is exceeded.
    Check {
        /// A module zip, or a directory to check before zipping it.
        file: PathBuf,
        /// `<module path>@<version>`: required for a zip.
        module: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `gomirror mod` subcommand.
pub fn run(cmd: ModCommand) -> ExitCode {
    let json = match &cmd {
        ModCommand::Zip { json, .. }
        | ModCommand::Hash { json, .. }
        | ModCommand::Check { json, .. } => *json,
    };
    let result = match cmd {
        ModCommand::Zip {
            dir,
            module,
            output,
            json,
        } => zip_cmd(&dir, &module, &output, json),
        ModCommand::Hash { file, module, json } => hash_cmd(&file, &module, json),
        ModCommand::Check { file, module, json } => check_cmd(&file, module.as_deref(), json),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if json {
                println!("{}", json!({ "error": format!("{e:#}") }));
            } else {
                eprintln!("gomirror: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Splits `path@version` and checks both with the go command's rules
/// (`module.Check`): a valid module path, a canonical version, and a
/// major version that fits the path's suffix.
fn parse_module_version(s: &str) -> Result<(String, String)> {
    let (path, version) = s
        .split_once('@')
        .ok_or_else(|| anyhow!("{s:?}: expected <module path>@<version>"))?;
    gomod::module::check(path, version).map_err(|e| anyhow!("{e}"))?;
    Ok((path.to_owned(), version.to_owned()))
}

fn zip_cmd(dir: &Path, module: &str, output: &Path, json: bool) -> Result<ExitCode> {
    let (path, version) = parse_module_version(module)?;
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let out_dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".gomirror-zip-")
        .suffix(".tmp")
        .tempfile_in(&out_dir)
        .with_context(|| format!("creating a temporary file in {}", out_dir.display()))?;
    gomod::zip::create_from_dir(tmp.as_file_mut(), &path, &version, dir).with_context(|| {
        format!(
            "creating the zip of {path}@{version} from {}",
            dir.display()
        )
    })?;
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all().context("syncing the zip")?;
    // Hash what was written, read back from disk.
    let mut f = tmp.reopen().context("reopening the zip")?;
    let size = f.seek(std::io::SeekFrom::End(0))?;
    f.rewind()?;
    // Check and hash what was written, read back from disk. The go.mod
    // line hashes the go.mod inside the zip (what a proxy serves as .mod),
    // or the one the go command synthesises when the zip has none.
    let summary = gomod::zip::check_and_hash_zip(&path, &version, BufReader::new(f))
        .context("checking the new zip")?;
    summary
        .checked
        .err()
        .context("the new zip does not pass the module zip check")?;
    let h1 = summary.h1.context("the new zip was not hashed")?;
    let gomod_bytes = summary
        .go_mod
        .unwrap_or_else(|| gomod::modfile::synthesize_go_mod(&path));
    let gomod_h1 = gomod::dirhash::hash_go_mod(&gomod_bytes);
    tmp.persist(output)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming the zip to {}", output.display()))?;
    if json {
        println!(
            "{}",
            json!({
                "module": path, "version": version, "zip": output, "size": size,
                "h1": h1, "gomod_h1": gomod_h1,
                "gosum": [format!("{path} {version} {h1}"), format!("{path} {version}/go.mod {gomod_h1}")],
            })
        );
    } else {
        println!("{path} {version} {h1}");
        println!("{path} {version}/go.mod {gomod_h1}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the file begins with a zip signature (a local file header, or
/// the end-of-central-directory record of an empty zip).
fn looks_like_zip(file: &Path) -> Result<bool> {
    let mut magic = [0u8; 4];
    let mut f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let n = f.read(&mut magic)?;
    Ok(n == 4 && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06"))
}

fn hash_cmd(file: &Path, module: &str, json: bool) -> Result<ExitCode> {
    let (path, version) = parse_module_version(module)?;
    let (kind, line_version, h1) = if looks_like_zip(file)? {
        let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let h1 = gomod::dirhash::hash_zip(BufReader::new(f))
            .with_context(|| format!("hashing {}", file.display()))?;
        ("zip", version.clone(), h1)
    } else {
        let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        (
            "mod",
            format!("{version}/go.mod"),
            gomod::dirhash::hash_go_mod(&data),
        )
    };
    if json {
        println!(
            "{}",
            json!({"module": path, "version": version, "kind": kind, "h1": h1, "gosum": format!("{path} {line_version} {h1}")})
        );
    } else {
        println!("{path} {line_version} {h1}");
    }
    Ok(ExitCode::SUCCESS)
}

fn check_cmd(file: &Path, module: Option<&str>, json: bool) -> Result<ExitCode> {
    let (what, result) = if file.is_dir() {
        (file.display().to_string(), gomod::zip::check_dir(file))
    } else {
        let module =
            module.ok_or_else(|| anyhow!("checking a zip needs <module path>@<version>"))?;
        let (path, version) = parse_module_version(module)?;
        let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
        (
            format!("{path}@{version}"),
            gomod::zip::check_zip(&path, &version, f),
        )
    };
    let (cf, err) = match result {
        Ok(cf) => {
            let err = cf.err().err().map(|e| e.to_string());
            (cf, err)
        }
        Err(e) => (CheckedFiles::default(), Some(e.to_string())),
    };
    if json {
        let fe = |v: &[gomod::zip::FileError]| -> Vec<serde_json::Value> {
            v.iter()
                .map(|f| json!({"path": f.path, "err": f.kind.to_string()}))
                .collect()
        };
        println!(
            "{}",
            json!({
                "valid": cf.valid, "omitted": fe(&cf.omitted), "invalid": fe(&cf.invalid),
                "size_error": cf.size_error.as_ref().map(|e| e.to_string()),
                "error": err,
            })
        );
    } else {
        for p in &cf.valid {
            println!("valid    {p}");
        }
        for f in &cf.omitted {
            println!("omitted  {}: {}", f.path, f.kind);
        }
        for f in &cf.invalid {
            println!("invalid  {}: {}", f.path, f.kind);
        }
        match &err {
            None => println!("{what}: ok ({} files)", cf.valid.len()),
            Some(e) => println!("{what}: INVALID: {e}"),
        }
    }
    Ok(if err.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
