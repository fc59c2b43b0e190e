//! The transparency log's untrusted inputs: tile paths, tree heads, lookup
//! records and go.sum lines, hashes, tile data, proofs.
//!
//! Input: arbitrary bytes, read (1) as text for every parser: a parsed tile
//! path is the tile's own path and is in range, a parsed tree head, record
//! or go.sum text formats back to something that parses the same; (2) as
//! numbers (a tile, an index, tree sizes) and hashes for `hash_from_tile`,
//! `check_record` and `check_tree`, which must never panic; (3) as the
//! shape of a small real log (height, size, indexes) plus edits to the
//! tiles a server sends for it: a `TileHashReader` that accepts the tiles
//! must return exactly the log's true hashes, and a record or tree proof
//! must check only when it is the true proof.
#![no_main]

use gomod::tlog::{self, Hash, HashReader as _, Tile, TileReader, Tree};
use libfuzzer_sys::fuzz_target;

/// Numbers taken from the front of the input, zero once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn hash(&mut self) -> Hash {
        Hash(self.take())
    }
}

fn check_text(data: &[u8]) {
    if let Ok(tree) = tlog::parse_tree(data) {
        let text = tlog::format_tree(&tree);
        assert_eq!(tlog::parse_tree(text.as_bytes()).unwrap(), tree);
    }
    // The text of a note, up to its last blank line, as a tree head.
    if let Some(p) = data.windows(2).rposition(|w| w == b"\n\n") {
        let _ = tlog::parse_tree(&data[..p + 1]);
    }
    if let Ok((id, text, rest)) = tlog::parse_record(data) {
        let mut again = tlog::format_record(id, text).expect("a parsed record formats");
        again.extend_from_slice(rest);
        let (id2, text2, rest2) = tlog::parse_record(&again).expect("a formatted record parses");
        assert_eq!((id2, text2, rest2), (id, text, rest));
        check_sum_lines(text);
    }
    check_sum_lines(data);
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = tlog::parse_tile_path(s) {
        assert_eq!(t.path(), s);
        assert!((1..=tlog::MAX_TILE_HEIGHT).contains(&t.h), "{t:?}");
        assert!((-1..=63).contains(&t.l), "{t:?}");
        assert!(t.w >= 1 && u64::from(t.w) <= 1u64 << t.h, "{t:?}");
    }
    for line in s.lines() {
        if let Ok(h) = tlog::parse_hash(line) {
            assert_eq!(tlog::parse_hash(&h.to_string()).unwrap(), h);
        }
    }
}

fn check_sum_lines(text: &[u8]) {
    if let Ok(lines) = tlog::parse_sum_lines(text) {
        let joined: String = lines
            .iter()
            .map(|l| format!("{} {} {}\n", l.path, l.version, l.hash))
            .collect();
        assert_eq!(joined.as_bytes(), text);
    }
}

fn check_numbers(data: &[u8]) {
    let mut b = Bytes(data);
    let tile = Tile {
        h: u32::from(b.u8()),
        l: i32::from(b.u8() as i8),
        n: b.u64(),
        w: b.u32(),
    };
    let index = b.u64();
    let _ = tlog::hash_from_tile(&tile, b.0, index);
    let (t, n) = (b.u64(), b.u64());
    let (th, h) = (b.hash(), b.hash());
    let proof: Vec<Hash> =
        b.0.chunks_exact(32)
            .map(|c| Hash(c.try_into().unwrap()))
            .collect();
    let _ = tlog::check_record(&proof, t, th, n, h);
    let _ = tlog::check_tree(&proof, t, th, n, h);
    let _ = tlog::tile_for_index(1 + (tile.h % tlog::MAX_TILE_HEIGHT), index);
}

/// A server's answers for a real log, with edits applied.
struct Server<'a> {
    height: u32,
    stored: &'a [Hash],
    edits: Vec<(usize, usize, u8)>,
    truncate: Option<usize>,
}

