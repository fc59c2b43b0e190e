//! The checksum database's transparency log (`golang.org/x/mod/sumdb/tlog`):
//! a Merkle tree of records as in Certificate Transparency (RFC 6962), the
//! proofs that a tree contains a record or an earlier tree, the tiles the
//! log is served in, and the signed tree-head text.
//!
//! # Hashes
//!
//! A record's hash is SHA-256(0x00 || data) ([`record_hash`]), an interior
//! node's is SHA-256(0x01 || left || right) ([`node_hash`]). The hash of a
//! tree of `n` records is that of its root: for `n` > 1, split the records
//! at the largest power of two `k` < `n` and hash the hashes of `[0, k)` and
//! `[k, n)`. The empty tree's hash is SHA-256 of nothing ([`EMPTY_TREE_HASH`]).
//!
//! # Stored hashes
//!
//! A log stores every complete subtree's hash once, in the order they become
//! complete: appending record `m` stores its record hash and then the hash of
//! every subtree that record completes (one per trailing 1 bit of `m`).
//! [`stored_hash_index`] numbers the hash of the node at `level` (0 for
//! records) and position `n` within its level in that order. A
//! [`HashReader`] reads stored hashes by that number.
//!
//! # Tiles
//!
//! A tile of height `H` at tile level `L` holds `W` ≤ 2^H consecutive stored
//! hashes of tree level `L·H`, starting at position `N·2^H`
//! ([`Tile`]). A server publishes tiles; a client that knows a tree's size
//! and hash can check every tile it reads against that hash
//! ([`TileHashReader`]).
//!
//! # Tree heads
//!
//! The checksum database signs (see [`crate::note`]) the text
//! `go.sum database tree\n<N>\n<base64 hash>\n` ([`format_tree`],
//! [`parse_tree`]).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::note::GO_BASE64;

/// The size of a [`Hash`](struct@Hash) in bytes.
pub const HASH_SIZE: usize = 32;

/// The largest tile height [`Tile`]s may have.
pub const MAX_TILE_HEIGHT: u32 = 30;

/// The boxed error a [`HashReader`] or [`TileReader`] may carry.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error from this module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A proof or tree function was called with sizes and indexes that do
    /// not fit (a record not in the tree, an old tree larger than the new).
    #[error("tlog: invalid inputs in {0}")]
    InvalidInput(&'static str),
    /// A proof does not prove what it was checked for.
    #[error("invalid transparency proof")]
    ProofFailed,
    /// A [`HashReader`] returned a different number of hashes than asked.
    #[error("tlog: ReadHashes({want} indexes) = {got} hashes")]
    HashCount {
        /// How many hashes were asked for.
        want: usize,
        /// How many came back.
        got: usize,
    },
    /// A hash is not the padded base64 of 32 bytes.
    #[error("malformed hash")]
    MalformedHash,
    /// A tree head is not `go.sum database tree\n<N>\n<hash>\n`.
    #[error("malformed tree note: {0}")]
    MalformedTree(&'static str),
    /// Record text or a record message breaks the record rules.
    #[error("malformed record data: {0}")]
    MalformedRecord(&'static str),
    /// A path is not the canonical path of a tile.
    #[error("malformed tile path {0:?}")]
    TilePath(String),
    /// A tile's height, level or width is out of range for the operation.
    #[error("invalid tile {0}")]
    InvalidTile(String),
    /// A tile height is not in 1..=30.
    #[error("invalid tile height {0}")]
    TileHeight(u32),
    /// Tile data is shorter than the tile's width says.
    #[error("data len {len} too short for tile {tile}")]
    TileDataShort {
        /// The data's length in bytes.
        len: usize,
        /// The tile's path.
        tile: String,
    },
    /// A stored hash is not in the tile it was looked for in.
    #[error("index {index} is in {actual} not {tile}")]
    IndexNotInTile {
        /// The stored hash index.
        index: u64,
        /// The path of the least tile that holds it.
        actual: String,
        /// The path of the tile given.
        tile: String,
    },
    /// A stored hash was asked of a tree that does not have it yet.
    #[error("index {index} not in tree of size {n}")]
    IndexNotInTree {
        /// The stored hash index.
        index: u64,
        /// The tree's size.
        n: u64,
    },
    /// A [`TileReader`] returned a different number of tiles than asked.
    #[error("TileReader returned {got} tiles, want {want}")]
    TileCount {
        /// How many tiles were asked for.
        want: usize,
        /// How many came back.
        got: usize,
    },
    /// A [`TileReader`] returned data of the wrong length for a tile.
    #[error("TileReader returned {got} bytes for {tile}, want {want}")]
    TileDataLength {
        /// The tile's path.
        tile: String,
        /// The length the tile's width requires.
        want: usize,
        /// The length returned.
        got: usize,
    },
    /// Tiles read do not hash to the trusted tree hash (no tile named: which
    /// one is wrong is unknown) or to the hash their parent tile has for
    /// them (the tile named).
    #[error("downloaded inconsistent tile{}", .0.as_ref().map(|t| format!(" {t}")).unwrap_or_default())]
    InconsistentTile(Option<String>),
    /// An internal consistency check failed; this is a bug.
    #[error("tlog: internal error: {0}")]
    Internal(String),
    /// A [`HashReader`] or [`TileReader`] failed.
    #[error(transparent)]
    Reader(BoxError),
}

impl Error {
    /// Wraps a reader's own error.
    pub fn reader(e: impl Into<BoxError>) -> Self {
        Error::Reader(e.into())
    }
}

/// A SHA-256 hash of a record, a subtree or a tree.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

/// The hash of the empty tree: SHA-256 of no bytes.
pub const EMPTY_TREE_HASH: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

impl fmt::Display for Hash {
    /// The standard padded base64 of the 32 bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&GO_BASE64.encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for Hash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_hash(s)
    }
}

/// Parses a hash written as the standard padded base64 of 32 bytes.
pub fn parse_hash(s: &str) -> Result<Hash, Error> {
    let data = GO_BASE64.decode(s).map_err(|_| Error::MalformedHash)?;
    Ok(Hash(data.try_into().map_err(|_| Error::MalformedHash)?))
}

/// The hash of a record: SHA-256(0x00 || data).
pub fn record_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: Hash, right: Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// `x << s`, 0 once every bit is shifted out (Go's shift).
fn shl(x: u64, s: u32) -> u64 {
    x.checked_shl(s).unwrap_or(0)
}

/// `x >> s`, 0 once every bit is shifted out (Go's shift).
fn shr(x: u64, s: u32) -> u64 {
    x.checked_shr(s).unwrap_or(0)
}

/// The number of hashes stored before record `m`'s: each earlier record `j`
/// stored its own and one per subtree it completed (the trailing zeros of
/// `j + 1`), which adds up to `2m - popcount(m)`.
fn hashes_before_record(m: u64) -> u64 {
    m.wrapping_mul(2).wrapping_sub(u64::from(m.count_ones()))
}

/// The stored hash index of the node at `level` and position `n` within it.
///
/// The node covers records `[n·2^level, (n+1)·2^level)`; it is stored when
/// its last record `m` is appended, `level` places after that record's own
/// hash: index = `2m - popcount(m) + level`. (Arithmetic wraps for
/// positions no tree can have, rather than panicking.)
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    let last = shl(n.wrapping_add(1), level).wrapping_sub(1);
    hashes_before_record(last).wrapping_add(u64::from(level))
}

