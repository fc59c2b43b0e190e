//! `zip::digest_stream` (each entry's content verified and digested while
//! the zip arrives) and `zip::check_and_hash_zip_streamed` (the check that
//! uses those digests instead of reading the content again): for every zip
//! the other tests use — x/mod's vectors, zips made by `create`, by the
//! `zip` crate and by Go, corrupt and hostile ones — and for layouts made
//! here (data descriptors with and without signature, zip64, overlapping
//! entries), the streamed check must give exactly the verdict of
//! `check_and_hash_zip`. Plus: the digests are really used, and only for
//! the entry they describe; the stream stops and drains where it should;
//! progress; memory bounded against hostile sizes.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Cursor, Read, Write};

use gomod::dirhash;
use gomod::zip::{self as modzip, Limits, MemFile, Progress, Stop, StreamDigests, ZipSummary};
use support::txtar::{vector_files, Vector};
use support::zips::{
    crc32, deflate_zip, go_simple_zip, layout_zip, lying_zip, patch, raw_zip, raw_zip_with_extra,
    small_limits, txtar_zip, Descriptor, Piece,
};

// ---------------------------------------------------------------------------
// Counting what this thread allocates
// ---------------------------------------------------------------------------

/// The system allocator, counting the bytes each thread asks for.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

fn count(n: usize) {
    // `try_with`: nothing to count while the thread is torn down.
    let _ = ALLOCATED.try_with(|a| a.set(a.get() + n as u64));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size.saturating_sub(layout.size()));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// `f`'s result and the bytes this thread allocated while it ran.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATED.with(Cell::get);
    let t = f();
    (t, ALLOCATED.with(Cell::get) - before)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const M: &str = "example.com/m";
const V: &str = "v1.0.0";

/// A reader that hands out its bytes a few at a time (1 to 13 bytes, or
/// larger odd chunks for big inputs), so that records straddle every
/// buffer boundary.
struct Dribble<'a> {
    data: &'a [u8],
    steps: &'static [usize],
    i: usize,
}

impl<'a> Dribble<'a> {
    fn new(data: &'a [u8]) -> Self {
        let steps: &'static [usize] = if data.len() > 1 << 20 {
            &[65_537, 1, 4093, 262_145, 7]
        } else {
            &[1, 2, 3, 5, 7, 11, 13]
        };
        Dribble { data, steps, i: 0 }
    }
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.steps[self.i % self.steps.len()]
            .min(buf.len())
            .min(self.data.len());
        self.i += 1;
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Checks the progress reports of a stream of `len` bytes: offsets never
/// decrease, `verified_end <= consumed`, the last report covers the whole
/// stream.
fn check_progress(desc: &str, seen: &[Progress], len: usize, verified_end: u64) {
    let last = seen.last().unwrap_or_else(|| panic!("{desc}: no progress"));
    assert_eq!(last.consumed, len as u64, "{desc}: last report");
    assert_eq!(last.verified_end, verified_end, "{desc}: last report");
    for w in seen.windows(2) {
        assert!(
            w[0].consumed <= w[1].consumed && w[0].verified_end <= w[1].verified_end,
            "{desc}: progress went back: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    for p in seen {
        assert!(p.verified_end <= p.consumed, "{desc}: {p:?}");
    }
}

/// Digests `zip` as a stream (also a few bytes at a time, which must give
/// the same digests), checking progress and that the stream is read to its
/// end.
fn digest(desc: &str, module: &str, version: &str, zip: &[u8], limits: &Limits) -> StreamDigests {
    let mut seen = Vec::new();
    let d =
        modzip::digest_stream_with_limits(zip, module, version, limits, |p| seen.push(p)).unwrap();
    assert_eq!(d.consumed(), zip.len() as u64, "{desc}: stream not drained");
    assert!(d.verified_end() <= d.consumed(), "{desc}");
    check_progress(desc, &seen, zip.len(), d.verified_end());
    let dribbled =
        modzip::digest_stream_with_limits(Dribble::new(zip), module, version, limits, |_| {})
            .unwrap();
    assert_eq!(
        dribbled, d,
        "{desc}: digests depend on how the input is cut"
    );
    d
}

/// Two outcomes are the same: equal summaries, or errors with equal
/// messages.
fn assert_same(
    desc: &str,
    plain: &Result<ZipSummary, modzip::Error>,
    streamed: &Result<ZipSummary, modzip::Error>,
) {
    match (plain, streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{desc}"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{desc}"),
        (a, b) => panic!("{desc}: check_and_hash_zip gives {a:?}, the streamed check {b:?}"),
    }
}

