//! `gomirror sumdb keygen`: the key pair of the mirror's own checksum
//! database.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use gomod::note;
use gomod::tlog::{self, Tile, Tree};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

/// `gomirror sumdb ...`.
#[derive(Debug, Subcommand)]
pub enum SumdbCommand {
    /// Write a new signer key to FILE (mode 0600, never over an existing
    /// file) and print the verifier key — the value clients put in GOSUMDB
    /// — as the only line on standard output.
    Keygen {
        /// The database's name (e.g. sum.corp.example).
        #[arg(long)]
        name: String,
        /// Where the signer key goes.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check a mirror's checksum database: its signed head verifies with
    /// the key and extends the last head seen (kept in --state); a sample
    /// of its records matches the content the mirror serves. Exit 1 on a
    /// fork or a mismatch, naming both heads or the version.
    Audit {
        /// The mirror (its GOPROXY URL).
        #[arg(long, value_name = "URL")]
        url: String,
        /// The database's verifier key (what clients put in GOSUMDB).
        #[arg(long, value_name = "VKEY", env = "GOSUMDB")]
        key: String,
        /// Where the last head seen is kept between audits.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Records checked against the served content.
        #[arg(long, default_value_t = 10)]
        sample: u64,
    },
}

/// Runs `gomirror sumdb ...`.
pub fn run(cmd: SumdbCommand) -> ExitCode {
    match cmd {
        SumdbCommand::Keygen { name, out } => match keygen(&name, &out) {
            Ok(vkey) => {
                println!("{vkey}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gomirror sumdb keygen: {e:#}");
                ExitCode::FAILURE
            }
        },
        SumdbCommand::Audit {
            url,
            key,
            state,
            sample,
        } => {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("gomirror sumdb audit: starting the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(audit(&url, &key, state.as_deref(), sample)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gomirror sumdb audit: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Reads tiles over HTTP from a blocking thread (for `tlog`'s readers).
struct HttpTiles {
    base: String,
    http: reqwest::Client,
    handle: tokio::runtime::Handle,
}

impl tlog::TileReader for HttpTiles {
    fn height(&self) -> u32 {
        8
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        tiles
            .iter()
            .map(|t| {
                self.handle
                    .block_on(get(&self.http, &format!("{}/{}", self.base, t.path())))
                    .map_err(|e| tlog::Error::reader(format!("{e:#}")))
            })
            .collect()
    }
    fn save_tiles(&self, _tiles: &[tlog::CheckedTile]) {}
}

async fn get(http: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let r = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if !r.status().is_success() {
        bail!("GET {url}: {}", r.status());
    }
    Ok(r.bytes()
        .await
        .with_context(|| format!("GET {url}"))?
        .to_vec())
}

/// Runs `tlog` work that reads tiles over HTTP on a blocking thread.
async fn with_tiles<T: Send + 'static>(
    base: &str,
    http: &reqwest::Client,
    f: impl FnOnce(&HttpTiles) -> Result<T> + Send + 'static,
) -> Result<T> {
    let tiles = HttpTiles {
        base: base.to_owned(),
        http: http.clone(),
        handle: tokio::runtime::Handle::current(),
    };
    tokio::task::spawn_blocking(move || f(&tiles)).await?
}

async fn audit(url: &str, vkey: &str, state: Option<&std::path::Path>, sample: u64) -> Result<()> {
    let url = url.trim_end_matches('/');
    let verifiers = note::VerifierList::from_keys([vkey]).context("--key")?;
    let name = vkey.split('+').next().unwrap_or_default();
    let base = format!("{url}/sumdb/{name}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let signed = get(&http, &format!("{base}/latest")).await?;
    let open = |b: &[u8]| -> Result<Tree> {
        let n = note::open(b, &verifiers).map_err(|e| anyhow::anyhow!("signed head: {e}"))?;
        Ok(tlog::parse_tree(n.text.as_bytes())?)
    };
    let tree = open(&signed).with_context(|| format!("{base}/latest"))?;
    let show = |t: &Tree| format!("{} records, hash {}", t.n, t.hash);
    // Consistent with the last head seen.
    let old = match state {
        Some(p) if p.exists() => Some(
            open(&std::fs::read(p)?)
                .with_context(|| format!("the kept head in {}", p.display()))?,
        ),
        _ => None,
    };
    if let Some(old) = old {
        let fork = |why: String| {
            anyhow::anyhow!(
                "FORK: the log's head ({}) does not extend the last head seen ({}): {why}",
                show(&tree),
                show(&old)
            )
        };
        if old.n > tree.n {
            return Err(fork("it is shorter".into()));
        }
        if old.n == tree.n && old.hash != tree.hash {
            return Err(fork("same size, other hash".into()));
        }
        if old.n > 0 && old.n < tree.n {
            let proof = with_tiles(&base, &http, move |t| {
                Ok(tlog::prove_tree(
                    tree.n,
                    old.n,
                    &tlog::TileHashReader::new(tree, t),
                )?)
            })
            .await
            .map_err(|e| fork(format!("{e:#}")))?;
            tlog::check_tree(&proof, tree.n, tree.hash, old.n, old.hash)
                .map_err(|e| fork(e.to_string()))?;
        }
    }
    // A sample of records, each proven in the tree and compared with the
    // content the mirror serves.
    let mut ids: Vec<u64> = (0..sample.min(tree.n))
        .map(|i| i * tree.n / sample.min(tree.n).max(1))
        .collect();
    if tree.n > 0 {
        ids.push(tree.n - 1);
    }
    ids.sort_unstable();
    ids.dedup();
    for &id in &ids {
        let first = id >> 8 << 8;
        let w = (tree.n - first).min(256) as u32;
        let t = Tile {
            h: 8,
            l: -1,
            n: id >> 8,
            w,
        };
        let data = get(&http, &format!("{base}/{}", t.path())).await?;
        let text = String::from_utf8_lossy(&data);
        let rec = text
            .split("\n\n")
            .nth((id - first) as usize)
            .ok_or_else(|| anyhow::anyhow!("record {id} is not in its data tile"))?;
        let rec = format!("{rec}\n");
        let hash = tlog::record_hash(rec.as_bytes());
        with_tiles(&base, &http, move |t| {
            let proof = tlog::prove_record(tree.n, id, &tlog::TileHashReader::new(tree, t))?;
            Ok(tlog::check_record(&proof, tree.n, tree.hash, id, hash)?)
        })
        .await
        .with_context(|| format!("record {id} is not in the signed tree"))?;
        let lines = tlog::parse_sum_lines(rec.as_bytes())?;
        for l in lines {
            let (version, ext) = match l.version.strip_suffix("/go.mod") {
                Some(v) => (v, "mod"),
                None => (l.version, "zip"),
            };
            let p = gomod::module::escape_path(l.path)?;
            let v = gomod::module::escape_version(version)?;
            let body = get(&http, &format!("{url}/{p}/@v/{v}.{ext}")).await?;
            let h1 = if ext == "zip" {
                gomod::dirhash::hash_zip(std::io::Cursor::new(&body))?
            } else {
                gomod::dirhash::hash_go_mod(&body)
            };
            if h1 != l.hash {
                bail!(
                    "MISMATCH: {}@{version}.{ext} is served as {h1}, the log (record {id}) has {}",
                    l.path,
                    l.hash
                );
            }
        }
    }
    if let Some(p) = state {
        let tmp = p.with_extension("partial");
        std::fs::write(&tmp, &signed)?;
        std::fs::rename(&tmp, p)?;
    }
    println!(
        "{name}: {}; consistent with the last head seen{}; {} records match the served content",
        show(&tree),
        match old {
            Some(o) => format!(" ({})", show(&o)),
            None => " (none kept)".into(),
        },
        ids.len()
    );
    Ok(())
}

fn keygen(name: &str, out: &PathBuf) -> Result<String> {
    if !gomod::note::is_valid_name(name) {
        bail!("--name {name:?}: not a valid key name");
    }
    let (skey, vkey) = gomod::note::generate_key(name).context("generating the key")?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "creating {} (an existing file is never replaced)",
                out.display()
            )
        })?;
    f.write_all(format!("{skey}\n").as_bytes())?;
    f.sync_all()?;
    Ok(vkey)
}
