//! Direct mode's settings, and where its repository cache is.

use crate::egress::Egress;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Direct mode's settings.
#[derive(Clone)]
pub struct Options {
    /// Where bare repositories are cached (`$GOMIRROR_GIT_DIR` wins).
    pub git_dir: Option<PathBuf>,
    /// `GOINSECURE` patterns: go-import discovery for these module paths may
    /// fall back to plain http and skips certificate checks.
    pub goinsecure: String,
    /// Largest repository kept, in bytes on disk.
    pub max_repo_size: u64,
    /// Longest run of one git command.
    pub timeout: Duration,
    /// Most git processes at once.
    pub max_processes: usize,
    /// Size budget of the whole repository cache, in bytes on disk.
    pub max_cache_size: u64,
    /// Where client-chosen destinations may be (discovery pages, `mod`
    /// proxies, git remotes): see [`crate::egress`].
    pub egress: Arc<Egress>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            git_dir: None,
            goinsecure: String::new(),
            max_repo_size: 2 << 30,
            timeout: Duration::from_secs(300),
            max_processes: 4,
            max_cache_size: 20 << 30,
            egress: Arc::new(Egress::default()),
        }
    }
}

impl Options {
    /// The cache directory: `$GOMIRROR_GIT_DIR`, else [`Options::git_dir`],
    /// else a fresh private directory under the system temp dir.
    pub(super) fn cache_dir(&self) -> PathBuf {
        std::env::var_os("GOMIRROR_GIT_DIR")
            .map(PathBuf::from)
            .or_else(|| self.git_dir.clone())
            .unwrap_or_else(|| {
                // A fresh private directory (random name, mode 0700): a
                // predictable path under a shared /tmp could be planted.
                use std::os::unix::fs::PermissionsExt;
                tempfile::Builder::new()
                    .prefix("gomirror-git-")
                    .permissions(std::fs::Permissions::from_mode(0o700))
                    .tempdir()
                    .map(|d| d.keep())
                    .unwrap_or_else(|_| {
                        std::env::temp_dir().join(format!("gomirror-git-{}", std::process::id()))
                    })
            })
    }
}