/// The `(level, n)` whose [`stored_hash_index`] is `index`.
///
/// The node was stored with the last record `m` whose own hash is at or
/// before `index`; its level is the distance from that record's hash.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // hashes_before_record(m) <= 2m, so m >= index/2, and each record
    // stores at least one hash, so m is within 64 of index/2.
    let mut m = index / 2;
    let mut at = hashes_before_record(m);
    loop {
        let next = at
            .checked_add(1 + u64::from((m + 1).trailing_zeros()))
            .filter(|&next| next <= index);
        match next {
            Some(next) => {
                m += 1;
                at = next;
            }
            None => break,
        }
    }
    let level = (index - at) as u32;
    (level, shr(m, level))
}

/// The number of hashes stored for a tree of `n` records: everything
/// through record `n-1`'s hash and the subtrees it completes.
pub fn stored_hash_count(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    stored_hash_index(0, n - 1) + 1 + u64::from(n.trailing_zeros())
}

/// Reads stored hashes by [`stored_hash_index`].
pub trait HashReader {
    /// The hashes at `indexes`, one per index, in the same order. Callers in
    /// this module ask for indexes in increasing order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        (**self).read_hashes(indexes)
    }
}

/// All of a log's stored hashes in order, as in memory.
impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or_else(|| Error::reader(format!("stored hash {i} not present")))
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        self.as_slice().read_hashes(indexes)
    }
}

