//! Air-gapped transfer: `gomirror export` writes stored module versions,
//! their records and the checksum-database proofs that verify them offline
//! into one tar file; `gomirror import` on a machine with no network checks
//! everything in it — the proofs with the database's key (GOSUMDB), every
//! object against the manifest and against its proven `h1:` — before it
//! keeps anything, refuses an altered bundle naming the object and why,
//! then admits each object through the normal door.
//!
//! Layout: `gomirror-bundle.json` (the manifest: each version's files with
//! size and sha256), `sumdb/latest`, `sumdb/lookup/<module>@<version>`,
//! `sumdb/tile/8/...`, `objects/<module>/@v/<version>.<ext>` (escaped
//! paths, a GOPROXY tree).

use crate::cli::config::{ServeFlags, StoreFlags};
use crate::mirror::Mirror;
use crate::protocol::{parse_versioned_key, versioned_key, FileKind};
use crate::sumdb::Proofs;
use crate::upstream::Chain;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

const MANIFEST: &str = "gomirror-bundle.json";
const FORMAT: u32 = 1;

/// Arguments of `gomirror export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The bundle to write (a tar file).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Only versions first admitted at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only module paths matching these globs (comma-separated, as GOPRIVATE).
    #[arg(long, value_name = "GLOBS")]
    pub modules: Option<String>,
    /// The size of the checksum-database tree the importing mirror keeps
    /// (`gomirror import` names it when it needs it): the bundle then
    /// proves its tree extends that one.
    #[arg(long, value_name = "SIZE")]
    pub consistent_with: Option<u64>,
    #[command(flatten)]
    pub store: StoreFlags,
}

/// Arguments of `gomirror import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The bundle to read (written by `gomirror export`).
    pub bundle: PathBuf,
    #[command(flatten)]
    pub store: StoreFlags,
}