/// Checks `zip` with and without the digests of its own stream; the two
/// must agree. Returns the digests and the outcome.
fn agree(
    desc: &str,
    module: &str,
    version: &str,
    zip: &[u8],
    limits: &Limits,
) -> (StreamDigests, Result<ZipSummary, modzip::Error>) {
    let d = digest(desc, module, version, zip, limits);
    let plain = modzip::check_and_hash_zip_with_limits(module, version, Cursor::new(zip), limits);
    let streamed = modzip::check_and_hash_zip_streamed_with_limits(
        module,
        version,
        Cursor::new(zip),
        &d,
        limits,
    );
    assert_same(desc, &plain, &streamed);
    (d, streamed)
}

fn create(module: &str, version: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let files: Vec<MemFile> = files
        .iter()
        .map(|(p, d)| MemFile {
            path: p.to_string(),
            data: d.to_vec(),
        })
        .collect();
    let mut out = Vec::new();
    modzip::create(&mut out, module, version, &files).unwrap();
    out
}

/// Reproducible bytes that deflate to about half their size.
fn text(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let word = [
            "func ",
            "return ",
            "if err != nil ",
            "{\n",
            "}\n",
            "x",
            "42",
            "\t",
        ];
        out.extend_from_slice(word[(x % 8) as usize].as_bytes());
        out.push(b'a' + (x >> 8) as u8 % 26);
    }
    out.truncate(len);
    out
}

/// A zip written by the `zip` crate's seekable writer (sizes in the local
/// headers, no descriptors), with `method`; `large` adds zip64 extra
/// fields.
fn crate_zip(entries: &[(&str, &[u8])], method: ::zip::CompressionMethod, large: bool) -> Vec<u8> {
    let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = ::zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(large);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The offset of the central directory, from the end record (no comment).
fn dir_offset(zip: &[u8]) -> usize {
    let end = zip.len() - 22;
    u32::from_le_bytes(zip[end + 16..end + 20].try_into().unwrap()) as usize
}

/// Two central directory entries for one local entry: `b.go`, and `c.go`
/// whose header offset is `b.go`'s (a local header read under two names).
/// Also `a.go`, whose stored data holds a whole local entry, `x.go`, which
/// the central directory lists at its offset inside `a.go`'s data.
fn overlapping_zips() -> Vec<(&'static str, Vec<u8>)> {
    let name = |n: &str| format!("{M}@{V}/{n}").into_bytes();
    let (a, b, c, x) = (name("a.go"), name("b.go"), name("c.go"), name("x.go"));
    let mut out = Vec::new();

    // x.go's local entry, inside a.go's data.
    let inner = layout_zip(&[Piece {
        name: &x,
        data: b"package x\n",
        ..Piece::default()
    }]);
    let inner_dir = dir_offset(&inner);
    let inner_local = inner[..inner_dir].to_vec();
    let mut x_central = inner[inner_dir..inner.len() - 22].to_vec();
    let outer = layout_zip(&[Piece {
        name: &a,
        data: &inner_local,
        ..Piece::default()
    }]);
    let x_offset = (30 + a.len()) as u32;
    x_central[42..46].copy_from_slice(&x_offset.to_le_bytes());
    out.push((
        "local entry inside another's data",
        add_central(&outer, &x_central),
    ));

    // c.go listed at b.go's local header.
    let z = layout_zip(&[Piece {
        name: &b,
        data: b"package b\n",
        deflate: true,
        descriptor: Some(Descriptor {
            sig: true,
            wide: false,
        }),
        ..Piece::default()
    }]);
    let d = dir_offset(&z);
    let mut c_central = z[d..z.len() - 22].to_vec();
    c_central.truncate(46);
    c_central[28..30].copy_from_slice(&(c.len() as u16).to_le_bytes());
    c_central.extend_from_slice(&c);
    out.push((
        "one local header under two names",
        add_central(&z, &c_central),
    ));

    // b.go listed twice at the same header.
    let b_central = z[d..z.len() - 22].to_vec();
    out.push(("one local header listed twice", add_central(&z, &b_central)));
    out
}

/// `zip` with one more central directory entry (`central`) at the end of
/// its directory, the end record updated.
fn add_central(zip: &[u8], central: &[u8]) -> Vec<u8> {
    let end = zip.len() - 22;
    let mut out = zip[..end].to_vec();
    out.extend_from_slice(central);
    let mut rec = zip[end..].to_vec();
    let records = u16::from_le_bytes([rec[10], rec[11]]) + 1;
    rec[8..10].copy_from_slice(&records.to_le_bytes());
    rec[10..12].copy_from_slice(&records.to_le_bytes());
    let size = u32::from_le_bytes(rec[12..16].try_into().unwrap()) + central.len() as u32;
    rec[12..16].copy_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&rec);
    out
}