/// Reads `indexes` and checks that as many hashes came back.
fn read_exact<R: HashReader + ?Sized>(r: &R, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
    let hashes = r.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(Error::HashCount {
            want: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

/// The hashes to store when appending record `n` with `data`, to be stored
/// from `stored_hash_index(0, n)` on: its record hash, then one hash per
/// subtree it completes. Reads the left siblings of those subtrees from `r`.
pub fn stored_hashes<R: HashReader + ?Sized>(
    n: u64,
    data: &[u8],
    r: &R,
) -> Result<Vec<Hash>, Error> {
    stored_hashes_for_record_hash(n, record_hash(data), r)
}

/// [`stored_hashes`] given the record's hash instead of its data.
pub fn stored_hashes_for_record_hash<R: HashReader + ?Sized>(
    n: u64,
    h: Hash,
    r: &R,
) -> Result<Vec<Hash>, Error> {
    // Record n completes one subtree per trailing 1 bit of n; at level i the
    // left sibling is the node just before n's ancestor there. Highest level
    // first is increasing index order.
    let completed = (n.wrapping_add(1)).trailing_zeros().min(63);
    let indexes: Vec<u64> = (0..completed)
        .rev()
        .map(|level| stored_hash_index(level, shr(n, level) - 1))
        .collect();
    let siblings = read_exact(r, &indexes)?;
    let mut hashes = Vec::with_capacity(1 + siblings.len());
    hashes.push(h);
    let mut acc = h;
    for left in siblings.into_iter().rev() {
        acc = node_hash(left, acc);
        hashes.push(acc);
    }
    Ok(hashes)
}

/// The largest power of two ≤ `n` (`n` ≥ 1), and its exponent.
fn pow2_at_most(n: u64) -> (u64, u32) {
    let l = 63 - n.leading_zeros();
    (1 << l, l)
}

/// Where RFC 6962 splits a range of `size` ≥ 2 records: the largest power of
/// two below `size`.
fn split_point(size: u64) -> u64 {
    pow2_at_most(size - 1).0
}

/// The stored indexes of the complete subtrees that make up records
/// `[lo, hi)`, largest (leftmost) first: the range split into decreasing
/// powers of two.
fn subtree_indexes(mut lo: u64, hi: u64, out: &mut Vec<u64>) {
    while lo < hi {
        let (k, level) = pow2_at_most(hi - lo);
        debug_assert_eq!(lo % k, 0, "subtree [{lo}, {hi}) is not aligned");
        out.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

/// The hash of records `[lo, hi)` from the hashes of its subtrees as
/// [`subtree_indexes`] lists them: folded from the right.
fn fold_subtrees(hashes: &[Hash]) -> Hash {
    let (last, rest) = hashes
        .split_last()
        .expect("a non-empty range has a subtree");
    rest.iter()
        .rev()
        .fold(*last, |acc, &left| node_hash(left, acc))
}

/// The hashes of the record ranges `ranges` (each non-empty), read in one
/// call in increasing index order and returned in the order of `ranges`.
fn range_hashes<R: HashReader + ?Sized>(ranges: &[(u64, u64)], r: &R) -> Result<Vec<Hash>, Error> {
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    // Disjoint ranges further left have all their nodes stored earlier.
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].0);
    let mut indexes = Vec::new();
    let mut counts = Vec::with_capacity(ranges.len());
    for &i in &order {
        let before = indexes.len();
        subtree_indexes(ranges[i].0, ranges[i].1, &mut indexes);
        counts.push(indexes.len() - before);
    }
    let hashes = read_exact(r, &indexes)?;
    let mut out = vec![Hash::default(); ranges.len()];
    let mut at = 0;
    for (&i, &count) in order.iter().zip(&counts) {
        out[i] = fold_subtrees(&hashes[at..at + count]);
        at += count;
    }
    Ok(out)
}

/// The hash of the tree of the first `n` records, from the stored hashes of
/// its complete subtrees (at most 1 + log₂ n, read in one call).
pub fn tree_hash<R: HashReader + ?Sized>(n: u64, r: &R) -> Result<Hash, Error> {
    if n == 0 {
        return Ok(EMPTY_TREE_HASH);
    }
    Ok(range_hashes(&[(0, n)], r)?[0])
}

/// A proof that a tree contains a record (RFC 6962's audit path): the
/// hashes of the siblings on the way from the record to the root, nearest
/// the record first.
pub type RecordProof = Vec<Hash>;

/// A proof that a tree contains an earlier tree as a prefix (RFC 6962's
/// consistency proof).
pub type TreeProof = Vec<Hash>;

/// The record ranges whose hashes are the record proof for record `n` of a
/// tree of `t` records, nearest the record first. Walking down from the
/// root, each step keeps the side holding `n` and lists the other side.
fn record_proof_ranges(t: u64, n: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0, t);
    let mut siblings = Vec::new();
    while hi - lo > 1 {
        let mid = lo + split_point(hi - lo);
        if n < mid {
            siblings.push((mid, hi));
            hi = mid;
        } else {
            siblings.push((lo, mid));
            lo = mid;
        }
    }
    siblings.reverse();
    siblings
}

/// The proof that the tree of `t` records contains record `n` (`n` < `t`).
pub fn prove_record<R: HashReader + ?Sized>(t: u64, n: u64, r: &R) -> Result<RecordProof, Error> {
    if n >= t {
        return Err(Error::InvalidInput("ProveRecord"));
    }
    range_hashes(&record_proof_ranges(t, n), r)
}

/// Checks that `proof` proves the tree of `t` records with hash `th` has
/// record `n` with record hash `h`: the proof has exactly one hash per step
/// from the root down to record `n`, and folding them with `h` (each on the
/// side the walk did not take) gives `th`.
pub fn check_record(proof: &[Hash], t: u64, th: Hash, n: u64, h: Hash) -> Result<(), Error> {
    if n >= t {
        return Err(Error::InvalidInput("CheckRecord"));
    }
    let siblings = record_proof_ranges(t, n);
    if proof.len() != siblings.len() {
        return Err(Error::ProofFailed);
    }
    let mut acc = h;
    for (&p, &(lo, _)) in proof.iter().zip(&siblings) {
        acc = if lo > n {
            node_hash(acc, p)
        } else {
            node_hash(p, acc)
        };
    }
    if acc == th {
        Ok(())
    } else {
        Err(Error::ProofFailed)
    }
}

/// The shape of the consistency proof between trees of `n` and `t`
/// records: the subtree where the walk from the root reaches a node whose
/// range ends at `n` (`None` when that node is the old tree itself, whose
/// hash the verifier knows), and the siblings on the way, nearest that
/// node first.
type TreeProofShape = (Option<(u64, u64)>, Vec<(u64, u64)>);

fn tree_proof_shape(t: u64, n: u64) -> TreeProofShape {
    let (mut lo, mut hi) = (0, t);
    let mut siblings = Vec::new();
    while n != hi {
        let mid = lo + split_point(hi - lo);
        if n <= mid {
            siblings.push((mid, hi));
            hi = mid;
        } else {
            siblings.push((lo, mid));
            lo = mid;
        }
    }
    siblings.reverse();
    ((lo != 0).then_some((lo, hi)), siblings)
}

/// The proof that the tree of `t` records contains the tree of its first
/// `n` records (1 ≤ `n` ≤ `t`).
pub fn prove_tree<R: HashReader + ?Sized>(t: u64, n: u64, r: &R) -> Result<TreeProof, Error> {
    if n < 1 || n > t {
        return Err(Error::InvalidInput("ProveTree"));
    }
    let (ground, siblings) = tree_proof_shape(t, n);
    let ranges: Vec<(u64, u64)> = ground.into_iter().chain(siblings).collect();
    range_hashes(&ranges, r)
}

/// Checks that `proof` proves the tree of `t` records with hash `th`
/// contains as a prefix the tree of `n` records with hash `h`
/// (1 ≤ `n` ≤ `t`): the proof has exactly the hashes its shape calls for,
/// and folding them up from the common node yields both `h` and `th`.
pub fn check_tree(proof: &[Hash], t: u64, th: Hash, n: u64, h: Hash) -> Result<(), Error> {
    if n < 1 || n > t {
        return Err(Error::InvalidInput("CheckTree"));
    }
    let (ground, siblings) = tree_proof_shape(t, n);
    let rest = match ground {
        None => proof,
        Some(_) => proof.get(1..).unwrap_or_default(),
    };
    if (proof.is_empty() && ground.is_some()) || rest.len() != siblings.len() {
        return Err(Error::ProofFailed);
    }
    // The hashes of the current node in the old tree and in the new.
    let start = if ground.is_some() { proof[0] } else { h };
    let (mut old, mut new) = (start, start);
    for (&p, &(lo, _)) in rest.iter().zip(&siblings) {
        if lo >= n {
            new = node_hash(new, p);
        } else {
            old = node_hash(p, old);
            new = node_hash(p, new);
        }
    }
    if old == h && new == th {
        Ok(())
    } else {
        Err(Error::ProofFailed)
    }
}

/// A tile of the log: `w` consecutive stored hashes of tree level `l·h`
/// starting at position `n·2^h`, or, at level -1, record data.
///
/// A complete tile has `w` = 2^h; the hashes above its bottom level inside
/// the tile are not stored but recomputed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// The height, 1 ≤ h ≤ 30.
    pub h: u32,
    /// The tile level, -1 (record data) ≤ l ≤ 63.
    pub l: i32,
    /// The tile's number within its level.
    pub n: u64,
    /// The width, 1 ≤ w ≤ 2^h.
    pub w: u32,
}

/// Path groups are three decimal digits, so no directory of tiles holds more
/// than 3000 entries (`xNNN`, `NNN` and `NNN.p` for each NNN).
const PATH_BASE: u64 = 1000;

impl Tile {
    /// The width of a complete tile of this height.
    fn full_width(&self) -> u64 {
        shl(1, self.h)
    }

    /// The tile's path, `tile/<h>/<l>/<n>[.p/<w>]`.
    ///
    /// The level is `data` for level -1. `n` is written in groups of three
    /// decimal digits, most significant first, every group but the last
    /// prefixed with `x` (1234067 is `x001/x234/067`). The `.p/<w>` suffix
    /// marks a partial tile (`w` < 2^h).
    pub fn path(&self) -> String {
        let mut groups = vec![format!("{:03}", self.n % PATH_BASE)];
        let mut n = self.n / PATH_BASE;
        while n > 0 {
            groups.push(format!("x{:03}", n % PATH_BASE));
            n /= PATH_BASE;
        }
        groups.reverse();
        let level = if self.l == -1 {
            "data".to_string()
        } else {
            self.l.to_string()
        };
        let partial = if u64::from(self.w) != self.full_width() {
            format!(".p/{}", self.w)
        } else {
            String::new()
        };
        format!("tile/{}/{level}/{}{partial}", self.h, groups.join("/"))
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl FromStr for Tile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_tile_path(s)
    }
}

/// A non-empty string of ASCII digits as a number.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a tile path. Only the canonical path of a tile is accepted (the
/// one [`Tile::path`] writes): height 1..=30, level `data` or 0..=63,
/// three-digit groups with `x` on all but the last and no leading zero
/// group, and `.p/<w>` exactly when 0 < w < 2^h.
pub fn parse_tile_path(path: &str) -> Result<Tile, Error> {
    let bad = || Error::TilePath(path.to_string());
    let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
    let mut f: Vec<&str> = rest.split('/').collect();
    if f.len() < 3 {
        return Err(bad());
    }
    let h = parse_digits(f[0])
        .filter(|h| (1..=u64::from(MAX_TILE_HEIGHT)).contains(h))
        .ok_or_else(bad)? as u32;
    let l = if f[1] == "data" {
        -1
    } else {
        parse_digits(f[1]).filter(|&l| l <= 63).ok_or_else(bad)? as i32
    };
    let full = 1u64 << h;
    let mut w = full;
    if f.len() >= 4 {
        let last_group = f[f.len() - 2];
        if let Some(group) = last_group.strip_suffix(".p") {
            w = parse_digits(f[f.len() - 1])
                .filter(|&w| w > 0 && w < full)
                .ok_or_else(bad)?;
            let at = f.len() - 2;
            f[at] = group;
            f.pop();
        }
    }
    let mut n: u64 = 0;
    for group in &f[2..] {
        let digits = group.strip_prefix('x').unwrap_or(group);
        let g = parse_digits(digits)
            .filter(|&g| g < PATH_BASE)
            .ok_or_else(bad)?;
        n = n
            .checked_mul(PATH_BASE)
            .and_then(|n| n.checked_add(g))
            .ok_or_else(bad)?;
    }
    let tile = Tile {
        h,
        l,
        n,
        w: w as u32,
    };
    if tile.path() != path {
        return Err(bad());
    }
    Ok(tile)
}

/// The tile of height `h` and least width holding stored hash `index`, and
/// the byte range within that tile's data from which its hash is computed.
fn locate(h: u32, index: u64) -> (Tile, usize, usize) {
    let (level, n) = split_stored_hash_index(index);
    let tile_level = level / h;
    let within = level % h; // the node's level above the tile's bottom
                            // The node covers bottom-level positions [n·2^within, (n+1)·2^within).
    let tile_n = shr(shl(n, within), h);
    let offset = n - shl(shr(shl(n, within), h), h - within); // n within the tile, at its level
    let start = shl(offset, within);
    let end = shl(offset + 1, within);
    let tile = Tile {
        h,
        l: tile_level as i32,
        n: tile_n,
        w: end as u32,
    };
    (tile, start as usize * HASH_SIZE, end as usize * HASH_SIZE)
}

/// The tile of height `h` and least width holding stored hash `index`.
///
/// # Panics
///
/// If `h` is not in 1..=30.
pub fn tile_for_index(h: u32, index: u64) -> Tile {
    assert!(
        (1..=MAX_TILE_HEIGHT).contains(&h),
        "tile_for_index: invalid height {h}"
    );
    locate(h, index).0
}

/// The hash of the complete subtree whose bottom-level hashes are `data`
/// (2^k hashes).
fn tile_subtree_hash(data: &[u8]) -> Hash {
    if data.len() == HASH_SIZE {
        return Hash(data.try_into().expect("one hash"));
    }
    let half = data.len() / 2;
    node_hash(
        tile_subtree_hash(&data[..half]),
        tile_subtree_hash(&data[half..]),
    )
}

/// The stored hash `index` from the data of tile `t`.
///
/// The tile must be a hash tile (level 0..=63, height 1..=30, width 1..=2^h)
/// with at least `w` hashes of data, and must be the least tile holding
/// `index` or a wider version of it.
pub fn hash_from_tile(t: &Tile, data: &[u8], index: u64) -> Result<Hash, Error> {
    if !(1..=MAX_TILE_HEIGHT).contains(&t.h)
        || !(0..64).contains(&t.l)
        || t.w < 1
        || u64::from(t.w) > t.full_width()
    {
        return Err(Error::InvalidTile(t.path()));
    }
    if data.len() < t.w as usize * HASH_SIZE {
        return Err(Error::TileDataShort {
            len: data.len(),
            tile: t.path(),
        });
    }
    let (least, start, end) = locate(t.h, index);
    if t.l != least.l || t.n != least.n || t.w < least.w {
        return Err(Error::IndexNotInTile {
            index,
            actual: least.path(),
            tile: t.path(),
        });
    }
    Ok(tile_subtree_hash(&data[start..end]))
}

/// The tiles of height `h` a log publishes when it grows from `old_n` to
/// `new_n` records: at every tile level, each tile whose contents changed,
/// complete tiles at full width and the last one at its new partial width.
///
/// # Panics
///
/// If `h` is not in 1..=30.
pub fn new_tiles(h: u32, old_n: u64, new_n: u64) -> Vec<Tile> {
    assert!(
        (1..=MAX_TILE_HEIGHT).contains(&h),
        "new_tiles: invalid height {h}"
    );
    let mut tiles = Vec::new();
    let mut level: u32 = 0;
    while shr(new_n, h * level) > 0 {
        let old_count = shr(old_n, h * level); // hashes at this tree level
        let new_count = shr(new_n, h * level);
        if old_count != new_count {
            for n in (old_count >> h)..(new_count >> h) {
                tiles.push(Tile {
                    h,
                    l: level as i32,
                    n,
                    w: 1 << h,
                });
            }
            let n = new_count >> h;
            let w = new_count - (n << h);
            if w > 0 {
                tiles.push(Tile {
                    h,
                    l: level as i32,
                    n,
                    w: w as u32,
                });
            }
        }
        level += 1;
    }
    tiles
}

/// The data of tile `t` (a hash tile), read from `r`: its `w` hashes (2^h
/// if `w` is 0), concatenated.
pub fn read_tile_data<R: HashReader + ?Sized>(t: &Tile, r: &R) -> Result<Vec<u8>, Error> {
    if !(1..=MAX_TILE_HEIGHT).contains(&t.h)
        || !(0..64).contains(&t.l)
        || u64::from(t.w) > t.full_width()
    {
        return Err(Error::InvalidTile(t.path()));
    }
    let width = if t.w == 0 {
        t.full_width()
    } else {
        u64::from(t.w)
    };
    let level = t.h * t.l as u32;
    let first = shl(t.n, t.h);
    let indexes: Vec<u64> = (0..width)
        .map(|i| stored_hash_index(level, first + i))
        .collect();
    let hashes = read_exact(r, &indexes)?;
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Reads tiles of a log, typically from a cache or a server, for a
/// [`TileHashReader`].
pub trait TileReader {
    /// The height of the tiles (1..=30).
    fn height(&self) -> u32;

    /// The data of each tile, in order: exactly `tiles[i].w` hashes each.
    /// Data fetched from a server is not yet trusted: keep it out of any
    /// persistent cache until [`TileReader::save_tiles`] is called.
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, Error>;

    /// Says the data [`TileReader::read_tiles`] returned for these tiles has
    /// been checked against a trusted tree hash and can be kept.
    fn save_tiles(&self, tiles: &[CheckedTile]);

    /// The tiles as a [`TileHashReader`] of this very `tree` checked them
    /// before (handed to [`TileReader::save_tiles`]), when the reader still
    /// has every one of them: then nothing is read or hashed again. A tile
    /// checked against any other tree does not count. `None` (the default)
    /// reads and checks as usual.
    fn checked_before(&self, _tiles: &[Tile], _tree: Tree) -> Option<Vec<CheckedTile>> {
        None
    }
}

/// A tile whose data a [`TileHashReader`] has checked against a trusted
/// tree hash. Only this module constructs it, so a value of this type is
/// proof that the check happened: a persistent cache can demand it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTile {
    tile: Tile,
    data: Vec<u8>,
    tree: Tree,
}

impl CheckedTile {
    /// The tile.
    pub fn tile(&self) -> Tile {
        self.tile
    }
    /// The tree whose hash it was checked against.
    pub fn tree(&self) -> Tree {
        self.tree
    }
    /// Its checked data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// A [`HashReader`] that reads the hashes of one tree through a
/// [`TileReader`], and trusts nothing it reads until it has checked it.
///
/// For each request it reads, in one call, the tiles that make up the
/// tree's hash and the tiles holding the wanted hashes (with the parent
/// tiles linking them), checks that the first hash to the trusted
/// [`Tree::hash`] and that every other tile hashes to what its parent has
/// for it, and only then calls [`TileReader::save_tiles`] and answers. Any
/// hash it returns is therefore proven to be in the tree.
pub struct TileHashReader<'a, R: ?Sized> {
    tree: Tree,
    tiles: &'a R,
}

impl<'a, R: TileReader + ?Sized> TileHashReader<'a, R> {
    /// A reader of the hashes of `tree`, a tree the caller trusts (one whose
    /// signed head it has verified).
    pub fn new(tree: Tree, tiles: &'a R) -> Self {
        TileHashReader { tree, tiles }
    }
}

/// The `k`th ancestor of tile `t` in a tree of `n` records, at the width
/// that tree has it (complete, or the part the tree has), or `None` if the
/// tree has no hash of it yet.
fn tile_ancestor(t: Tile, k: u32, n: u64) -> Option<Tile> {
    let l = t.l as u32 + k;
    let tile_n = shr(t.n, k * t.h);
    let present = shr(n, l * t.h); // hashes the tree has at the tile's bottom level
    let first = shl(tile_n, t.h);
    if first >= present {
        return None;
    }
    let w = (present - first).min(shl(1, t.h));
    Some(Tile {
        h: t.h,
        l: l as i32,
        n: tile_n,
        w: w as u32,
    })
}

/// The tiles to read for one request, in an order where every tile after
/// the first `roots` ones comes after its parent.
struct TilePlan {
    tiles: Vec<Tile>,
    position: HashMap<Tile, usize>,
}

impl TilePlan {
    fn add(&mut self, t: Tile) -> usize {
        *self.position.entry(t).or_insert_with(|| {
            self.tiles.push(t);
            self.tiles.len() - 1
        })
    }
}

impl<R: TileReader + ?Sized> HashReader for TileHashReader<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let h = self.tiles.height();
        if !(1..=MAX_TILE_HEIGHT).contains(&h) {
            return Err(Error::TileHeight(h));
        }
        let n = self.tree.n;
        let limit = stored_hash_index(0, n);
        if let Some(&index) = indexes.iter().find(|&&x| x >= limit) {
            return Err(Error::IndexNotInTree { index, n });
        }
        let lost = |what: &str| Error::Internal(format!("tile plan for tree {n}: {what}"));
        let mut plan = TilePlan {
            tiles: Vec::new(),
            position: HashMap::new(),
        };

        // The tiles holding the tree's complete subtrees: they must hash to
        // the trusted tree hash.
        let mut roots = Vec::new();
        subtree_indexes(0, n, &mut roots);
        let mut root_tiles = Vec::with_capacity(roots.len());
        for &x in &roots {
            let t = tile_ancestor(locate(h, x).0, 0, n).ok_or_else(|| lost("root tile"))?;
            root_tiles.push(plan.add(t));
        }
        let root_tile_count = plan.tiles.len();

        // The tiles holding the wanted hashes, each with the chain of parents
        // up to a tile already planned, parents first.
        let mut wanted = Vec::with_capacity(indexes.len());
        for &x in indexes {
            let base = locate(h, x).0;
            let mut k = 0;
            loop {
                if k > 64 {
                    return Err(lost("no planned ancestor"));
                }
                if tile_ancestor(base, k, n).is_some_and(|t| plan.position.contains_key(&t)) {
                    break;
                }
                k += 1;
            }
            for j in (0..k).rev() {
                let t = tile_ancestor(base, j, n).ok_or_else(|| lost("missing tile"))?;
                if u64::from(t.w) != t.full_width() {
                    return Err(lost("partial tile below another"));
                }
                plan.add(t);
            }
            let t = tile_ancestor(base, 0, n).ok_or_else(|| lost("missing tile"))?;
            wanted.push(plan.position[&t]);
        }

        // The same tiles checked against this same tree before: the hashes
        // are read from them as they are.
        if let Some(c) = self.tiles.checked_before(&plan.tiles, self.tree) {
            let same = c.len() == plan.tiles.len()
                && c.iter().zip(&plan.tiles).all(|(c, t)| {
                    c.tile == *t && c.tree == self.tree && c.data.len() == t.w as usize * HASH_SIZE
                });
            if same {
                return indexes
                    .iter()
                    .zip(wanted)
                    .map(|(&x, i)| hash_from_tile(&plan.tiles[i], &c[i].data, x))
                    .collect();
            }
        }

        let data = self.tiles.read_tiles(&plan.tiles)?;
        if data.len() != plan.tiles.len() {
            return Err(Error::TileCount {
                want: plan.tiles.len(),
                got: data.len(),
            });
        }
        for (t, d) in plan.tiles.iter().zip(&data) {
            let want = t.w as usize * HASH_SIZE;
            if d.len() != want {
                return Err(Error::TileDataLength {
                    tile: t.path(),
                    want,
                    got: d.len(),
                });
            }
        }

        // The root tiles against the tree hash, folded from the right.
        let mut acc: Option<Hash> = None;
        for (&x, &i) in roots.iter().zip(&root_tiles).rev() {
            let sub = hash_from_tile(&plan.tiles[i], &data[i], x)?;
            acc = Some(match acc {
                None => sub,
                Some(right) => node_hash(sub, right),
            });
        }
        if acc != Some(self.tree.hash) {
            return Err(Error::InconsistentTile(None));
        }

        // Every other tile against the hash its (already checked) parent has.
        for i in root_tile_count..plan.tiles.len() {
            let t = plan.tiles[i];
            let parent = tile_ancestor(t, 1, n).ok_or_else(|| lost("no parent"))?;
            let j = *plan
                .position
                .get(&parent)
                .filter(|&&j| j < i)
                .ok_or_else(|| lost("parent order"))?;
            let index = stored_hash_index(parent.l as u32 * h, t.n);
            let expected = hash_from_tile(&parent, &data[j], index)?;
            if expected != tile_subtree_hash(&data[i]) {
                return Err(Error::InconsistentTile(Some(t.path())));
            }
        }

        let checked: Vec<CheckedTile> = plan
            .tiles
            .iter()
            .zip(&data)
            .map(|(t, d)| CheckedTile {
                tile: *t,
                data: d.clone(),
                tree: self.tree,
            })
            .collect();
        self.tiles.save_tiles(&checked);

        indexes
            .iter()
            .zip(wanted)
            .map(|(&x, i)| hash_from_tile(&plan.tiles[i], &data[i], x))
            .collect()
    }
}

