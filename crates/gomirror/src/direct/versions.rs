//! From tags and commits to versions, as the go command does: the version
//! list (with `+incompatible` versions), tagged versions and
//! pseudo-versions resolved to commits, queries (branches, commits,
//! `@latest`) resolved to versions, retractions, and the module's
//! directory and go.mod at a commit.

use super::{failed, not_found, Location, Repo};
use crate::upstream::FetchError;
use gomod::{module, pseudo, semver};
use std::collections::HashMap;

/// Largest go.mod read from a repository (as for the go command).
const MAX_GO_MOD: u64 = 16 << 20;

/// A version of the module resolved in the repository.
pub(super) struct Rev {
    pub(super) version: String,
    /// Commit time, Unix seconds.
    pub(super) time: i64,
    /// The commit.
    pub(super) hash: String,
    /// The module's directory in the repository at that commit.
    pub(super) dir: String,
    /// Its go.mod, if it has one.
    pub(super) go_mod: Option<Vec<u8>>,
}

impl Repo<'_> {
    /// All tag names.
    async fn tags(&self, extra: &[&str]) -> Result<Vec<String>, FetchError> {
        let mut args = vec!["for-each-ref", "--format=%(refname:lstrip=2)"];
        args.extend_from_slice(extra);
        args.push("refs/tags/");
        Ok(self
            .git_ok(&args)
            .await?
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// The canonical version a tag names for this module, without
    /// `+incompatible`, if any; and whether it would be incompatible.
    fn tag_version(&self, tag: &str) -> Option<(String, bool)> {
        tag_version(&self.loc, tag)
    }

    /// Like [`Repo::tag_version`], but also accepting tags that are not
    /// canonical but start with their canonical form (`v1.2.3+meta`), as
    /// the go command does for the base of a pseudo-version.
    fn tag_base(&self, tag: &str) -> Option<(String, bool)> {
        tag_base(&self.loc, tag)
    }

    async fn commit_of(&self, rev: &str) -> Result<Option<String>, FetchError> {
        if rev.starts_with('-') || rev.contains(['\0', '\n', ' ', ':']) {
            return Ok(None);
        }
        // The remote's HEAD, as last fetched (the local HEAD of the cache
        // means nothing).
        let rev = if rev == "HEAD" {
            "refs/gomirror/head"
        } else {
            rev
        };
        let spec = format!("{rev}^{{commit}}");
        Ok(self
            .git(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
            .await?
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
            .filter(|h| h.len() >= 40))
    }

    async fn commit_time(&self, hash: &str) -> Result<i64, FetchError> {
        let s = self
            .git_ok(&["log", "-1", "--format=%ct", hash, "--"])
            .await?;
        s.trim()
            .parse()
            .map_err(|_| failed(format!("bad commit time {s:?}")))
    }

    /// The module's directory and go.mod at commit `hash`, by the go
    /// command's rules (`findDir`): for a `/vN` path whose repository root
    /// is not the module path, a `vN/go.mod` claiming `/vN` wins (a go.mod
    /// in the module directory claiming it too is an error); else the
    /// go.mod in the module directory must claim a compatible major
    /// version; with no go.mod at all, only a v0/v1 (or gopkg.in) module at
    /// the repository root is allowed (its go.mod is synthesised).
    async fn find_dir(&self, hash: &str) -> Result<(String, Option<Vec<u8>>), FetchError> {
        let join = |a: &str, b: &str| {
            if a.is_empty() {
                b.to_owned()
            } else {
                format!("{a}/{b}")
            }
        };
        let loc = &self.loc;
        let major = loc.path_major.as_str();
        let rev = &hash[..12];
        let path_prefix = module::split_path_version(&self.module)
            .map(|(p, _)| p)
            .unwrap_or(&self.module);
        let file1 = join(&loc.code_dir, "go.mod");
        let gm1 = self.read_file(hash, &file1, MAX_GO_MOD).await?;
        let mpath1 = gm1
            .as_deref()
            .and_then(gomod::modfile::module_path)
            .unwrap_or_default();
        let found1 = gm1.is_some()
            && (is_major(&mpath1, major) || (major.is_empty() && mpath1.starts_with("gopkg.in/")));
        let mut file2 = None;
        if !major.is_empty() && !loc.root_is_module && !major.starts_with('.') {
            let dir2 = join(&loc.code_dir, &major[1..]);
            let f2 = join(&dir2, "go.mod");
            let gm2 = self.read_file(hash, &f2, MAX_GO_MOD).await?;
            let mpath2 = gm2
                .as_deref()
                .and_then(gomod::modfile::module_path)
                .unwrap_or_default();
            let found2 = gm2.is_some() && is_major(&mpath2, major);
            if found1 && found2 {
                return Err(not_found(format!(
                    "{path_prefix}/{file1} and ...{major}/go.mod both have ...{major} module paths at revision {rev}"
                )));
            }
            if found2 {
                return Ok((dir2, gm2));
            }
            if gm2.is_some() {
                return Err(not_found(if mpath2.is_empty() {
                    format!("{f2} is missing module path at revision {rev}")
                } else {
                    format!("{f2} has non-...{major} module path {mpath2:?} at revision {rev}")
                }));
            }
            file2 = Some(f2);
        }
        if found1 {
            return Ok((loc.code_dir.clone(), gm1));
        }
        if gm1.is_some() {
            let suffix = if file2.is_some() {
                format!(" (and ...{major}/go.mod does not exist)")
            } else {
                String::new()
            };
            return Err(not_found(if mpath1.is_empty() {
                format!("{file1} is missing module path{suffix} at revision {rev}")
            } else if !major.is_empty() {
                format!(
                    "{file1} has non-...{major} module path {mpath1:?}{suffix} at revision {rev}"
                )
            } else {
                format!("{file1} has post-v1 module path {mpath1:?}{suffix} at revision {rev}")
            }));
        }
        if loc.code_dir.is_empty() && (major.is_empty() || major.starts_with('.')) {
            return Ok((String::new(), None));
        }
        Err(not_found(if file2.is_some() {
            format!("missing {path_prefix}/go.mod and ...{major}/go.mod at revision {rev}")
        } else {
            format!("missing {path_prefix}/go.mod at revision {rev}")
        }))
    }

    async fn has_go_mod(&self, hash: &str) -> Result<bool, FetchError> {
        let p = if self.loc.code_dir.is_empty() {
            "go.mod".to_owned()
        } else {
            format!("{}/go.mod", self.loc.code_dir)
        };
        Ok(self.read_file(hash, &p, MAX_GO_MOD).await?.is_some())
    }

    /// The `list` file: tagged versions, with `+incompatible` versions by
    /// the go command's rules.
    pub(super) async fn versions(&self) -> Result<Vec<String>, FetchError> {
        // As for the go command: gopkg.in/x.v2-unstable has no versions
        // (the v2 tags are x.v2's).
        if self.module.starts_with("gopkg.in/") && self.module.ends_with("-unstable") {
            return Ok(vec![]);
        }
        // A repository may hold very many tags: they are classified and
        // sorted on the blocking pool, not on the server's async threads.
        let tags = self.tags(&[]).await?;
        let loc = self.loc.clone();
        let (mut list, incompatible) = tokio::task::spawn_blocking(move || {
            let mut list = vec![];
            let mut incompatible = vec![];
            for t in tags {
                match tag_version(&loc, &t) {
                    Some((v, false)) => list.push(v),
                    Some((v, true)) => incompatible.push(v),
                    None => {}
                }
            }
            semver::sort(&mut list);
            semver::sort(&mut incompatible);
            (list, incompatible)
        })
        .await
        .map_err(|e| failed(format!("sorting the tags: {e}")))?;
        if incompatible.is_empty() {
            return Ok(list);
        }
        if let Some(last) = list.last() {
            let h = self.tag_commit(last).await?;
            if self.has_go_mod(&h).await? {
                return Ok(list);
            }
        }
        let mut last_major = String::new();
        let mut last_has = false;
        for (i, v) in incompatible.iter().enumerate() {
            let major = semver::major(v);
            if major != last_major {
                let latest = incompatible[i..]
                    .iter()
                    .take_while(|w| semver::major(w) == major)
                    .last()
                    .unwrap();
                let h = self.tag_commit(latest).await?;
                last_has = self.has_go_mod(&h).await?;
                last_major = major.to_owned();
            }
            if !last_has {
                list.push(format!("{v}+incompatible"));
            }
        }
        Ok(list)
    }

    async fn tag_commit(&self, v: &str) -> Result<String, FetchError> {
        let tag = format!("refs/tags/{}{v}", self.loc.tag_prefix());
        self.commit_of(&tag)
            .await?
            .ok_or_else(|| not_found(format!("{}@{v}: unknown revision", self.module)))
    }

    /// Version `v` (canonical or pseudo): its commit, time and module
    /// directory.
    pub(super) async fn resolve_version(&self, v: &str) -> Result<Rev, FetchError> {
        let unknown = || not_found(format!("{}@{v}: unknown revision {v}", self.module));
        if module::canonical_version(v) != v || module::check(&self.module, v).is_err() {
            return Err(unknown());
        }
        let hash = if pseudo::is_pseudo_version(v) {
            let rev = pseudo::pseudo_version_rev(v).map_err(|_| unknown())?;
            let h = self.commit_of(rev).await?.ok_or_else(unknown)?;
            if !h.starts_with(rev) {
                return Err(unknown());
            }
            let t = self.commit_time(&h).await?;
            let ts = pseudo::UtcTime::from_unix(t).map(|t| t.timestamp());
            if ts.as_deref() != pseudo::pseudo_version_timestamp(v).ok() {
                return Err(not_found(format!(
                    "{}@{v}: invalid pseudo-version: does not match version-control timestamp",
                    self.module
                )));
            }
            h
        } else {
            let base = v.strip_suffix("+incompatible").unwrap_or(v);
            self.tag_commit(base).await?
        };
        if v.ends_with("+incompatible") && self.has_go_mod(&hash).await? {
            return Err(not_found(format!(
                "{}@{v}: invalid version: module contains a go.mod file, so module path must match major version",
                self.module
            )));
        }
        let t = self.commit_time(&hash).await?;
        self.rev(v.to_owned(), t, hash).await
    }

    /// The [`Rev`] of `version` at commit `hash`: as the go command's
    /// checkCanonical, only where the module is (its directory and go.mod
    /// found by [`Repo::find_dir`]).
    async fn rev(&self, version: String, time: i64, hash: String) -> Result<Rev, FetchError> {
        let (dir, go_mod) = self.find_dir(&hash).await?;
        Ok(Rev {
            version,
            time,
            hash,
            dir,
            go_mod,
        })
    }

    /// The version the go command gives to commit `hash` (its `convert`):
    /// the highest canonical tag on it, else a pseudo-version over the
    /// highest reachable tag; retracted versions are passed over in both,
    /// and a v2+ tag counts as `+incompatible` only where the go command
    /// allows it (module at the repository root, no go.mod there nor in
    /// `vN/` at that commit).
    async fn version_of(&self, hash: &str) -> Result<Rev, FetchError> {
        let t = self.commit_time(hash).await?;
        let retracted = self.retractions().await;
        let is_retracted = |v: &str| {
            retracted
                .iter()
                .any(|r| semver::compare(&r.low, v).is_le() && semver::compare(v, &r.high).is_le())
        };
        let mut root_go_mod: Option<bool> = None;
        let mut major_go_mod: HashMap<String, bool> = HashMap::new();
        for (tags, loose) in [
            (self.tags(&["--points-at", hash]).await?, false),
            (self.tags(&["--merged", hash]).await?, true),
        ] {
            let mut best: Option<String> = None;
            for tag in tags {
                let tv = if loose {
                    self.tag_base(&tag)
                } else {
                    self.tag_version(&tag)
                };
                let Some((v, inc)) = tv else {
                    continue;
                };
                if is_retracted(&v) {
                    continue;
                }
                if inc {
                    if root_go_mod.is_none() {
                        root_go_mod = Some(self.has_go_mod(hash).await?);
                    }
                    let major = semver::major(&v).to_owned();
                    if !major_go_mod.contains_key(&major) {
                        let has = self
                            .read_file(hash, &format!("{major}/go.mod"), MAX_GO_MOD)
                            .await?
                            .is_some();
                        major_go_mod.insert(major.clone(), has);
                    }
                    if root_go_mod == Some(true) || major_go_mod[&major] {
                        continue;
                    }
                }
                let v = if inc { format!("{v}+incompatible") } else { v };
                if best
                    .as_deref()
                    .is_none_or(|b| semver::compare(&v, b).is_gt())
                {
                    best = Some(v);
                }
            }
            if !loose {
                if let Some(v) = best {
                    return self.rev(v, t, hash.to_owned()).await;
                }
                continue;
            }
            let base = best.unwrap_or_default();
            let major = module::path_major_prefix(&self.loc.path_major).unwrap_or("");
            let time = pseudo::UtcTime::from_unix(t)
                .ok_or_else(|| failed(format!("commit {hash} has an impossible time")))?;
            let v = pseudo::pseudo_version(major, &base, &time, &hash[..12]);
            return self.rev(v, t, hash.to_owned()).await;
        }
        unreachable!("the loop returns on its second round")
    }

    /// The retractions that apply to this module, as the go command reads
    /// them: from the go.mod of the highest release in `list` (else the
    /// highest pre-release), ignoring `+incompatible` versions; none if
    /// that go.mod cannot be read.
    async fn retractions(&self) -> Vec<gomod::modfile::VersionInterval> {
        let Ok(mut list) = self.versions().await else {
            return vec![];
        };
        if let Some(i) = list.iter().position(|v| v.ends_with("+incompatible")) {
            list.truncate(i);
        }
        let Some(highest) = list
            .iter()
            .rev()
            .find(|v| semver::prerelease(v).is_empty())
            .or(list.last())
            .cloned()
        else {
            return vec![];
        };
        let Ok(rev) = self.resolve_version(&highest).await else {
            return vec![];
        };
        gomod::modfile::parse_lax("go.mod", &self.go_mod(&rev))
            .map(|f| f.retract.into_iter().map(|r| r.interval).collect())
            .unwrap_or_default()
    }

    /// `.info` for a version or a query (branch, tag, commit hash).
    pub(super) async fn stat(&self, q: &str) -> Result<Rev, FetchError> {
        if module::canonical_version(q) == q && !q.is_empty() {
            return self.resolve_version(q).await;
        }
        let hash = self
            .commit_of(q)
            .await?
            .ok_or_else(|| not_found(format!("{}@{q}: unknown revision {q}", self.module)))?;
        let rev = self.version_of(&hash).await?;
        if module::check(&self.module, &rev.version).is_err() {
            return Err(not_found(format!(
                "{}@{q}: resolves to {}, which is not a version of this module",
                self.module, rev.version
            )));
        }
        Ok(rev)
    }

    /// `@latest`: the highest release, else the highest prerelease, else
    /// the default branch's head as a pseudo-version.
    pub(super) async fn latest(&self) -> Result<Rev, FetchError> {
        let list = self.versions().await?;
        let release = list.iter().rev().find(|v| semver::prerelease(v).is_empty());
        if let Some(v) = release.or(list.last()) {
            return self.resolve_version(v).await;
        }
        self.stat("HEAD").await
    }

    /// The `.mod` file of `rev`: its go.mod, or one synthesised.
    pub(super) fn go_mod(&self, rev: &Rev) -> Vec<u8> {
        rev.go_mod
            .clone()
            .unwrap_or_else(|| gomod::modfile::synthesize_go_mod(&self.module))
    }
}

/// Whether a go.mod declaring `mpath` fits a module path with major-version
/// suffix `path_major` (the go command's `isMajor`): only the suffixes are
/// compared, so forks declaring another path are accepted.
/// The canonical version `tag` names for the module at `loc`, without
/// `+incompatible`, if any; and whether it would be incompatible.
fn tag_version(loc: &Location, tag: &str) -> Option<(String, bool)> {
    let v = tag.strip_prefix(&loc.tag_prefix())?;
    if v.is_empty() || semver::canonical(v) != v {
        return None;
    }
    tag_base(loc, tag)
}

/// Like [`tag_version`], but also accepting tags that are not canonical
/// but start with their canonical form (`v1.2.3+meta`), as the go command
/// does for the base of a pseudo-version.
fn tag_base(loc: &Location, tag: &str) -> Option<(String, bool)> {
    let t = tag.strip_prefix(&loc.tag_prefix())?;
    let v = semver::canonical(t);
    if v.is_empty() || !t.starts_with(&v) || pseudo::is_pseudo_version(t) {
        return None;
    }
    let v = v.as_str();
    if module::check_path_major(v, &loc.path_major).is_ok() {
        return Some((v.to_owned(), false));
    }
    if loc.code_dir.is_empty()
        && loc.path_major.is_empty()
        && semver::major(v) != "v0"
        && semver::major(v) != "v1"
    {
        return Some((v.to_owned(), true));
    }
    None
}

fn is_major(mpath: &str, path_major: &str) -> bool {
    if mpath.is_empty() {
        return false;
    }
    let Some((_, mmajor)) = module::split_path_version(mpath) else {
        return false;
    };
    if path_major.is_empty() {
        return matches!(module::path_major_prefix(mmajor), Some("" | "v0" | "v1"));
    }
    if mmajor.is_empty() {
        return false;
    }
    path_major[1..] == mmajor[1..]
}