// ---------------------------------------------------------------------------
// The corpus: every zip the other tests use, and more
// ---------------------------------------------------------------------------

struct Case {
    desc: String,
    module: String,
    version: String,
    zip: Vec<u8>,
    limits: Limits,
}

fn case(desc: impl Into<String>, zip: Vec<u8>) -> Case {
    Case {
        desc: desc.into(),
        module: M.into(),
        version: V.into(),
        zip,
        limits: Limits::default(),
    }
}

fn limited(desc: impl Into<String>, zip: Vec<u8>, limits: &Limits) -> Case {
    Case {
        limits: limits.clone(),
        ..case(desc, zip)
    }
}

/// x/mod's vectors as zips: the stored zips the vector tests build, and
/// for the vectors that list a module's files, those files stored with
/// the prefix and zipped by `create`.
fn vector_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in [
        "check_zip",
        "unzip",
        "create",
        "create_from_dir",
        "check_files",
        "check_dir",
    ] {
        for file in vector_files(kind) {
            let mut v = Vector::load(&file);
            let Ok(path) = v.module_path() else { continue };
            let module = if path.is_empty() { M } else { path }.to_string();
            let version = if v.version.is_empty() {
                V.to_string()
            } else {
                v.version.clone()
            };
            if matches!(kind, "check_zip" | "check_files" | "check_dir") {
                v.take_want();
            }
            let with = |desc: String, zip: Vec<u8>| Case {
                desc,
                module: module.clone(),
                version: version.clone(),
                zip,
                limits: Limits::default(),
            };
            cases.push(with(
                format!("{} (stored, as listed)", v.name),
                txtar_zip(&v),
            ));
            if matches!(kind, "check_zip" | "unzip") {
                continue;
            }
            let prefixed: Vec<(Vec<u8>, &[u8])> = v
                .archive
                .files
                .iter()
                .map(|(n, d)| (format!("{module}@{version}/{n}").into_bytes(), &d[..]))
                .collect();
            let entries: Vec<(&[u8], &[u8], Option<u32>)> =
                prefixed.iter().map(|(n, d)| (&n[..], *d, None)).collect();
            cases.push(with(
                format!("{} (stored, prefixed)", v.name),
                raw_zip(&entries),
            ));
            let files: Vec<MemFile> = v
                .archive
                .files
                .iter()
                .map(|(n, d)| MemFile {
                    path: n.clone(),
                    data: d.clone(),
                })
                .collect();
            let mut zip = Vec::new();
            if modzip::create(&mut zip, &module, &version, &files).is_ok() {
                cases.push(with(format!("{} (create)", v.name), zip));
            }
        }
    }
    cases
}

