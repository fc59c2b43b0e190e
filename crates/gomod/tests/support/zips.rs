//! Zips built for tests: by hand (so that they may hold anything), by the
//! `zip` crate, and the one Go writes for x/mod's `create/simple.txt`.

use std::io::{Cursor, Write};

use base64::Engine as _;
use gomod::zip::Limits;

use super::txtar::Vector;

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip of stored entries, written by hand so that it may hold anything
/// (repeated names, names without the prefix, names that are not UTF-8).
/// `declared` overrides an entry's declared uncompressed size.
pub fn raw_zip(entries: &[(&[u8], &[u8], Option<u32>)]) -> Vec<u8> {
    let with_extra: Vec<_> = entries
        .iter()
        .map(|&(n, d, s)| (n, d, s, &[][..]))
        .collect();
    raw_zip_with_extra(&with_extra)
}

/// An entry for [`raw_zip_with_extra`]: name, content, declared size if
/// not the real one, central directory extra field.
pub type RawEntry<'a> = (&'a [u8], &'a [u8], Option<u32>, &'a [u8]);

/// [`raw_zip`] with an extra field in each central directory header.
pub fn raw_zip_with_extra(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for &(name, data, declared, extra) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let usize = declared.unwrap_or(size);
        let flags: u16 = if std::str::from_utf8(name).is_ok_and(|s| !s.is_ascii()) {
            0x800
        } else {
            0
        };
        let mut local = Vec::new();
        local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        local.extend_from_slice(&20u16.to_le_bytes());
        local.extend_from_slice(&flags.to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes()); // stored
        local.extend_from_slice(&0u32.to_le_bytes()); // time, date
        local.extend_from_slice(&crc.to_le_bytes());
        local.extend_from_slice(&size.to_le_bytes());
        local.extend_from_slice(&usize.to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(name);
        out.extend_from_slice(&local);
        out.extend_from_slice(data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&usize.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 2]); // comment length
        central.extend_from_slice(&[0; 8]); // disk, internal and external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
        central.extend_from_slice(extra);
    }
    finish_directory(&mut out, &central, entries.len());
    out
}

