//! How fast module zips are hashed and checked.
//!
//! * `100MiB/hash_zip`, `100MiB/check_and_hash_zip`: a module zip of about
//!   100 MiB of incompressible content (four 25 MiB files and a go.mod),
//!   read from a temporary file; throughput is the uncompressed content
//!   size;
//! * `100MiB/sha256`: `Sha256::digest` over the same 100 MiB in memory, the
//!   raw SHA-256 speed of this CPU, which hashing a zip cannot beat;
//! * `10k_files/check_zip`, `10k_files/check_and_hash_zip`,
//!   `10k_files/hash_zip`: a zip of 10,000 small files (in memory), where
//!   the per-entry costs (names, collision checks, one SHA-256 per file)
//!   dominate.
//!
//! Run with `cargo bench -p gomod --bench dirhash`.

use std::fs::File;
use std::hint::black_box;
use std::io::{Cursor, Seek, SeekFrom, Write};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use gomod::dirhash;
use gomod::zip::{self, MemFile};
use rand::{rngs::StdRng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};

const MODULE: &str = "example.com/bench";
const VERSION: &str = "v1.0.0";

/// Size of each large file, and how many: 4 × 25 MiB = 100 MiB.
const BIG_FILE_SIZE: usize = 25 << 20;
const BIG_FILES: usize = 4;

const SMALL_FILES: usize = 10_000;

fn go_mod() -> MemFile {
    MemFile {
        path: "go.mod".to_string(),
        data: format!("module {MODULE}\n\ngo 1.21\n").into_bytes(),
    }
}

/// Random (so incompressible) content, reproducible.
fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rng.fill_bytes(&mut data);
    data
}

fn uncompressed_size(files: &[MemFile]) -> u64 {
    files.iter().map(|f| f.data.len() as u64).sum()
}

/// Writes the module zip of `files` into a new temporary file.
fn zip_to_temp_file(files: &[MemFile]) -> File {
    let mut file = tempfile::tempfile().expect("create temporary file");
    {
        let mut w = std::io::BufWriter::new(&mut file);
        zip::create(&mut w, MODULE, VERSION, files).expect("create module zip");
        w.flush().expect("flush zip");
    }
    file
}

fn small_files() -> Vec<MemFile> {
    let mut files = vec![go_mod()];
    files.extend((0..SMALL_FILES - 1).map(|i| {
        MemFile {
            path: format!("pkg{:03}/file{i:05}.go", i / 100),
            data: format!(
                "package pkg{:03}\n\n// F{i} returns {i}.\nfunc F{i}() int {{ return {i} }}\n",
                i / 100
            )
            .into_bytes(),
        }
    }));
    files
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
}

fn bench_large(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0x676f_6d69_7272_6f72);
    let mut files = vec![go_mod()];
    files.extend((0..BIG_FILES).map(|i| MemFile {
        path: format!("data/blob{i}.bin"),
        data: random_bytes(&mut rng, BIG_FILE_SIZE),
    }));
    let content = uncompressed_size(&files);
    let mut zip_file = zip_to_temp_file(&files);
    let zip_size = zip_file.seek(SeekFrom::End(0)).expect("size of zip");
    eprintln!(
        "large module zip: {} files, {content} bytes uncompressed, {zip_size} bytes zipped",
        files.len()
    );
    // The same bytes in one buffer, for the SHA-256 baseline.
    let blob: Vec<u8> = files.iter().flat_map(|f| f.data.iter().copied()).collect();
    drop(files);

    let mut group = c.benchmark_group("100MiB");
    configure(&mut group);
    group.throughput(Throughput::Bytes(content));
    group.bench_function("sha256", |b| {
        b.iter(|| Sha256::digest(black_box(&blob[..])))
    });
    group.bench_function("hash_zip", |b| {
        b.iter(|| {
            zip_file.rewind().expect("rewind zip");
            dirhash::hash_zip(&mut zip_file).expect("hash_zip")
        })
    });
    group.bench_function("check_and_hash_zip", |b| {
        b.iter(|| {
            zip_file.rewind().expect("rewind zip");
            let summary =
                zip::check_and_hash_zip(MODULE, VERSION, &mut zip_file).expect("check zip");
            assert!(summary.h1.is_some());
            summary
        })
    });
    group.finish();
}

fn bench_many_files(c: &mut Criterion) {
    let files = small_files();
    let content = uncompressed_size(&files);
    let mut zip = Vec::new();
    zip::create(&mut zip, MODULE, VERSION, &files).expect("create module zip");
    eprintln!(
        "small-files module zip: {} files, {content} bytes uncompressed, {} bytes zipped",
        files.len(),
        zip.len()
    );
    drop(files);

    let mut group = c.benchmark_group("10k_files");
    configure(&mut group);
    group.throughput(Throughput::Elements(SMALL_FILES as u64));
    group.bench_function("check_zip", |b| {
        b.iter(|| {
            let checked = zip::check_zip(MODULE, VERSION, Cursor::new(&zip[..])).expect("check");
            assert_eq!(checked.valid.len(), SMALL_FILES);
            checked
        })
    });
    group.bench_function("check_and_hash_zip", |b| {
        b.iter(|| {
            let summary =
                zip::check_and_hash_zip(MODULE, VERSION, Cursor::new(&zip[..])).expect("check zip");
            assert!(summary.h1.is_some());
            summary
        })
    });
    group.bench_function("hash_zip", |b| {
        b.iter(|| dirhash::hash_zip(Cursor::new(&zip[..])).expect("hash_zip"))
    });
    group.finish();
}

criterion_group!(benches, bench_large, bench_many_files);
criterion_main!(benches);
