//! The module zip, built from `git archive` of the module's directory.

use super::versions::Rev;
use super::{failed, Repo};
use crate::upstream::FetchError;

/// Largest LICENSE copied from the repository root into a subdirectory
/// module's zip.
const MAX_LICENSE: u64 = 16 << 20;
/// Largest total of file sizes read for one zip.
pub(super) const MAX_TREE: u64 = 500 << 20;

/// One file of a tree read from git.
struct GitFile {
    path: String,
    kind: gomod::zip::FileKind,
    data: Vec<u8>,
    size: u64,
}

impl gomod::zip::File for GitFile {
    fn path(&self) -> &str {
        &self.path
    }
    fn lstat(&self) -> std::io::Result<gomod::zip::FileInfo> {
        Ok(gomod::zip::FileInfo {
            kind: self.kind,
            size: self.size,
        })
    }
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        Ok(Box::new(&self.data[..]))
    }
}

impl Repo<'_> {
    /// The module zip: the tree at `hash` under the module directory as
    /// `git archive` exports it (read as a tar), so end-of-line conversion
    /// by `.gitattributes` applies but `export-ignore` and `export-subst`
    /// do not (`info/attributes` turns them off), as for the go command;
    /// plus the root LICENSE for a module in a subdirectory that
    /// has none, written by [`gomod::zip::create`].
    pub(super) async fn zip(&self, rev: &Rev) -> Result<Vec<u8>, FetchError> {
        let (version, hash, dir) = (rev.version.as_str(), rev.hash.as_str(), rev.dir.clone());
        let mut args: Vec<&str> = vec![
            "-c",
            "core.autocrlf=input",
            "-c",
            "core.eol=lf",
            "archive",
            "--format=tar",
            "--prefix=prefix/",
            hash,
        ];
        if !dir.is_empty() {
            args.push("--");
            args.push(&dir);
        }
        // Bound the work (and memory) before exporting: the blobs under the
        // module directory must fit the unzipped-size limit.
        let mut ls: Vec<&str> = vec!["ls-tree", "-r", "-z", "--long", hash];
        let spec = format!("{dir}/");
        if !dir.is_empty() {
            ls.push("--");
            ls.push(&spec);
        }
        let listing = self
            .git(&ls)
            .await?
            .ok_or_else(|| failed(format!("git ls-tree {hash} failed")))?;
        let mut total = 0u64;
        for rec in listing.split(|&b| b == 0) {
            let meta = rec.split(|&b| b == b'\t').next().unwrap_or_default();
            let meta = String::from_utf8_lossy(meta);
            let f: Vec<&str> = meta.split_whitespace().collect();
            if f.len() >= 4 && f[1] == "blob" && f[0] != "120000" {
                total = total.saturating_add(f[3].parse().unwrap_or(0));
            }
        }
        if total > MAX_TREE {
            return Err(failed(format!(
                "{}@{version}: module source tree too large (max size is {MAX_TREE} bytes)",
                self.module
            )));
        }
        let archive = self
            .git(&args)
            .await?
            .ok_or_else(|| failed(format!("git archive {hash} failed")))?;
        let license = if dir.is_empty() {
            None
        } else {
            self.read_file(hash, "LICENSE", MAX_LICENSE).await?
        };
        let module = self.module.clone();
        let version = version.to_owned();
        tokio::task::spawn_blocking(move || {
            let files = archive_files(&archive, &dir, license, &module, &version)?;
            let mut out = std::io::Cursor::new(Vec::new());
            gomod::zip::create(&mut out, &module, &version, &files)
                .map(|_| out.into_inner())
                .map_err(|e| failed(format!("{module}@{version}: {e}")))
        })
        .await
        .map_err(|e| failed(format!("building zip: {e}")))?
    }
}