/// The corrupt and hostile zips of the zip vector and summary tests, with
/// the limits they are checked under.
fn hostile_cases() -> Vec<Case> {
    let l = small_limits();
    let bomb_limits = Limits {
        max_unzipped: 1 << 20,
        ..Limits::default()
    };
    let mut cases = Vec::new();

    let simple = go_simple_zip();
    cases.push(case("Go's zip of create/simple", simple.clone()));
    let mut bad_descriptor = simple.clone();
    let crc = 0x1be4_cd49u32.to_le_bytes();
    let at = bad_descriptor
        .windows(8)
        .position(|w| w[..4] == 0x0807_4b50u32.to_le_bytes() && w[4..] == crc)
        .unwrap();
    bad_descriptor[at + 4] ^= 1;
    cases.push(case("descriptor CRC-32 wrong", bad_descriptor));
    for cut in [1, 22, simple.len() / 2, simple.len() - 1] {
        cases.push(case(
            format!("Go's zip less {cut} bytes"),
            simple[..simple.len() - cut].to_vec(),
        ));
    }
    let mut prepended = b"#!/bin/sh\nexit 0\n".to_vec();
    prepended.extend_from_slice(&simple);
    cases.push(case("data before the first entry", prepended));

    cases.push(case("declared size a lie", lying_zip(0x0003_1337, 0x100)));
    cases.push(limited(
        "declared size a lie, large",
        lying_zip(3 << 20, 10),
        &bomb_limits,
    ));
    let go_mod = b"module example.com/m\n";
    cases.push(case(
        "declared size larger than content",
        raw_zip(&[(
            b"example.com/m@v1.0.0/go.mod",
            go_mod,
            Some(go_mod.len() as u32 + 5),
        )]),
    ));
    let mut corrupt = raw_zip(&[(b"example.com/m@v1.0.0/go.mod", go_mod, None)]);
    let at = corrupt.windows(6).position(|w| w == b"module").unwrap();
    corrupt[at] = b'M';
    cases.push(case("corrupt stored content", corrupt));
    let mut corrupt = create(M, V, &[("a.go", &[b'x'; 5000])]);
    corrupt[80] ^= 0xff;
    cases.push(case("corrupt deflated content", corrupt));

    let name = b"example.com/m@v1.0.0/go.mod";
    let other = b"example.com/m@v1.0.0/x.go";
    let mut extra = Vec::new();
    extra.extend_from_slice(&0x7075u16.to_le_bytes());
    extra.extend_from_slice(&((5 + other.len()) as u16).to_le_bytes());
    extra.push(1);
    extra.extend_from_slice(&crc32(name).to_le_bytes());
    extra.extend_from_slice(other);
    cases.push(case(
        "names readers disagree on",
        raw_zip_with_extra(&[(name, go_mod, None, &extra)]),
    ));

    let zeros = vec![0u8; 4 << 20];
    cases.push(limited(
        "deflate bomb",
        deflate_zip(&[("example.com/m@v1.0.0/bomb.go", &zeros)]),
        &bomb_limits,
    ));
    let part = vec![0u8; 400 << 10];
    cases.push(limited(
        "entries together over the limit",
        deflate_zip(&[
            ("example.com/m@v1.0.0/a.go", &part),
            ("example.com/m@v1.0.0/b.go", &part),
            ("example.com/m@v1.0.0/c.go", &part),
        ]),
        &bomb_limits,
    ));

    for prefix in ["m@v1.0.0/", "example.com/m@v1.0.0/"] {
        let n = |s: &str| format!("{prefix}{s}").into_bytes();
        let (dir, a, bad, nl, dirx) = (n(""), n("a"), n("\u{fffd}.go"), n("a\nb"), n("d/"));
        let mut non_utf8 = n("");
        non_utf8.extend_from_slice(b"\xff.go");
        for (desc, zip) in [
            (
                "directory entry",
                raw_zip(&[(&dir, b"", None), (&a, b"x", None)]),
            ),
            (
                "repeated name",
                raw_zip(&[(&a, b"first", None), (&a, b"second", None)]),
            ),
            ("non-UTF-8 name", raw_zip(&[(&non_utf8, b"x", None)])),
            ("replacement character", raw_zip(&[(&bad, b"x", None)])),
            ("newline in a name", raw_zip(&[(&nl, b"x", None)])),
            ("directory with content", raw_zip(&[(&dirx, b"x", None)])),
        ] {
            cases.push(case(format!("{desc} ({prefix})"), zip));
        }
    }
    cases.push(case(
        "repeated name without prefix",
        raw_zip(&[(b"a", b"first", None), (b"a", b"second", None)]),
    ));

    // x/mod's size limit cases, as deflated zips under small limits.
    let zeros = |name: &str, size: u64| (name.to_string(), vec![0u8; size as usize]);
    let size_cases = [
        ("one_large", vec![zeros("large.go", l.max_unzipped)]),
        ("one_too_large", vec![zeros("large.go", l.max_unzipped + 1)]),
        (
            "total_large",
            vec![
                zeros("small.go", 10),
                zeros("large.go", l.max_unzipped - 10),
            ],
        ),
        (
            "total_too_large",
            vec![zeros("small.go", 10), zeros("large.go", l.max_unzipped - 9)],
        ),
        ("large_gomod", vec![zeros("go.mod", l.max_go_mod)]),
        ("too_large_gomod", vec![zeros("go.mod", l.max_go_mod + 1)]),
        ("large_license", vec![zeros("LICENSE", l.max_license)]),
        (
            "too_large_license",
            vec![zeros("LICENSE", l.max_license + 1)],
        ),
    ];
    for (desc, files) in size_cases {
        let named: Vec<(String, &[u8])> = files
            .iter()
            .map(|(n, d)| (format!("example.com/large@v1.0.0/{n}"), &d[..]))
            .collect();
        let entries: Vec<(&str, &[u8])> = named.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        cases.push(Case {
            module: "example.com/large".into(),
            ..limited(format!("size limit {desc}"), deflate_zip(&entries), &l)
        });
    }
    let data = vec![0u8; 0x0BAD];
    let mut lie = deflate_zip(&[("example.com/m@v1.0.0/go.mod", &data)]);
    assert_eq!(patch(&mut lie, &[0xAD, 0x0B, 0, 0], &[0xAC, 0, 0, 0]), 2);
    cases.push(limited("size_is_a_lie", lie, &l));
    cases.push(limited(
        "junk of the zip limit",
        vec![0u8; l.max_zip_file as usize],
        &l,
    ));
    cases.push(limited(
        "junk over the zip limit",
        vec![0u8; l.max_zip_file as usize + 1],
        &l,
    ));

    for (desc, zip) in overlapping_zips() {
        cases.push(case(desc, zip));
    }
    cases.push(case("empty input", Vec::new()));
    cases
}

