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
//! | [`glob`] | `path.Match` globs and GOPRIVATE-style pattern lists |
//! | [`strconv`] | Go's printable runes and string quoting, for messages and go.mod |
//! | [`note`] | signed notes and their Ed25519 keys (the checksum database's signatures) |
//! | [`tlog`] | the checksum database's transparency log: hashes, proofs, tiles, tree heads |
//! | [`vcs`] | where `GOPROXY=direct` finds a module's repository: static host rules, go-import tags |

pub mod dirhash;
pub mod glob;
pub mod modfile;
pub mod module;
pub mod note;
pub mod pseudo;
pub mod semver;
pub mod strconv;
pub mod tlog;
mod unicode_print;
pub mod vcs;
pub mod zip;
