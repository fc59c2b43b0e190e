//! Extracting a module zip into a directory.

use std::fs;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use super::check::{open_and_check_names, Opened};
use super::{Error, Limits, COPY_BUFFER_SIZE};

/// Extracts the module zip of `module_path`@`version` read from `zip` into
/// the directory `dir`.
///
/// `dir` must be empty or not exist yet (it is created, with its parents).
/// Everything [`check_zip`](super::check_zip) checks from the names and declared sizes is
/// checked before anything is written; each file's content is checked
/// (size, CRC-32) as it is written. If that fails, what was written is
/// removed again before the error is returned. Files are created read-only,
/// directories as needed; directory entries are otherwise ignored.
///
/// Errors are wrapped as `unzip <dir>: ...`.
pub fn unzip<R: Read + Seek>(
    dir: impl AsRef<Path>,
    module_path: &str,
    version: &str,
    zip: R,
) -> Result<(), Error> {
    unzip_with_limits(dir, module_path, version, zip, &Limits::default())
}

/// [`unzip`] with configurable limits, for tests.
#[doc(hidden)]
pub fn unzip_with_limits<R: Read + Seek>(
    dir: impl AsRef<Path>,
    module_path: &str,
    version: &str,
    zip: R,
    limits: &Limits,
) -> Result<(), Error> {
    let dir = dir.as_ref();
    unzip_inner(dir, module_path, version, zip, limits).map_err(|e| e.op("unzip", Some(dir)))
}

fn unzip_inner<R: Read + Seek>(
    dir: &Path,
    module_path: &str,
    version: &str,
    zip: R,
    limits: &Limits,
) -> Result<(), Error> {
    if let Ok(mut entries) = fs::read_dir(dir) {
        if entries.next().is_some() {
            return Err(Error::NotEmpty(dir.to_path_buf()));
        }
    }
    let mut reader = match open_and_check_names(module_path, version, zip, limits)? {
        Opened::TooLarge(cf) => return cf.err(),
        Opened::Zip(reader, cf) => {
            cf.err()?;
            reader
        }
    };

    let existed = dir.exists();
    fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let prefix_len = module_path.len() + 1 + version.len() + 1;
    let mut buf = vec![0u8; COPY_BUFFER_SIZE];
    let result = reader.read_contents(
        |_, _| true,
        |_, e, content| {
            let name = std::str::from_utf8(&e.name[prefix_len..])
                .map_err(|_| io::Error::other("checked names are UTF-8"))?;
            let dst = dir.join(name);
            if let Some(parent) = dst.parent() {
                fs::create_dir_all(parent)?;
            }
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o444);
            }
            let mut out = opts.open(&dst)?;
            loop {
                let n = match content.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                out.write_all(&buf[..n])?;
            }
            out.sync_all()
        },
    );
    if let Err(e) = result {
        remove_extracted(dir, existed);
        return Err(e.into());
    }
    Ok(())
}

/// Best-effort removal of what a failed [`unzip`] wrote into `dir`, which
/// was empty or absent before.
fn remove_extracted(dir: &Path, existed: bool) {
    if !existed {
        let _ = fs::remove_dir_all(dir);
        return;
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let p = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(&p);
            } else {
                let _ = fs::remove_file(&p);
            }
        }
    }
}