/// Zips that are valid module zips, in each layout the stream reader
/// follows: made by `create` (Deflate, descriptors), by Go, by the `zip`
/// crate (Store and Deflate with sizes in the local header, zip64 extra
/// fields), and by hand (descriptors with and without signature, with 32-
/// and 64-bit sizes; zip64 local sizes).
fn valid_cases() -> Vec<Case> {
    let go_mod = format!("module {M}\n\ngo 1.21\n").into_bytes();
    let big = text(700 << 10, 7);
    let files: Vec<(&str, &[u8])> = vec![
        ("go.mod", &go_mod),
        ("a.go", b"package m\n"),
        ("empty.go", b""),
        ("sub/big.txt", &big),
        ("LICENSE", b"BSD\n"),
    ];
    let full = |n: &str| format!("{M}@{V}/{n}");
    let named: Vec<(String, &[u8])> = files.iter().map(|(n, d)| (full(n), *d)).collect();
    let entries: Vec<(&str, &[u8])> = named.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let mut cases = vec![
        case("create", create(M, V, &files)),
        case("create, empty", create(M, V, &[])),
        case("Go's zip of create/simple", go_simple_zip()),
        case(
            "zip crate, Store",
            crate_zip(&entries, ::zip::CompressionMethod::Stored, false),
        ),
        case(
            "zip crate, Deflate",
            crate_zip(&entries, ::zip::CompressionMethod::Deflated, false),
        ),
        case(
            "zip crate, Store, zip64",
            crate_zip(&entries, ::zip::CompressionMethod::Stored, true),
        ),
        case(
            "zip crate, Deflate, zip64",
            crate_zip(&entries, ::zip::CompressionMethod::Deflated, true),
        ),
    ];
    let names: Vec<Vec<u8>> = named.iter().map(|(n, _)| n.clone().into_bytes()).collect();
    for (desc, descriptor, zip64_local, deflate) in [
        (
            "descriptor with signature",
            Some((true, false)),
            false,
            true,
        ),
        (
            "descriptor without signature",
            Some((false, false)),
            false,
            true,
        ),
        (
            "zip64 descriptor with signature",
            Some((true, true)),
            false,
            true,
        ),
        (
            "zip64 descriptor without signature",
            Some((false, true)),
            false,
            true,
        ),
        ("zip64 local sizes, Store", None, true, false),
        ("zip64 local sizes, Deflate", None, true, true),
        ("local sizes, Store", None, false, false),
        ("local sizes, Deflate", None, false, true),
    ] {
        let pieces: Vec<Piece> = names
            .iter()
            .zip(&files)
            .map(|(name, (_, data))| Piece {
                name,
                data,
                deflate,
                descriptor: descriptor.map(|(sig, wide)| Descriptor { sig, wide }),
                zip64_local,
                ..Piece::default()
            })
            .collect();
        cases.push(case(desc, layout_zip(&pieces)));
    }
    cases
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn every_zip_checks_the_same_with_its_stream_digests() {
    let mut cases = vector_cases();
    let vectors = cases.len();
    cases.extend(hostile_cases());
    cases.extend(valid_cases());
    let mut used = 0;
    for c in &cases {
        let (d, _) = agree(&c.desc, &c.module, &c.version, &c.zip, &c.limits);
        used += usize::from(!d.entries().is_empty());
    }
    println!(
        "{} zips ({vectors} from x/mod's vectors), {used} with streamed entries",
        cases.len()
    );
    assert!(vectors > 50, "{vectors}");
    assert!(used > cases.len() / 2, "{used} of {}", cases.len());
}

#[test]
fn valid_zips_are_streamed_whole() {
    for c in valid_cases() {
        let (d, summary) = agree(&c.desc, &c.module, &c.version, &c.zip, &c.limits);
        let summary = summary.unwrap_or_else(|e| panic!("{}: {e}", c.desc));
        summary.checked.err().unwrap();
        let n = ::zip::ZipArchive::new(Cursor::new(&c.zip)).unwrap().len();
        assert_eq!(d.stop(), &Stop::Directory, "{}", c.desc);
        assert_eq!(d.entries().len(), n, "{}: every entry streamed", c.desc);
        assert_eq!(
            d.verified_end() as usize,
            dir_offset(&c.zip),
            "{}: verified up to the directory",
            c.desc
        );
        assert_eq!(
            summary.h1.as_deref(),
            Some(dirhash::hash_zip(Cursor::new(&c.zip)).unwrap().as_str()),
            "{}",
            c.desc
        );
        assert_eq!(summary.go_mod.as_deref(), d.go_mod(), "{}", c.desc);
    }
}

/// A zip of two stored files, and where the second one's content starts.
fn two_files() -> (Vec<u8>, usize) {
    let a = format!("{M}@{V}/a.go").into_bytes();
    let b = format!("{M}@{V}/b.go").into_bytes();
    let zip = raw_zip(&[
        (&a, b"package m // a\n", None),
        (&b, b"package m // b\n", None),
    ]);
    let at = zip.windows(4).position(|w| w == b"// b").unwrap();
    (zip, at)
}

#[test]
fn a_digest_stands_in_for_reading_the_bytes_it_describes() {
    // The digests are of A; the check reads B, which differs from A in
    // b.go's content only (same central directory). The plain check of B
    // fails (wrong CRC-32); with A's digests nothing of b.go's content is
    // read, so B passes with A's hash: the digests were used. (This is why
    // the digests must come from the very bytes that are checked.)
    let (a, at) = two_files();
    let d = digest("A", M, V, &a, &Limits::default());
    let mut b = a.clone();
    b[at] = b'#';
    assert!(modzip::check_and_hash_zip(M, V, Cursor::new(&b)).is_err());
    let with_a = modzip::check_and_hash_zip_streamed(M, V, Cursor::new(&b), &d).unwrap();
    assert_eq!(
        with_a,
        modzip::check_and_hash_zip(M, V, Cursor::new(&a)).unwrap()
    );
}

#[test]
fn a_digest_is_not_used_for_an_entry_it_does_not_describe() {
    let (a, at) = two_files();
    let d = digest("A", M, V, &a, &Limits::default());
    let crc_b = crc32(b"package m // b\n").to_le_bytes();
    // B: b.go's content changed, and its CRC-32 (in both headers) no
    // longer that of A's content: the entry is read again, and fails as
    // the plain check does.
    let mut b = a.clone();
    b[at] = b'#';
    assert_eq!(patch(&mut b, &crc_b, &[1, 2, 3, 4]), 2);
    let plain = modzip::check_and_hash_zip(M, V, Cursor::new(&b));
    assert!(plain.is_err());
    let streamed = modzip::check_and_hash_zip_streamed(M, V, Cursor::new(&b), &d);
    assert_same("changed CRC-32", &plain, &streamed);

    // Digests of a stream of another length are not used at all.
    let mut longer = a.clone();
    longer.push(0);
    let d = digest("A+1", M, V, &longer, &Limits::default());
    let mut b = a.clone();
    b[at] = b'#';
    let streamed = modzip::check_and_hash_zip_streamed(M, V, Cursor::new(&b), &d);
    assert_same(
        "digests of another length",
        &modzip::check_and_hash_zip(M, V, Cursor::new(&b)),
        &streamed,
    );
}

#[test]
fn unsupported_layouts_stop_the_stream_and_the_check_reads_the_rest() {
    fn piece<'a>(name: &'a [u8], data: &'a [u8]) -> Piece<'a> {
        Piece {
            name,
            data,
            deflate: true,
            ..Piece::default()
        }
    }
    let names: Vec<Vec<u8>> = ["go.mod", "a.go", "b.go"]
        .iter()
        .map(|n| format!("{M}@{V}/{n}").into_bytes())
        .collect();
    let go_mod = format!("module {M}\n").into_bytes();
    let src = b"package m\n";
    let first = piece(&names[0], &go_mod);
    let last = piece(&names[2], src);
    for (desc, zip, valid) in [
        (
            "stored with a descriptor",
            layout_zip(&[
                first.clone(),
                Piece {
                    deflate: false,
                    descriptor: Some(Descriptor {
                        sig: true,
                        wide: false,
                    }),
                    ..piece(&names[1], src)
                },
                last.clone(),
            ]),
            true,
        ),
        (
            "unknown method",
            layout_zip(&[
                first.clone(),
                Piece {
                    method: Some(12),
                    ..piece(&names[1], src)
                },
                last.clone(),
            ]),
            false,
        ),
        (
            "bytes between entries",
            layout_zip(&[
                Piece {
                    gap: b"hidden",
                    ..first.clone()
                },
                piece(&names[1], src),
                last.clone(),
            ]),
            true,
        ),
    ] {
        let (d, result) = agree(desc, M, V, &zip, &Limits::default());
        assert!(
            matches!(d.stop(), Stop::Unsupported(_)),
            "{desc}: {:?}",
            d.stop()
        );
        assert_eq!(d.entries().len(), 1, "{desc}: go.mod only");
        assert_eq!(d.go_mod(), Some(&go_mod[..]), "{desc}");
        let ok = result.is_ok_and(|s| s.checked.err().is_ok());
        assert_eq!(ok, valid, "{desc}");
    }
}

#[test]
fn progress_is_reported_as_the_stream_advances() {
    let big = text(5 << 20, 3);
    let zip = create(M, V, &[("a.txt", &big), ("b.txt", &big[..1 << 20])]);
    let mut seen = Vec::new();
    let d = modzip::digest_stream(Dribble::new(&zip), M, V, |p| seen.push(p)).unwrap();
    check_progress("progress", &seen, zip.len(), d.verified_end());
    assert_eq!(d.entries().len(), 2);
    // At least every MiB read, and once per entry.
    assert!(seen.len() as u64 > zip.len() as u64 >> 20, "{seen:?}");
    let ends: Vec<u64> = seen.iter().map(|p| p.verified_end).collect();
    let first_end = d.entries()[1].header_offset;
    assert!(ends.contains(&first_end), "{ends:?}");
    // While the first entry streams, nothing is verified yet.
    assert!(seen
        .iter()
        .any(|p| p.verified_end == 0 && p.consumed >= 1 << 20));
}

#[test]
fn truncated_streams_check_the_same() {
    let zips = [
        go_simple_zip(),
        layout_zip(&[
            Piece {
                name: b"example.com/m@v1.0.0/a.go",
                data: b"package m\n",
                descriptor: Some(Descriptor {
                    sig: false,
                    wide: true,
                }),
                deflate: true,
                ..Piece::default()
            },
            Piece {
                name: b"example.com/m@v1.0.0/b.go",
                data: b"package m\n",
                zip64_local: true,
                ..Piece::default()
            },
        ]),
    ];
    for zip in zips {
        for cut in 0..zip.len() {
            let short = &zip[..cut];
            let (d, _) = agree(&format!("cut at {cut}"), M, V, short, &Limits::default());
            // Only a cut past the directory's first signature reaches it.
            let reached = cut >= dir_offset(&zip) + 4;
            assert_eq!(d.stop() == &Stop::Directory, reached, "cut at {cut}: {d:?}");
            // The digests of a prefix are not used for the whole zip.
            let whole = modzip::check_and_hash_zip_streamed(M, V, Cursor::new(&zip), &d);
            assert_same(
                &format!("whole, digests cut at {cut}"),
                &modzip::check_and_hash_zip(M, V, Cursor::new(&zip)),
                &whole,
            );
        }
    }
}

#[test]
fn hostile_declared_sizes_allocate_nothing_in_proportion() {
    let name = b"example.com/m@v1.0.0/a.go";
    let mut zips = Vec::new();
    // Stored, the local header declaring 4 GiB - 2.
    let mut z = raw_zip(&[(name, b"package m\n", None)]);
    let ten = 10u32.to_le_bytes();
    assert_eq!(patch(&mut z[..40], &ten, &(u32::MAX - 1).to_le_bytes()), 2);
    zips.push(("stored, 4 GiB declared", z));
    // Stored, zip64 local sizes of 2^62.
    let mut z = layout_zip(&[Piece {
        name,
        data: b"package m\n",
        zip64_local: true,
        ..Piece::default()
    }]);
    let at = 30 + name.len() + 4;
    z[at..at + 8].copy_from_slice(&(1u64 << 62).to_le_bytes());
    z[at + 8..at + 16].copy_from_slice(&(1u64 << 62).to_le_bytes());
    zips.push(("stored, 2^62 declared in zip64", z));
    // Deflate, 4 GiB declared, a tiny stream.
    let mut z = deflate_zip(&[("example.com/m@v1.0.0/a.go", b"package m\n")]);
    assert_eq!(patch(&mut z, &ten, &(u32::MAX - 1).to_le_bytes()), 2);
    zips.push(("deflate, 4 GiB declared", z));
    for (desc, zip) in zips {
        let (d, bytes) = allocated_by(|| modzip::digest_stream(&zip[..], M, V, |_| {}).unwrap());
        assert!(bytes < 2 << 20, "{desc}: allocated {bytes} bytes");
        assert!(d.entries().is_empty(), "{desc}: {d:?}");
        let _ = agree(desc, M, V, &zip, &Limits::default());
    }
}

#[test]
fn a_deflate_bomb_stops_the_stream_at_the_limit() {
    let limits = Limits {
        max_unzipped: 1 << 20,
        ..Limits::default()
    };
    let zeros = vec![0u8; 16 << 20];
    // With a data descriptor (no size to stop at) and without.
    for (desc, zip) in [
        ("bomb, create", create(M, V, &[("bomb.go", &zeros)])),
        (
            "bomb, sizes in the header",
            deflate_zip(&[("example.com/m@v1.0.0/bomb.go", &zeros)]),
        ),
    ] {
        assert!(zip.len() < 1 << 20);
        let (d, bytes) = allocated_by(|| {
            modzip::digest_stream_with_limits(&zip[..], M, V, &limits, |_| {}).unwrap()
        });
        assert!(bytes < 2 << 20, "{desc}: allocated {bytes} bytes");
        assert!(matches!(d.stop(), Stop::Unsupported(_)), "{desc}: {d:?}");
        assert!(d.entries().is_empty());
        let (_, result) = agree(desc, M, V, &zip, &limits);
        assert!(result.is_ok_and(|s| s.checked.err().is_err()), "{desc}");
    }
}

#[test]
fn a_go_mod_over_the_limit_is_not_kept_and_is_read_again() {
    let limits = Limits {
        max_go_mod: 100,
        ..Limits::default()
    };
    let big = vec![b'/'; 200];
    let zip = create(M, V, &[("go.mod", &big), ("a.go", b"package m\n")]);
    let (d, result) = agree("big go.mod", M, V, &zip, &limits);
    assert_eq!(d.entries().len(), 2);
    assert_eq!(d.go_mod(), None);
    assert!(result.unwrap().checked.err().is_err());
    // Within the limit it is kept and used.
    let zip = create(M, V, &[("go.mod", &big[..100]), ("a.go", b"package m\n")]);
    let (d, result) = agree("go.mod at the limit", M, V, &zip, &limits);
    assert_eq!(d.go_mod(), Some(&big[..100]));
    assert_eq!(result.unwrap().go_mod.as_deref(), Some(&big[..100]));
}