impl TileReader for Server<'_> {
    fn height(&self) -> u32 {
        self.height
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        let mut out = Vec::with_capacity(tiles.len());
        for t in tiles {
            out.push(tlog::read_tile_data(t, self.stored)?);
        }
        for &(tile, byte, x) in &self.edits {
            if let Some(d) = out.get_mut(tile % tiles.len()) {
                let at = byte % d.len().max(1);
                if let Some(b) = d.get_mut(at) {
                    *b ^= x;
                }
            }
        }
        if let Some(i) = self.truncate {
            let i = i % tiles.len();
            out[i].pop();
        }
        Ok(out)
    }
    /// A tile handed over as checked is exactly the true tile: tampered or
    /// truncated data never gets a `CheckedTile`.
    fn save_tiles(&self, tiles: &[tlog::CheckedTile]) {
        for t in tiles {
            let truth = tlog::read_tile_data(&t.tile(), self.stored).unwrap();
            assert_eq!(
                t.data(),
                &truth[..],
                "checked tile {} is not the true tile",
                t.tile().path()
            );
        }
    }
}

fn check_log(data: &[u8]) {
    let mut b = Bytes(data);
    let height = 1 + u32::from(b.u8() % 4);
    let n = 1 + u64::from(b.u16() % 200);
    let mut stored: Vec<Hash> = Vec::new();
    for i in 0..n {
        let more = tlog::stored_hashes(i, &i.to_le_bytes(), &stored).unwrap();
        stored.extend(more);
    }
    assert_eq!(stored.len() as u64, tlog::stored_hash_count(n));
    let tree = Tree {
        n,
        hash: tlog::tree_hash(n, &stored).unwrap(),
    };

    let limit = tlog::stored_hash_index(0, n);
    let indexes: Vec<u64> = (0..1 + b.u8() % 4)
        .map(|_| u64::from(b.u16()) % limit)
        .collect();
    let edit_count = b.u8() % 4;
    let edits: Vec<(usize, usize, u8)> = (0..edit_count)
        .map(|_| (usize::from(b.u8()), usize::from(b.u16()), b.u8()))
        .collect();
    let truncate = (b.u8() % 8 == 1).then(|| usize::from(b.u8()));
    let tampered = edits.iter().any(|e| e.2 != 0) || truncate.is_some();
    let server = Server {
        height,
        stored: &stored,
        edits,
        truncate,
    };
    let reader = tlog::TileHashReader::new(tree, &server);
    match reader.read_hashes(&indexes) {
        Ok(hashes) => {
            let want: Vec<Hash> = indexes.iter().map(|&i| stored[i as usize]).collect();
            assert_eq!(hashes, want, "accepted tiles gave wrong hashes");
        }
        Err(e) => assert!(tampered, "honest tiles refused: {e}"),
    }

    // Record and tree proofs: the true one checks; a changed one does not.
    let r = u64::from(b.u16()) % n;
    let proof = tlog::prove_record(n, r, &stored).unwrap();
    let rh = tlog::record_hash(&r.to_le_bytes());
    tlog::check_record(&proof, n, tree.hash, r, rh).expect("true record proof");
    let old = 1 + u64::from(b.u16()) % n;
    let old_hash = tlog::tree_hash(old, &stored).unwrap();
    let tproof = tlog::prove_tree(n, old, &stored).unwrap();
    tlog::check_tree(&tproof, n, tree.hash, old, old_hash).expect("true tree proof");
    let (which, byte, x) = (usize::from(b.u8()), usize::from(b.u8()) % 32, b.u8());
    let drop_last = b.u8() % 4 == 0;
    let tamper = |p: &[Hash]| {
        let mut bad = p.to_vec();
        if drop_last {
            bad.pop();
        } else if !bad.is_empty() {
            let i = which % bad.len();
            bad[i].0[byte] ^= x;
        }
        bad
    };
    let bad = tamper(&proof);
    if bad != proof {
        assert!(
            tlog::check_record(&bad, n, tree.hash, r, rh).is_err(),
            "a changed record proof checked"
        );
    }
    let bad = tamper(&tproof);
    if bad != tproof {
        assert!(
            tlog::check_tree(&bad, n, tree.hash, old, old_hash).is_err(),
            "a changed tree proof checked"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    check_text(data);
    check_numbers(data);
    check_log(data);
});