/// The manifest: what the bundle holds.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    /// The checksum database whose proofs are included, if any.
    sumdb: Option<String>,
    versions: Vec<VersionEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct VersionEntry {
    path: String,
    version: String,
    /// `info`, `mod`, `zip` → the file's size and sha256.
    files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileEntry {
    size: u64,
    sha256: String,
    /// The exporting mirror's record of the file (where it came from, when
    /// it was admitted, its `h1:`): for the reader; the importing mirror
    /// makes its own records through admission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    record: Option<crate::record::Meta>,
}

impl FileEntry {
    /// The same bytes as `other` says (size and sha256).
    fn same_bytes(&self, other: &FileEntry) -> bool {
        self.size == other.size && self.sha256 == other.sha256
    }
}

fn runtime_and_mirror(
    store: &StoreFlags,
) -> Result<(tokio::runtime::Runtime, Arc<Mirror>, PathBuf)> {
    let (rt, mirror, cfg) = crate::cli::serve::tool_mirror(&ServeFlags {
        store: store.clone(),
        ..Default::default()
    })?;
    Ok((rt, mirror, cfg.data_dir))
}

fn kinds() -> [(FileKind, &'static str); 3] {
    [
        (FileKind::Info, "info"),
        (FileKind::Mod, "mod"),
        (FileKind::Zip, "zip"),
    ]
}

/// Where a version's file sits in the bundle.
fn object_path(module: &str, version: &str, ext: FileKind) -> Result<String> {
    Ok(format!("objects/{}", versioned_key(module, version, ext)?))
}

/// Runs `gomirror export`.
pub fn export(args: ExportArgs) -> ExitCode {
    match run_export(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gomirror export: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_export(args: ExportArgs) -> Result<()> {
    let since = args
        .since
        .as_deref()
        .map(crate::index::parse_stamp)
        .transpose()
        .map_err(|e| anyhow!("--since: {e}"))?;
    let (rt, mirror, _) = runtime_and_mirror(&args.store)?;
    let started = Instant::now();
    rt.block_on(async {
        // What is stored, by version, with each version's first admission.
        let mut found: BTreeMap<(String, String), VersionEntry> = BTreeMap::new();
        let mut first: BTreeMap<(String, String), crate::index::Stamp> = BTreeMap::new();
        let mut visit = |key: &str, m: &crate::record::Meta| {
            let Some((p, v, kind)) = parse_versioned_key(key) else {
                return;
            };
            let e = found.entry((p.clone(), v.clone())).or_insert(VersionEntry {
                path: p.clone(),
                version: v.clone(),
                files: BTreeMap::new(),
            });
            e.files.insert(
                kind.as_str().to_owned(),
                FileEntry {
                    size: m.size,
                    sha256: m.sha256.clone(),
                    record: Some(m.clone()),
                },
            );
            let t = first.entry((p, v)).or_insert(m.admitted());
            *t = (*t).min(m.admitted());
        };
        mirror.store().visit_records("", &mut visit).await?;
        let versions: Vec<VersionEntry> = found
            .into_iter()
            .filter(|((p, v), _)| {
                args.modules
                    .as_deref()
                    .is_none_or(|g| gomod::glob::match_prefix_patterns(g, p))
                    && since.is_none_or(|s| first[&(p.clone(), v.clone())] >= s)
            })
            .map(|(_, e)| e)
            .collect();
        // The proofs of every version the checksum database vouches for.
        let db = mirror.sumdb().cloned();
        let proofs = match &db {
            Some(db) => {
                let wanted: Vec<(String, String)> = versions
                    .iter()
                    .filter(|e| {
                        !mirror.sumdb_skips(&e.path)
                            && (e.files.contains_key("mod") || e.files.contains_key("zip"))
                    })
                    .map(|e| (e.path.clone(), e.version.clone()))
                    .collect();
                Some(db.bundle_proofs(&wanted, args.consistent_with).await?)
            }
            None => None,
        };
        let manifest = Manifest {
            format: FORMAT,
            sumdb: db.as_ref().map(|d| d.cfg.name.clone()),
            versions,
        };
        let tmp = args.output.with_extension("partial");
        let out = std::fs::File::create(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
        let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
        append(&mut tar, MANIFEST, &manifest_bytes)?;
        let (mut answers, mut tiles) = (0, 0);
        if let Some(p) = &proofs {
            append(&mut tar, "sumdb/latest", &p.latest)?;
            for (q, b) in &p.answers {
                append(&mut tar, &format!("sumdb/{q}"), b)?;
                answers += 1;
            }
            for (t, b) in &p.tiles {
                append(&mut tar, &format!("sumdb/{t}"), b)?;
                tiles += 1;
            }
        }
        let (mut objects, mut bytes) = (0u64, 0u64);
        let dir = args.output.parent().unwrap_or(Path::new(".")).to_owned();
        for e in &manifest.versions {
            for (kind, ext) in kinds() {
                let Some(f) = e.files.get(ext) else { continue };
                // Read through verification: a rotten copy is not exported.
                let obj = mirror
                    .versioned_via(Some(Chain::parse("off")?), &e.path, &e.version, kind)
                    .await
                    .map_err(|err| anyhow!("{}@{}.{ext}: {err}", e.path, e.version))?;
                if obj.meta().sha256 != f.sha256 {
                    bail!("{}@{}.{ext} changed during the export", e.path, e.version);
                }
                let mut body = mirror.body(obj, None);
                let mut staged = tempfile::tempfile_in(&dir)?;
                while let Some(chunk) = body.next().await {
                    staged.write_all(&chunk.with_context(|| format!("reading {}@{}.{ext}", e.path, e.version))?)?;
                }
                staged.flush()?;
                use std::io::Seek;
                staged.rewind()?;
                let mut h = tar::Header::new_gnu();
                h.set_size(f.size);
                h.set_mode(0o644);
                h.set_mtime(0);
                tar.append_data(&mut h, object_path(&e.path, &e.version, kind)?, staged)?;
                objects += 1;
                bytes += f.size;
            }
        }
        let w = tar.into_inner()?;
        w.into_inner()
            .map_err(|e| anyhow!("writing {}: {}", tmp.display(), e.error()))?
            .sync_all()?;
        std::fs::rename(&tmp, &args.output)
            .with_context(|| format!("renaming {} to {}", tmp.display(), args.output.display()))?;
        println!(
            "exported {} versions ({objects} objects, {bytes} bytes) with {answers} checksum-database answers and {tiles} tiles to {} in {:.2} s",
            manifest.versions.len(),
            args.output.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })
}

fn append<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    tar.append_data(&mut h, path, data)?;
    Ok(())
}

/// Runs `gomirror import`.
pub fn import(args: ImportArgs) -> ExitCode {
    match run_import(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("gomirror import: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What a bundle holds, read and checked for shape.
struct Unpacked {
    manifest: Manifest,
    proofs: Proofs,
    /// The GOPROXY tree the objects were written to.
    objects: tempfile::TempDir,
}

/// Reads the bundle: every entry must be the manifest, checksum-database
/// state or an object the manifest lists (with its size and sha256).
fn unpack(path: &Path, staging: &Path) -> Result<Unpacked> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut ar = tar::Archive::new(std::io::BufReader::new(f));
    let objects = tempfile::Builder::new()
        .prefix("import-")
        .tempdir_in(staging)
        .context("creating the import staging directory")?;
    let mut manifest: Option<Manifest> = None;
    let mut proofs = Proofs::default();
    let mut got: BTreeMap<String, FileEntry> = BTreeMap::new();
    for entry in ar.entries().context("reading the bundle")? {
        let mut entry = entry.context("reading the bundle")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let size = entry.header().size()?;
        let small = |limit: u64| -> Result<()> {
            if size > limit {
                bail!("{name}: {size} bytes, more than such an entry can hold ({limit})");
            }
            Ok(())
        };
        if name == MANIFEST {
            small(64 << 20)?;
            let mut b = vec![];
            entry.read_to_end(&mut b)?;
            manifest = Some(
                serde_json::from_slice(&b)
                    .with_context(|| format!("{name}: not a gomirror bundle manifest"))?,
            );
        } else if let Some(rest) = name.strip_prefix("sumdb/") {
            small(1 << 20)?;
            let mut b = vec![];
            entry.read_to_end(&mut b)?;
            if rest == "latest" {
                proofs.latest = b;
            } else if rest.starts_with("lookup/") {
                proofs.answers.insert(rest.to_owned(), b);
            } else if rest.starts_with("tile/") {
                proofs.tiles.insert(rest.to_owned(), b);
            } else {
                bail!("{name}: an unexpected entry (not a checksum-database answer or tile)");
            }
        } else if let Some(key) = name.strip_prefix("objects/") {
            let (_, _, kind) = parse_versioned_key(key).ok_or_else(|| {
                anyhow!("{name}: an unexpected entry (not a module's .info, .mod or .zip)")
            })?;
            small(crate::admit::max_size(kind))?;
            let dest = objects.path().join(key);
            std::fs::create_dir_all(dest.parent().expect("under the staging directory"))?;
            let mut out = std::fs::File::create(&dest)?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 256 << 10];
            loop {
                let n = entry.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                out.write_all(&buf[..n])?;
            }
            got.insert(
                name.clone(),
                FileEntry {
                    size,
                    sha256: hex::encode(h.finalize()),
                    record: None,
                },
            );
        } else {
            bail!("{name}: an unexpected entry");
        }
    }
    let manifest = manifest.ok_or_else(|| anyhow!("no {MANIFEST}: not a gomirror bundle"))?;
    if manifest.format != FORMAT {
        bail!(
            "bundle format {} (this gomirror reads {FORMAT})",
            manifest.format
        );
    }
    // The manifest and the objects agree, both ways.
    let mut listed = BTreeMap::new();
    for e in &manifest.versions {
        gomod::module::check(&e.path, &e.version)
            .map_err(|err| anyhow!("{}@{}: {err}", e.path, e.version))?;
        for (kind, ext) in kinds() {
            if let Some(f) = e.files.get(ext) {
                listed.insert(object_path(&e.path, &e.version, kind)?, (e, ext, f));
            }
        }
        if let Some(x) = e
            .files
            .keys()
            .find(|x| !matches!(x.as_str(), "info" | "mod" | "zip"))
        {
            bail!(
                "{}@{}: an unexpected file kind {x:?} in the manifest",
                e.path,
                e.version
            );
        }
    }
    for name in got.keys() {
        if !listed.contains_key(name) {
            bail!("{name}: an extra object, not in the manifest");
        }
    }
    for (name, (e, ext, f)) in &listed {
        match got.get(name) {
            None => bail!("{}@{}.{ext}: missing from the bundle", e.path, e.version),
            Some(g) if !g.same_bytes(f) => bail!(
                "{}@{}.{ext}: {} bytes with sha256 {}, the manifest says {} bytes with sha256 {} (altered)",
                e.path,
                e.version,
                g.size,
                g.sha256,
                f.size,
                f.sha256
            ),
            Some(_) => {}
        }
    }
    Ok(Unpacked {
        manifest,
        proofs,
        objects,
    })
}

fn run_import(args: ImportArgs) -> Result<bool> {
    let (rt, mirror, data_dir) = runtime_and_mirror(&args.store)?;
    let started = Instant::now();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let u = unpack(&args.bundle, &data_dir)?;
    rt.block_on(async {
        // Every proof checked, and every object against its proven h1:,
        // before anything is kept.
        let db = mirror.sumdb().cloned();
        let mut checked = None;
        if let Some(db) = &db {
            if !u.proofs.latest.is_empty() || !u.proofs.answers.is_empty() {
                let kept = db.kept_tree().await;
                let (vouches, c) = db
                    .check_proofs(&u.proofs, kept)
                    .map_err(|e| anyhow!("refused: {e}"))?;
                checked = Some((vouches, c));
            }
            let vouches = checked.as_ref().map(|(v, _)| v);
            for e in &u.manifest.versions {
                if mirror.sumdb_skips(&e.path)
                    || !(e.files.contains_key("mod") || e.files.contains_key("zip"))
                {
                    continue;
                }
                let mv = format!("{}@{}", e.path, e.version);
                let Some(v) = vouches.and_then(|v| v.get(&mv)) else {
                    bail!("refused: {mv}: no checksum-database proof in the bundle ({} vouches for it)", db.cfg.name);
                };
                for (kind, ext) in [(FileKind::Mod, "mod"), (FileKind::Zip, "zip")] {
                    if !e.files.contains_key(ext) {
                        continue;
                    }
                    let file = u.objects.path().join(versioned_key(&e.path, &e.version, kind)?);
                    let (h1, want) = if kind == FileKind::Zip {
                        let f = std::fs::File::open(&file)?;
                        let h1 = gomod::dirhash::hash_zip(f)
                            .map_err(|err| anyhow!("refused: {mv}.zip: {err}"))?;
                        (h1, v.zip.as_deref())
                    } else {
                        (gomod::dirhash::hash_go_mod(&std::fs::read(&file)?), v.gomod.as_deref())
                    };
                    if want != Some(h1.as_str()) {
                        bail!(
                            "refused: {mv}.{ext}: {h1}, but the bundle's proof from {} says {}",
                            db.cfg.name,
                            want.unwrap_or("nothing")
                        );
                    }
                }
            }
        } else if !u.proofs.answers.is_empty() {
            eprintln!(
                "gomirror import: warning: the bundle carries proofs from {}, but no checksum database is configured here (GOSUMDB): they are not checked",
                u.manifest.sumdb.as_deref().unwrap_or("a checksum database")
            );
        }
        // Keep the proofs (so /sumdb/ is answered offline), then admit
        // each object through the normal door, from the unpacked tree.
        if let (Some(db), Some((vouches, c))) = (&db, checked) {
            db.keep_proofs(&u.proofs, c, vouches, "bundle")
                .await
                .map_err(|e| anyhow!("keeping the proofs: {e}"))?;
        }
        let root = u.objects.path().canonicalize()?;
        let via = Chain::parse(&format!("file://{}", root.display()))?;
        // Versions in parallel (8 at a time), each version's files in order.
        let results: Vec<(usize, usize, Vec<String>)> =
            futures_util::stream::iter(u.manifest.versions.iter().cloned())
                .map(|e| {
                    let (mirror, via) = (mirror.clone(), via.clone());
                    async move {
                        let (mut admitted, mut cached, mut failed) = (0, 0, vec![]);
                        for (kind, ext) in kinds() {
                            if !e.files.contains_key(ext) {
                                continue;
                            }
                            let Ok(key) = versioned_key(&e.path, &e.version, kind) else {
                                continue;
                            };
                            if let Ok(Some(_)) = mirror.store().meta(&key).await {
                                cached += 1;
                                continue;
                            }
                            match mirror
                                .versioned_via(Some(via.clone()), &e.path, &e.version, kind)
                                .await
                            {
                                Ok(_) => admitted += 1,
                                Err(err) => {
                                    failed.push(format!("{}@{}.{ext}: {err}", e.path, e.version))
                                }
                            }
                        }
                        (admitted, cached, failed)
                    }
                })
                .buffer_unordered(8)
                .collect()
                .await;
        let admitted: usize = results.iter().map(|r| r.0).sum();
        let cached: usize = results.iter().map(|r| r.1).sum();
        let failed: Vec<String> = results.into_iter().flat_map(|r| r.2).collect();
        println!(
            "imported {} versions from {}: {admitted} objects admitted, {cached} already stored, {} refused ({:.2} s)",
            u.manifest.versions.len(),
            args.bundle.display(),
            failed.len(),
            started.elapsed().as_secs_f64()
        );
        for f in &failed {
            println!("  refused: {f}");
        }
        Ok(failed.is_empty())
    })
}
