//! Go module formats, written from the rules of `golang.org/x/mod` and the
//! Go Modules Reference (go.dev/ref/mod).
//!
//! Everything here is pure and synchronous: inputs come through
//! `std::io::Read`/`Seek` or byte slices, outputs through `Write` or values.
//! No async, no network. One module per concept:
//!
//! | module | concept |
//! |---|---|
//! | [`module`] | module paths, import paths, file paths, case-encoding, major-version suffixes |
//! | [`semver`] | Go's semantic versions: validity, canonical form, comparison, sorting |
//! | [`pseudo`] | pseudo-versions: parse, validate against a base, build |
//! | [`modfile`] | the go.mod file format (enough for a mirror) |
//! | [`zip`] | module zip files: create from a tree, check, extract |
//! | [`dirhash`] | the `h1:` hash recorded in go.sum |
//! | [`archive`] | reading a zip archive as Go's `archive/zip` does, verifying every entry |
//! | [`glob`] | `path.Match` globs and GOPRIVATE-style pattern lists |
//! | [`strconv`] | Go's printable runes and string quoting, for messages and go.mod |
//! | [`note`] | signed notes and their Ed25519 keys (the checksum database's signatures) |
//! | [`tlog`] | the checksum database's transparency log: hashes, proofs, tiles, tree heads |
//! | [`vcs`] | where `GOPROXY=direct` finds a module's repository: static host rules, go-import tags |
//! | [`proxy`] | the GOPROXY protocol's request paths: parse and classify (bad request / not found) |
//! | [`netrc`] | the `.netrc` credentials file, parsed as the go command parses it |
//!
//! # Layers
//!
//! Modules use each other only downwards, never in a cycle
//! (`scripts/module-cycles crates/gomod/src` checks this). The zip layers:
//!
//! ```text
//! zip      module zip rules; checks and hashes in one pass (check_and_hash_zip)
//!  |  \
//!  |  dirhash   h1: hashes of file sets, trees and zips
//!  |  /
//! archive  reading a zip archive: Go's rules, cross-checked, every entry verified
//! ```
//!
//! `zip` uses `dirhash` for the `h1:` (hashing is dirhash's job); `dirhash`
//! reads zips through `archive` and knows nothing of module zip rules. The
//! size limits (`MAX_ZIP_FILE`, `Limits`, `SizeError`) live in `archive` and
//! `zip` re-exports them. Below those: `module` (paths, versions) uses
//! `semver` and `strconv`; `pseudo` uses `module`; `modfile` uses `module`;
//! `proxy` uses `module`; `tlog` uses `note`; the private `slashpath` (Go's `path.Clean`) serves
//! `zip` and `dirhash`.

pub mod archive;
pub mod dirhash;
pub mod glob;
pub mod modfile;
pub mod module;
pub mod netrc;
pub mod note;
pub mod proxy;
pub mod pseudo;
pub mod semver;
mod slashpath;
pub mod strconv;
pub mod tlog;
mod unicode_print;
pub mod vcs;
pub mod zip;