/// The files of a `git archive --format=tar --prefix=prefix/` under
/// `dir`, relative to it; `license` is added as `LICENSE` if there is none.
///
/// The tar is read with the `tar` crate, entry by entry as git writes them
/// (raw: no GNU long-name records, which git does not write): pax extended
/// headers (`x`) give long paths to the entry after them, and the global
/// header (`g`) git writes first is skipped.
fn archive_files(
    archive: &[u8],
    dir: &str,
    license: Option<Vec<u8>>,
    module: &str,
    version: &str,
) -> Result<Vec<GitFile>, FetchError> {
    use std::io::Read;
    let bad = |what: &dyn std::fmt::Display| {
        failed(format!("{module}@{version}: reading git archive: {what}"))
    };
    let prefix = if dir.is_empty() {
        "prefix/".to_owned()
    } else {
        format!("prefix/{dir}/")
    };
    let mut total = 0u64;
    let mut files = vec![];
    let mut have_license = false;
    let mut pax_path: Option<Vec<u8>> = None;
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().map_err(|e| bad(&e))?.raw(true) {
        let mut entry = entry.map_err(|e| bad(&e))?;
        let flag = entry.header().entry_type().as_byte();
        let size = entry.size();
        let mut data = vec![];
        entry.read_to_end(&mut data).map_err(|e| bad(&e))?;
        if data.len() as u64 != size {
            return Err(bad(&"truncated"));
        }
        match flag {
            b'g' => continue,
            b'x' => {
                for rec in tar::PaxExtensions::new(&data) {
                    let rec = rec.map_err(|_| bad(&"pax"))?;
                    if rec.key_bytes() == b"path" {
                        pax_path = Some(rec.value_bytes().to_vec());
                    }
                }
                continue;
            }
            _ => {}
        }
        let name = match pax_path.take() {
            Some(p) => p,
            None => entry.header().path_bytes().into_owned(),
        };
        let name = String::from_utf8(name).map_err(|e| {
            failed(format!(
                "{module}@{version}: file name {:?} is not UTF-8",
                String::from_utf8_lossy(e.as_bytes())
            ))
        })?;
        let Some(rel) = name.strip_prefix(&prefix) else {
            continue;
        };
        if rel.is_empty() || rel.ends_with('/') || flag == b'5' {
            continue;
        }
        let kind = match flag {
            b'0' | 0 => gomod::zip::FileKind::Regular,
            b'2' => gomod::zip::FileKind::Symlink,
            _ => gomod::zip::FileKind::Other,
        };
        let mut content = vec![];
        if kind == gomod::zip::FileKind::Regular {
            total = total.saturating_add(size);
            if total > MAX_TREE {
                return Err(failed(format!(
                    "{module}@{version}: module source tree too large (max size is {MAX_TREE} bytes)"
                )));
            }
            content = data;
        }
        if rel == "LICENSE" {
            have_license = true;
        }
        files.push(GitFile {
            path: rel.to_owned(),
            kind,
            size: content.len() as u64,
            data: content,
        });
    }
    if !have_license {
        if let Some(data) = license {
            files.push(GitFile {
                path: "LICENSE".into(),
                kind: gomod::zip::FileKind::Regular,
                size: data.len() as u64,
                data,
            });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header block for `name` with `size` bytes and type `flag`.
    fn header(name: &str, size: usize, flag: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let sz = format!("{size:011o}");
        h[124..135].copy_from_slice(sz.as_bytes());
        h[156] = flag;
        h[257..263].copy_from_slice(b"ustar\0");
        seal(&mut h);
        h
    }

    /// Writes the header's checksum, as every tar writer (git too) does.
    fn seal(h: &mut [u8]) {
        h[148..156].fill(b' ');
        let sum: u32 = h[..512].iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }

    fn entry(tar: &mut Vec<u8>, name: &str, data: &[u8], flag: u8) {
        tar.extend(header(name, data.len(), flag));
        tar.extend(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }

    #[test]
    fn archive_tar_is_read_plainly() {
        let mut tar = vec![];
        entry(&mut tar, "pax_global_header", b"52 comment=abc\n", b'g');
        entry(&mut tar, "prefix/", b"", b'5');
        entry(&mut tar, "prefix/go.mod", b"module m\n", b'0');
        entry(&mut tar, "prefix/link", b"", b'2');
        let long = format!("prefix/{}.go", "x".repeat(120));
        let rec = format!("path={long}\n");
        let rec = format!("{} {rec}", rec.len() + 4);
        entry(&mut tar, "ignored", rec.as_bytes(), b'x');
        entry(&mut tar, "truncated-name", b"package x\n", b'0');
        entry(&mut tar, "other/file", b"x", b'0');
        tar.extend([0u8; 1024]);
        let files = archive_files(&tar, "", Some(b"L".to_vec()), "m", "v1.0.0").unwrap();
        let got: Vec<(&str, gomod::zip::FileKind, &[u8])> = files
            .iter()
            .map(|f| (f.path.as_str(), f.kind, &f.data[..]))
            .collect();
        use gomod::zip::FileKind::*;
        assert_eq!(
            got,
            vec![
                ("go.mod", Regular, &b"module m\n"[..]),
                ("link", Symlink, &b""[..]),
                (&long["prefix/".len()..], Regular, &b"package x\n"[..]),
                ("LICENSE", Regular, &b"L"[..]),
            ]
        );
        // Damaged archives are errors, never panics.
        for cut in [100, 600, 1100, tar.len() - 1030] {
            let _ = archive_files(&tar[..cut], "", None, "m", "v1.0.0");
        }
        let mut bad = tar.clone();
        bad[124..135].copy_from_slice(b"77777777777");
        seal(&mut bad);
        assert!(archive_files(&bad, "", None, "m", "v1.0.0").is_err());
        // A header whose checksum does not match is refused.
        let mut bad = tar.clone();
        bad[1024 + 1] ^= 1; // the name in the second header
        assert!(archive_files(&bad, "", None, "m", "v1.0.0").is_err());
        let mut pax = vec![];
        for r in ["1 \n", "2 \n", "99 path=x\n", "x path=x\n", "3 p"] {
            pax.clear();
            entry(&mut pax, "h", r.as_bytes(), b'x');
            assert!(
                archive_files(&pax, "", None, "m", "v1.0.0").is_err(),
                "{r:?}"
            );
        }
    }
}