/// Appends the central directory `central` (of `count` entries) and the
/// end-of-central-directory record that locates it.
fn finish_directory(out: &mut Vec<u8>, central: &[u8], count: usize) {
    let dir_offset = out.len() as u32;
    out.extend_from_slice(central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(count as u16).to_le_bytes());
    out.extend_from_slice(&(count as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&dir_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
}

pub fn txtar_zip(v: &Vector) -> Vec<u8> {
    let entries: Vec<(&[u8], &[u8], Option<u32>)> = v
        .archive
        .files
        .iter()
        .map(|(n, d)| (n.as_bytes(), d.as_slice(), None))
        .collect();
    raw_zip(&entries)
}

/// A zip written by the `zip` crate with Deflate, without data descriptors.
pub fn deflate_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = ::zip::write::SimpleFileOptions::default()
        .compression_method(::zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Replaces every occurrence of `from` with `to` in `data`, returning the
/// number of replacements.
pub fn patch(data: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= data.len() {
        if &data[i..i + from.len()] == from {
            data[i..i + from.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    n
}

pub fn small_limits() -> Limits {
    Limits {
        max_zip_file: 1 << 20,
        max_unzipped: 1 << 20,
        max_go_mod: 16 << 10,
        max_license: 16 << 10,
    }
}

/// The zip Go's `archive/zip` writes for create/simple.txt (what
/// `modzip.Create` produces: Deflate, data descriptors), made with go1.27.
pub const GO_SIMPLE_ZIP: &str = "UEsDBBQACAAIAAAAAAAAAAAAAAAAAAAAAAAbAAAAZXhhbXBsZS5jb20vbUB2MS4wLjAvZ28ubW9kAB4A4f9tb2R1bGUgZXhhbXBsZS5jb20vbQoKZ28gMS4xMwoDAFBLBwhJzeQbJQAAAB4AAABQSwMEFAAIAAgAAAAAAAAAAAAAAAAAAAAAABkAAABleGFtcGxlLmNvbS9tQHYxLjAuMC9tLmdvACgA1/9wYWNrYWdlIG0KCmZ1bmMgRm9vKCkgaW50IHsgcmV0dXJuIDQyIH0KAwBQSwcIzrJ/Qi8AAAAoAAAAUEsDBBQACAAIAAAAAAAAAAAAAAAAAAAAAAAnAAAAZXhhbXBsZS5jb20vbUB2MS4wLjAvY21kL2hlbGxvL2hlbGxvLmdvAFsApP9wYWNrYWdlIG1haW4KCmltcG9ydCAoCiAgImZtdCIKICAiZXhhbXBsZS5jb20vbSIKKQoKZnVuYyBtYWluKCkgewogIGZtdC5QcmludGxuKG0uRm9vKCkpCn0KAwBQSwcIdCwkwmIAAABbAAAAUEsBAhQAFAAIAAgAAAAAAEnN5BslAAAAHgAAABsAAAAAAAAAAAAAAAAAAAAAAGV4YW1wbGUuY29tL21AdjEuMC4wL2dvLm1vZFBLAQIUABQACAAIAAAAAADOsn9CLwAAACgAAAAZAAAAAAAAAAAAAAAAAG4AAABleGFtcGxlLmNvbS9tQHYxLjAuMC9tLmdvUEsBAhQAFAAIAAgAAAAAAHQsJMJiAAAAWwAAACcAAAAAAAAAAAAAAAAA5AAAAGV4YW1wbGUuY29tL21AdjEuMC4wL2NtZC9oZWxsby9oZWxsby5nb1BLBQYAAAAAAwADAOUAAACbAQAAAAA=";

pub fn go_simple_zip() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(GO_SIMPLE_ZIP)
        .unwrap()
}

/// A go.mod whose declared uncompressed size is smaller than its content:
/// the zip's metadata lies, the data is a valid deflate stream.
pub fn lying_zip(real: usize, declared: u32) -> Vec<u8> {
    let data = vec![b'x'; real];
    let mut zip = deflate_zip(&[("example.com/m@v1.0.0/go.mod", &data)]);
    let n = patch(
        &mut zip,
        &(real as u32).to_le_bytes(),
        &declared.to_le_bytes(),
    );
    assert_eq!(
        n, 2,
        "declared size appears in the local and central headers"
    );
    zip
}

/// How a data descriptor is written after an entry's data.
#[derive(Debug, Clone, Copy, Default)]
pub struct Descriptor {
    /// With the optional signature `PK\x07\x08`.
    pub sig: bool,
    /// With 64-bit sizes (zip64).
    pub wide: bool,
}

/// An entry for [`layout_zip`]: its content and how it is laid out.
#[derive(Debug, Clone, Default)]
pub struct Piece<'a> {
    pub name: &'a [u8],
    pub data: &'a [u8],
    /// Deflate (else Store).
    pub deflate: bool,
    /// A data descriptor after the data (flag 0x8, zeros in the local
    /// header's CRC-32 and sizes).
    pub descriptor: Option<Descriptor>,
    /// Sizes of 0xFFFFFFFF in the local header, the real ones in a zip64
    /// extra field there (both, uncompressed first).
    pub zip64_local: bool,
    /// A method number written instead of the real one (in both headers).
    pub method: Option<u16>,
    /// Bytes written between this entry (descriptor included) and the next
    /// local header or the central directory.
    pub gap: &'a [u8],
}

/// Deflates `data` (raw deflate, as zips hold it).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A zip laid out entry by entry as `pieces` say, with a central directory
/// that tells the truth about each (CRC-32, sizes, offsets, method, flags).
pub fn layout_zip(pieces: &[Piece<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for p in pieces {
        let offset = out.len() as u32;
        let crc = crc32(p.data);
        let body = if p.deflate {
            deflate(p.data)
        } else {
            p.data.to_vec()
        };
        let method = p.method.unwrap_or(if p.deflate { 8 } else { 0 });
        let flags: u16 = if p.descriptor.is_some() { 0x8 } else { 0 };
        let (csize, usize) = (body.len() as u32, p.data.len() as u32);
        let mut extra = Vec::new();
        let (local_crc, local_c, local_u) = match (p.descriptor, p.zip64_local) {
            (Some(_), _) => (0, 0, 0),
            (None, true) => {
                extra.extend_from_slice(&1u16.to_le_bytes());
                extra.extend_from_slice(&16u16.to_le_bytes());
                extra.extend_from_slice(&(p.data.len() as u64).to_le_bytes());
                extra.extend_from_slice(&(body.len() as u64).to_le_bytes());
                (crc, u32::MAX, u32::MAX)
            }
            (None, false) => (crc, csize, usize),
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // time, date
        out.extend_from_slice(&local_crc.to_le_bytes());
        out.extend_from_slice(&local_c.to_le_bytes());
        out.extend_from_slice(&local_u.to_le_bytes());
        out.extend_from_slice(&(p.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        out.extend_from_slice(p.name);
        out.extend_from_slice(&extra);
        out.extend_from_slice(&body);
        if let Some(d) = p.descriptor {
            if d.sig {
                out.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
            }
            out.extend_from_slice(&crc.to_le_bytes());
            if d.wide {
                out.extend_from_slice(&(body.len() as u64).to_le_bytes());
                out.extend_from_slice(&(p.data.len() as u64).to_le_bytes());
            } else {
                out.extend_from_slice(&csize.to_le_bytes());
                out.extend_from_slice(&usize.to_le_bytes());
            }
        }
        out.extend_from_slice(p.gap);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&45u16.to_le_bytes());
        central.extend_from_slice(&45u16.to_le_bytes());
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&csize.to_le_bytes());
        central.extend_from_slice(&usize.to_le_bytes());
        central.extend_from_slice(&(p.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes()); // extra
        central.extend_from_slice(&[0; 2]); // comment length
        central.extend_from_slice(&[0; 8]); // disk, internal and external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(p.name);
    }
    finish_directory(&mut out, &central, pieces.len());
    out
}

/// An Info-ZIP Unicode Path extra field (0x7075) naming the entry `name`
/// `other` for readers that honour it (the zip crate); Go's reader ignores
/// it.
pub fn unicode_path_extra(name: &[u8], other: &[u8]) -> Vec<u8> {
    let mut extra = Vec::new();
    extra.extend_from_slice(&0x7075u16.to_le_bytes());
    extra.extend_from_slice(&((5 + other.len()) as u16).to_le_bytes());
    extra.push(1);
    extra.extend_from_slice(&crc32(name).to_le_bytes());
    extra.extend_from_slice(other);
    extra
}

/// The module zip of `files` for `module`@`version`, made by
/// `gomod::zip::create` (Deflate, data descriptors).
pub fn create(module: &str, version: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let files: Vec<gomod::zip::MemFile> = files
        .iter()
        .map(|(p, d)| gomod::zip::MemFile {
            path: p.to_string(),
            data: d.to_vec(),
        })
        .collect();
    let mut out = Vec::new();
    gomod::zip::create(&mut out, module, version, &files).unwrap();
    out
}