/// A tree head: a tree's size and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Tree {
    /// The number of records.
    pub n: u64,
    /// The tree hash.
    pub hash: Hash,
}

/// The first line of a tree head.
const TREE_HEADER: &[u8] = b"go.sum database tree\n";

/// The text of a tree head: `go.sum database tree`, the size in decimal and
/// the hash in base64, each on its own line.
pub fn format_tree(tree: &Tree) -> String {
    format!("go.sum database tree\n{}\n{}\n", tree.n, tree.hash)
}

/// Parses the text of a tree head (the text of the signed note).
///
/// It must start with the line `go.sum database tree`, have at least three
/// lines each ending in a newline, and be at most 1,000,000 bytes; the
/// second line is the size in canonical decimal (no sign, no leading zero)
/// up to 2^63-1, the third the hash. Lines after the third are ignored, for
/// later versions of the format.
pub fn parse_tree(text: &[u8]) -> Result<Tree, Error> {
    if !text.starts_with(TREE_HEADER) {
        return Err(Error::MalformedTree(
            "does not start with \"go.sum database tree\"",
        ));
    }
    if text.len() > 1_000_000 {
        return Err(Error::MalformedTree("too long"));
    }
    let mut lines = text[TREE_HEADER.len()..].splitn(3, |&b| b == b'\n');
    let (Some(size), Some(hash), Some(_)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(Error::MalformedTree("fewer than three lines"));
    };
    let n = std::str::from_utf8(size)
        .ok()
        .and_then(parse_digits)
        .filter(|&n| n <= i64::MAX as u64 && n.to_string().as_bytes() == size)
        .ok_or(Error::MalformedTree("invalid tree size"))?;
    let hash = std::str::from_utf8(hash)
        .ok()
        .and_then(|s| parse_hash(s).ok())
        .ok_or(Error::MalformedTree("invalid tree hash"))?;
    Ok(Tree { n, hash })
}

