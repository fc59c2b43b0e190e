//! How fast a module zip is digested as a stream, against checking it
//! whole.
//!
//! For a module zip of about 100 MiB (four 25 MiB files and a go.mod,
//! made by `zip::create`: Deflate with data descriptors), held in memory:
//!
//! * `digest_stream`: [`zip::digest_stream`] over the bytes, what a mirror
//!   runs while the zip arrives;
//! * `check_and_hash_zip`: the whole check, reading every entry again;
//! * `check_and_hash_zip_streamed`: the check given the stream's digests,
//!   what is left to do once the zip has arrived.
//!
//! Two kinds of content: `random` (incompressible, stored in deflate's
//! stored blocks; SHA-256 dominates) and `text` (compresses to about a
//! third; inflating costs too). Throughput is the uncompressed size.
//!
//! Run with `cargo bench -p gomod --bench zip_stream`.

use std::hint::black_box;
use std::io::Cursor;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gomod::zip::{self, MemFile};
use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};

const MODULE: &str = "example.com/bench";
const VERSION: &str = "v1.0.0";

/// Size of each file, and how many: 4 × 25 MiB = 100 MiB.
const FILE_SIZE: usize = 25 << 20;
const FILES: usize = 4;

/// Random bytes: incompressible.
fn random(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rng.fill_bytes(&mut data);
    data
}

/// Words and numbers at random: compressible, like source code.
fn text(rng: &mut StdRng, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "func ",
        "return ",
        "if err != nil {\n",
        "}\n",
        "package ",
        "import ",
        "\t",
        "x := ",
        "ctx",
        "(",
        ")",
        ", ",
        "nil",
        "string",
        "int",
        "// ",
    ];
    let mut data = Vec::with_capacity(len + 32);
    while data.len() < len {
        data.extend_from_slice(WORDS[rng.gen_range(0..WORDS.len())].as_bytes());
        if rng.gen_bool(0.2) {
            data.extend_from_slice(rng.gen_range(0..100_000u32).to_string().as_bytes());
        }
    }
    data.truncate(len);
    data
}

fn bench_kind(c: &mut Criterion, kind: &str, make: fn(&mut StdRng, usize) -> Vec<u8>) {
    let mut rng = StdRng::seed_from_u64(0x7374_7265_616d);
    let mut files = vec![MemFile {
        path: "go.mod".to_string(),
        data: format!("module {MODULE}\n\ngo 1.21\n").into_bytes(),
    }];
    files.extend((0..FILES).map(|i| MemFile {
        path: format!("data/file{i}"),
        data: make(&mut rng, FILE_SIZE),
    }));
    let content: u64 = files.iter().map(|f| f.data.len() as u64).sum();
    let mut zip_bytes = Vec::new();
    zip::create(&mut zip_bytes, MODULE, VERSION, &files).expect("create module zip");
    drop(files);
    eprintln!(
        "{kind}: {content} bytes uncompressed, {} bytes zipped",
        zip_bytes.len()
    );
    let digests =
        zip::digest_stream(&zip_bytes[..], MODULE, VERSION, |_| {}).expect("digest stream");
    assert_eq!(digests.entries().len(), FILES + 1, "every entry streamed");

    let mut group = c.benchmark_group(format!("100MiB_{kind}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Bytes(content));
    group.bench_function("digest_stream", |b| {
        b.iter(|| zip::digest_stream(black_box(&zip_bytes[..]), MODULE, VERSION, |_| {}).unwrap())
    });
    group.bench_function("check_and_hash_zip", |b| {
        b.iter(|| {
            let s = zip::check_and_hash_zip(MODULE, VERSION, Cursor::new(&zip_bytes[..])).unwrap();
            assert!(s.h1.is_some());
            s
        })
    });
    group.bench_function("check_and_hash_zip_streamed", |b| {
        b.iter(|| {
            let s = zip::check_and_hash_zip_streamed(
                MODULE,
                VERSION,
                Cursor::new(&zip_bytes[..]),
                &digests,
            )
            .unwrap();
            assert!(s.h1.is_some());
            s
        })
    });
    group.finish();
}

fn bench_random(c: &mut Criterion) {
    bench_kind(c, "random", random);
}

fn bench_text(c: &mut Criterion) {
    bench_kind(c, "text", text);
}

criterion_group!(benches, bench_random, bench_text);
criterion_main!(benches);