/// Whether `text` may be a record's text: UTF-8 with no ASCII control
/// character but newline, ending in a newline, with no blank line.
fn check_record_text(text: &[u8]) -> Result<(), Error> {
    let s = std::str::from_utf8(text).map_err(|_| Error::MalformedRecord("not valid UTF-8"))?;
    if s.chars().any(|c| c < ' ' && c != '\n') {
        return Err(Error::MalformedRecord("control character"));
    }
    if !s.ends_with('\n') {
        return Err(Error::MalformedRecord("does not end in a newline"));
    }
    if s.starts_with('\n') || s.contains("\n\n") {
        return Err(Error::MalformedRecord("blank line"));
    }
    Ok(())
}

/// A record as a lookup response carries it: the record id in decimal on a
/// line, the record text, and a blank line. The text must be valid record
/// text (UTF-8, no control character but newline, ends in a newline, no
/// blank line).
pub fn format_record(id: u64, text: &[u8]) -> Result<Vec<u8>, Error> {
    check_record_text(text)?;
    let mut msg = format!("{id}\n").into_bytes();
    msg.extend_from_slice(text);
    msg.push(b'\n');
    Ok(msg)
}

/// Parses a record at the start of `msg` as [`format_record`] writes it,
/// returning its id, its text, and the bytes after its terminating blank
/// line.
pub fn parse_record(msg: &[u8]) -> Result<(u64, &[u8], &[u8]), Error> {
    let nl = msg
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(Error::MalformedRecord("no record id line"))?;
    let id = std::str::from_utf8(&msg[..nl])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Error::MalformedRecord("invalid record id"))?;
    let body = &msg[nl + 1..];
    let end = body
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or(Error::MalformedRecord("no blank line after the record"))?;
    let (text, rest) = (&body[..end + 1], &body[end + 2..]);
    check_record_text(text)?;
    Ok((id, text, rest))
}

/// One go.sum line of a checksum-database record:
/// `<module> <version>[/go.mod] <hash>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SumLine<'a> {
    /// The module path.
    pub path: &'a str,
    /// The version, with `/go.mod` for the hash of the go.mod file alone.
    pub version: &'a str,
    /// The hash, such as `h1:...`.
    pub hash: &'a str,
}

impl SumLine<'_> {
    /// Whether this line is the hash of the go.mod file alone.
    pub fn is_go_mod(&self) -> bool {
        self.version.ends_with("/go.mod")
    }
}

/// The go.sum lines of a record's text: valid record text whose every line
/// is three non-empty fields separated by single spaces. (A checksum
/// database record for `module@version` holds the module's line and its
/// `/go.mod` line; checking the module path and version is the caller's.)
pub fn parse_sum_lines(text: &[u8]) -> Result<Vec<SumLine<'_>>, Error> {
    check_record_text(text)?;
    let s = std::str::from_utf8(text).map_err(|_| Error::MalformedRecord("not valid UTF-8"))?;
    s.lines()
        .map(|line| {
            let mut f = line.split(' ');
            match (f.next(), f.next(), f.next(), f.next()) {
                (Some(path), Some(version), Some(hash), None)
                    if !path.is_empty() && !version.is_empty() && !hash.is_empty() =>
                {
                    Ok(SumLine {
                        path,
                        version,
                        hash,
                    })
                }
                _ => Err(Error::MalformedRecord("go.sum line is not three fields")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored hash index by the definition: replay appends and count.
    #[test]
    fn stored_hash_index_matches_appending() {
        let mut index = 0u64;
        for m in 0u64..300 {
            assert_eq!(stored_hash_index(0, m), index, "record {m}");
            index += 1;
            for level in 1..=(m + 1).trailing_zeros() {
                let n = ((m + 1) >> level) - 1;
                assert_eq!(stored_hash_index(level, n), index, "({level}, {n})");
                assert_eq!(split_stored_hash_index(index), (level, n));
                index += 1;
            }
            assert_eq!(stored_hash_count(m + 1), index);
        }
    }

    #[test]
    fn split_extremes_do_not_panic() {
        for index in [u64::MAX, u64::MAX - 1, u64::MAX / 2, 1 << 62] {
            let (level, n) = split_stored_hash_index(index);
            assert_eq!(stored_hash_index(level, n), index);
        }
        let _ = stored_hash_index(200, u64::MAX);
    }

    #[test]
    fn locate_matches_least_tile() {
        // h = 2: stored index 2 is node (1, 0), in tile 0/000 at width 2.
        let (t, start, end) = locate(2, 2);
        assert_eq!(
            t,
            Tile {
                h: 2,
                l: 0,
                n: 0,
                w: 2
            }
        );
        assert_eq!((start, end), (0, 64));
        // node (2, 0) is the tile's root: at tile level 1, position 0.
        let (t, ..) = locate(2, stored_hash_index(2, 0));
        assert_eq!(
            t,
            Tile {
                h: 2,
                l: 1,
                n: 0,
                w: 1
            }
        );
    }

    #[test]
    fn tree_format_round_trip() {
        let tree = Tree {
            n: 123456789012,
            hash: record_hash(b"hello world"),
        };
        let text = format_tree(&tree);
        assert_eq!(
            text,
            "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"
        );
        assert_eq!(parse_tree(text.as_bytes()).unwrap(), tree);
        for bad in ["0123", "+5", "-0", "", "9223372036854775808"] {
            let t = format!("go.sum database tree\n{bad}\n{}\n", tree.hash);
            assert!(parse_tree(t.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
