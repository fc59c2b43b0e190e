//! Digesting a module zip while it arrives: one front-to-back pass over its
//! local entries, from any reader (no seeking), that decompresses, counts,
//! CRC-32s and SHA-256s each entry's content, so that checking the zip
//! afterwards ([`check_and_hash_zip_streamed`](super::check_and_hash_zip_streamed))
//! only has to read its central directory.
//!
//! # What the digests are
//!
//! A [`StreamedEntry`] is a fact about the bytes of the stream, true
//! whatever the rest of the zip says: *at `header_offset` there is a local
//! header (name `name`, method `method`, flags `flags`) whose data starts at
//! `data_start`, and the `compressed_size` bytes from there decompress, by
//! that method, to exactly `size` bytes with CRC-32 `crc32` and SHA-256
//! `digest`*. Nothing in it is taken from what the zip declares: the sizes
//! are the bytes actually consumed and produced, the CRC-32 and digest those
//! of the content. The checker uses a digest only for a central directory
//! entry whose facts (and local header in the file) are exactly these, so
//! a hostile stream can only make it read more, never accept more.
//!
//! # What the reader follows, and where it stops
//!
//! It reads local headers in order from offset 0, each followed by its
//! data: Store with the sizes in the local header (or its zip64 extra
//! field), or Deflate with the sizes in the local header or after the data
//! in a data descriptor (signature optional, 32- or 64-bit sizes), as Go's
//! `archive/zip` and the `zip` crate write them. Each entry's content must
//! match its local header, or its descriptor, exactly. At the central
//! directory (or the end record) it stops: the normal end. At anything it
//! does not follow exactly — an unknown signature or method, encryption,
//! Store with a descriptor, sizes or a CRC-32 that disagree, a deflate
//! error, a descriptor it cannot place unambiguously, too many entries, too
//! long a name, a stream over the zip size limit or content over the
//! unzipped limit, a truncated stream — it stops too ([`Stop`]). Either way
//! it then reads the rest of the input to its end and discards it (whoever
//! feeds it must never block), and returns the entries verified so far.
//!
//! Memory is bounded: two 256 KiB buffers, the entries actually met (at
//! most [`MAX_ENTRIES`], names at most [`MAX_NAME`] bytes), and one go.mod
//! of at most 16 MiB. Declared sizes never size an allocation.

use std::io::{self, Read};

use flate2::{Decompress, FlushDecompress, Status};
use sha2::{Digest, Sha256};

use super::{Limits, MAX_GO_MOD};
use crate::archive::{
    self, le16, le32, le64, CENTRAL_SIG, DESCRIPTOR_SIG, END64_SIG, END_SIG, LOCAL_LEN, LOCAL_SIG,
    ZIP64_EXTRA,
};

/// The most local entries [`digest_stream`] records; it stops at the next.
pub const MAX_ENTRIES: usize = 1_000_000;

/// The longest entry name [`digest_stream`] follows, in bytes; it stops at
/// a longer one.
pub const MAX_NAME: usize = 4096;

/// The most name bytes [`digest_stream`] records, over all entries.
const MAX_NAME_BYTES: usize = 64 << 20;

/// The size of the input buffer and of the decompression buffer.
const BUFFER_SIZE: usize = 256 * 1024;

/// [`digest_stream`] reports progress at least this often, in bytes read.
const REPORT_EVERY: u64 = 1 << 20;

/// The longest data descriptor (signature, CRC-32, two 64-bit sizes) and the
/// signature that must follow it.
const DESCRIPTOR_LOOKAHEAD: usize = 4 + 4 + 16 + 4;

/// How far [`digest_stream`] has got, as it reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The end of the last entry fully verified, data descriptor included:
    /// every byte before it belongs to a verified entry or its local header.
    pub verified_end: u64,
    /// The bytes read from the input so far (never less than
    /// `verified_end`).
    pub consumed: u64,
    /// Whether entries are still being parsed: `false` once parsing
    /// stopped (at the central directory, or at anything it does not
    /// handle or that is wrong) and the rest of the input is only drained.
    pub parsing: bool,
}

/// One local entry whose content [`digest_stream`] decompressed and
/// verified. It states a fact about the bytes of the stream, whatever the
/// rest of the zip says: at `header_offset` there is a local header (name
/// `name`, method `method`, flags `flags`) whose data starts at
/// `data_start`, and the `compressed_size` bytes from there decompress, by
/// that method, to exactly `size` bytes with CRC-32 `crc32` and SHA-256
/// `digest`. The sizes are the bytes actually consumed and produced, never
/// what the zip declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedEntry {
    /// The offset of the local header.
    pub header_offset: u64,
    /// The offset of the entry's data: after the local header's name and
    /// extra field.
    pub data_start: u64,
    /// The compression method of the local header (0 Store, 8 Deflate).
    pub method: u16,
    /// The general purpose flags of the local header.
    pub flags: u16,
    /// The bytes of compressed data consumed: from `data_start` to the end
    /// of the deflate stream (or of the stored content).
    pub compressed_size: u64,
    /// The bytes of content produced.
    pub size: u64,
    /// The CRC-32 of the content.
    pub crc32: u32,
    /// The name in the local header, as stored.
    pub name: Vec<u8>,
    /// The SHA-256 of the content.
    pub digest: [u8; 32],
}

/// Why [`digest_stream`] stopped following the zip's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// It reached the central directory or the end record: the normal
    /// end, with every local entry before it verified.
    Directory,
    /// The input ended inside an entry, or before any directory.
    Truncated,
    /// It met something it does not follow exactly (what, in words).
    Unsupported(String),
}

/// What [`digest_stream`] learnt of a zip: the entries it verified, in the
/// order of the stream, and the content of the first top-level go.mod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDigests {
    entries: Vec<StreamedEntry>,
    /// The header offset and content of the first entry named
    /// `{module}@{version}/go.mod` (if it was at most 16 MiB).
    go_mod: Option<(u64, Vec<u8>)>,
    consumed: u64,
    verified_end: u64,
    stop: Stop,
}

impl StreamDigests {
    /// The verified entries, in stream order (so by increasing
    /// `header_offset`).
    pub fn entries(&self) -> &[StreamedEntry] {
        &self.entries
    }

    /// The content of the first top-level go.mod verified, if any.
    pub fn go_mod(&self) -> Option<&[u8]> {
        self.go_mod.as_ref().map(|(_, c)| c.as_slice())
    }

    /// The length of the stream: every byte read, up to its end.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The end of the last verified entry (see [`Progress::verified_end`]).
    pub fn verified_end(&self) -> u64 {
        self.verified_end
    }

    /// Why the reader stopped following entries.
    pub fn stop(&self) -> &Stop {
        &self.stop
    }

    /// The verified entry whose facts are exactly those of `entry` (name,
    /// method, flags, CRC-32, compressed and uncompressed size, header
    /// offset) with its data at `data_start`.
    pub(crate) fn matching(
        &self,
        entry: &archive::Entry,
        data_start: u64,
    ) -> Option<&StreamedEntry> {
        let i = self
            .entries
            .binary_search_by_key(&entry.header_offset, |s| s.header_offset)
            .ok()?;
        let s = &self.entries[i];
        (s.data_start == data_start
            && s.name == entry.name
            && s.method == entry.method
            && s.flags == entry.flags
            && s.crc32 == entry.crc32
            && s.compressed_size == entry.compressed_size
            && s.size == entry.size)
            .then_some(s)
    }

    /// The go.mod content kept from the entry at `header_offset`, if that is
    /// the entry it was kept from.
    pub(crate) fn go_mod_at(&self, header_offset: u64) -> Option<&[u8]> {
        match &self.go_mod {
            Some((at, content)) if *at == header_offset => Some(content),
            _ => None,
        }
    }
}

/// Reads the zip from `r` front to back, verifying and digesting each local
/// entry's content as it passes ([`StreamedEntry`]), until the central
/// directory or anything it does not follow exactly; then reads `r` to its
/// end, discarding it, so that whoever feeds it never blocks.
///
/// It follows local headers in order from offset 0, each followed by its
/// data: Store with the sizes in the local header (or its zip64 extra
/// field), or Deflate with the sizes in the local header or in a data
/// descriptor after the data (signature optional, 32- or 64-bit sizes).
/// Each entry's content must match its local header, or its descriptor,
/// exactly. It stops ([`StreamDigests::stop`]) at the central directory or
/// end record (the normal end), and at anything else: an unknown signature
/// or method, encryption, Store with a descriptor, sizes or a CRC-32 that
/// disagree, a deflate error, a descriptor it cannot place unambiguously,
/// more than [`MAX_ENTRIES`] entries, a name over [`MAX_NAME`] bytes, a
/// stream over 500 MiB or content over 500 MiB in total, the end of the
/// input. Memory is bounded: two 256 KiB buffers, the entries actually
/// met, one go.mod; no declared size ever sizes an allocation.
///
/// `progress` is called, with offsets that never decrease, after each
/// verified entry, at least every 1 MiB read, and once at the end.
///
/// Fails only if reading `r` fails. Whatever the bytes, it returns; the
/// result is meant for [`check_and_hash_zip_streamed`](super::check_and_hash_zip_streamed)
/// with a reader of these very bytes. The first entry named
/// `{module_path}@{version}/go.mod` has its content kept, up to 16 MiB.
pub fn digest_stream<R: Read>(
    r: R,
    module_path: &str,
    version: &str,
    progress: impl FnMut(Progress),
) -> io::Result<StreamDigests> {
    digest_stream_with_limits(r, module_path, version, &Limits::default(), progress)
}

/// [`digest_stream`] with configurable limits, for tests: it stops past
/// `max_zip_file` bytes of stream or `max_unzipped` bytes of content, and
/// keeps a go.mod of at most `max_go_mod` bytes.
#[doc(hidden)]
pub fn digest_stream_with_limits<R: Read>(
    r: R,
    module_path: &str,
    version: &str,
    limits: &Limits,
    progress: impl FnMut(Progress),
) -> io::Result<StreamDigests> {
    let mut input = Input::new(r, progress);
    let mut parser = Parser {
        entries: Vec::new(),
        go_mod: None,
        go_mod_name: format!("{module_path}@{version}/go.mod").into_bytes(),
        go_mod_limit: limits.max_go_mod.min(MAX_GO_MOD),
        budget: limits.max_unzipped,
        max_zip_file: limits.max_zip_file,
        name_bytes: 0,
        inflater: Decompress::new(false),
        out: vec![0u8; BUFFER_SIZE].into_boxed_slice(),
    };
    let stop = match parser.run(&mut input) {
        Ok(never) => match never {},
        Err(Halt::Stop(stop)) => stop,
        Err(Halt::Io(e)) => return Err(e),
    };
    input.drain()?;
    input.report();
    Ok(StreamDigests {
        entries: parser.entries,
        go_mod: parser.go_mod,
        consumed: input.consumed,
        verified_end: input.verified_end,
        stop,
    })
}

/// Why parsing ends: a [`Stop`], or the input failed.
enum Halt {
    Stop(Stop),
    Io(io::Error),
}

impl From<io::Error> for Halt {
    fn from(e: io::Error) -> Self {
        Halt::Io(e)
    }
}

fn unsupported(what: impl Into<String>) -> Halt {
    Halt::Stop(Stop::Unsupported(what.into()))
}

const TRUNCATED: Halt = Halt::Stop(Stop::Truncated);

/// The input: a window of buffered bytes over the reader, the offsets
/// reported, and the progress callback.
struct Input<R, P> {
    r: R,
    buf: Box<[u8]>,
    /// The unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Bytes read from `r`.
    consumed: u64,
    verified_end: u64,
    /// `consumed` at which to report next.
    next_report: u64,
    /// Whether parsing goes on (see [`Progress::parsing`]).
    parsing: bool,
    progress: P,
}

impl<R: Read, P: FnMut(Progress)> Input<R, P> {
    fn new(r: R, progress: P) -> Self {
        Input {
            r,
            buf: vec![0u8; BUFFER_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            consumed: 0,
            verified_end: 0,
            next_report: REPORT_EVERY,
            parsing: true,
            progress,
        }
    }

    /// The stream offset of the first unread byte.
    fn offset(&self) -> u64 {
        self.consumed - (self.end - self.start) as u64
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn advance(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
    }

    fn report(&mut self) {
        (self.progress)(Progress {
            verified_end: self.verified_end,
            consumed: self.consumed,
            parsing: self.parsing,
        });
    }

    /// Marks everything before the current offset as verified.
    fn verified(&mut self) {
        self.verified_end = self.offset();
        self.report();
    }

    /// Reads more of `r` into the buffer, after the unread bytes (moved to
    /// the front if there is no room after them). `Ok(false)` at the end of
    /// the input.
    fn read_more(&mut self) -> Result<bool, Halt> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start == 0 {
                return Err(unsupported("a record does not fit in the buffer"));
            }
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end += n;
                    self.consumed += n as u64;
                    if self.consumed >= self.next_report {
                        self.next_report = self.consumed.saturating_add(REPORT_EVERY);
                        self.report();
                    }
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Halt::Io(e)),
            }
        }
    }

    /// Makes at least `n` bytes (at most the buffer's size) available;
    /// `Ok(false)` if the input ends first.
    fn fill(&mut self, n: usize) -> Result<bool, Halt> {
        debug_assert!(n <= self.buf.len());
        while self.end - self.start < n {
            if self.start + n > self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if !self.read_more()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Reads the rest of the input, discarding it.
    fn drain(&mut self) -> io::Result<()> {
        self.start = 0;
        self.end = 0;
        self.parsing = false;
        self.report();
        loop {
            match self.r.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    self.consumed += n as u64;
                    if self.consumed >= self.next_report {
                        self.next_report = self.consumed.saturating_add(REPORT_EVERY);
                        self.report();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// An entry's content as it is produced: counted, CRC-32'd, SHA-256'd, and
/// kept if it is the go.mod.
struct Content {
    count: u64,
    /// The most bytes allowed (the declared size, the budget).
    limit: u64,
    crc: crc32fast::Hasher,
    sha: Sha256,
    keep: Option<Vec<u8>>,
    keep_limit: u64,
}

impl Content {
    fn add(&mut self, b: &[u8]) -> Result<(), Halt> {
        self.count += b.len() as u64;
        if self.count > self.limit {
            return Err(unsupported(
                "content larger than declared or over the unzipped limit",
            ));
        }
        self.crc.update(b);
        self.sha.update(b);
        if let Some(k) = &mut self.keep {
            if self.count <= self.keep_limit {
                k.extend_from_slice(b);
            } else {
                self.keep = None;
            }
        }
        Ok(())
    }
}

/// The sizes and CRC-32 a local header declares (when there is no data
/// descriptor).
struct Declared {
    crc32: u32,
    compressed_size: u64,
    size: u64,
}

/// A local header, parsed.
struct LocalHeader {
    flags: u16,
    method: u16,
    name: Vec<u8>,
    /// `None` when a data descriptor follows the data.
    declared: Option<Declared>,
    /// The header's length, name and extra field included.
    len: usize,
}

const FLAG_ENCRYPTED: u16 = 0x1;
const FLAG_DESCRIPTOR: u16 = 0x8;
const FLAG_STRONG_ENCRYPTION: u16 = 0x40;
const FLAG_MASKED_HEADER: u16 = 0x2000;

struct Parser {
    entries: Vec<StreamedEntry>,
    go_mod: Option<(u64, Vec<u8>)>,
    go_mod_name: Vec<u8>,
    go_mod_limit: u64,
    /// Content bytes still allowed.
    budget: u64,
    max_zip_file: u64,
    /// Name bytes recorded so far.
    name_bytes: usize,
    inflater: Decompress,
    out: Box<[u8]>,
}

impl Parser {
    /// Follows entries until something stops it (there is no other way out).
    fn run<R: Read, P: FnMut(Progress)>(
        &mut self,
        input: &mut Input<R, P>,
    ) -> Result<std::convert::Infallible, Halt> {
        loop {
            if !input.fill(4)? {
                return Err(TRUNCATED);
            }
            match le32(input.available()) {
                LOCAL_SIG => {}
                CENTRAL_SIG | END_SIG | END64_SIG => return Err(Halt::Stop(Stop::Directory)),
                sig => return Err(unsupported(format!("signature {sig:#010x}"))),
            }
            if self.entries.len() >= MAX_ENTRIES {
                return Err(unsupported("too many entries"));
            }
            self.entry(input)?;
            input.verified();
        }
    }

    /// Reads, verifies and records one entry, from its local header to the
    /// end of its data descriptor.
    fn entry<R: Read, P: FnMut(Progress)>(&mut self, input: &mut Input<R, P>) -> Result<(), Halt> {
        let header_offset = input.offset();
        if header_offset > self.max_zip_file {
            return Err(unsupported("stream over the zip size limit"));
        }
        let h = local_header(input)?;
        if self.name_bytes + h.name.len() > MAX_NAME_BYTES {
            return Err(unsupported("too many name bytes"));
        }
        input.advance(h.len);
        let data_start = input.offset();
        let limit = match &h.declared {
            Some(d) => d.size.min(self.budget),
            None => self.budget,
        };
        let keep = h.name == self.go_mod_name && self.go_mod.is_none();
        let mut content = Content {
            count: 0,
            limit,
            crc: crc32fast::Hasher::new(),
            sha: Sha256::new(),
            keep: keep.then(Vec::new),
            keep_limit: self.go_mod_limit,
        };
        let compressed_size = match h.method {
            0 => {
                // Store: sizes in the local header (a descriptor was refused).
                let d = h
                    .declared
                    .as_ref()
                    .ok_or_else(|| unsupported("stored entry with a data descriptor"))?;
                if d.compressed_size != d.size {
                    return Err(unsupported("stored entry with two sizes"));
                }
                copy(input, d.size, &mut content)?;
                d.size
            }
            _ => self.inflate(input, &mut content)?,
        };
        let crc32 = content.crc.clone().finalize();
        let size = content.count;
        match &h.declared {
            Some(d) => {
                if d.crc32 != crc32 || d.size != size || d.compressed_size != compressed_size {
                    return Err(unsupported("content does not match the local header"));
                }
            }
            None => descriptor(input, crc32, compressed_size, size)?,
        }
        self.budget -= size;
        self.name_bytes += h.name.len();
        if let Some(kept) = content.keep {
            self.go_mod = Some((header_offset, kept));
        }
        self.entries.push(StreamedEntry {
            header_offset,
            data_start,
            method: h.method,
            flags: h.flags,
            compressed_size,
            size,
            crc32,
            name: h.name,
            digest: content.sha.finalize().into(),
        });
        Ok(())
    }

    /// Inflates one deflate stream from the input into `content`, to its
    /// final block; returns the compressed bytes it took.
    fn inflate<R: Read, P: FnMut(Progress)>(
        &mut self,
        input: &mut Input<R, P>,
        content: &mut Content,
    ) -> Result<u64, Halt> {
        self.inflater.reset(false);
        loop {
            if input.available().is_empty() && !input.read_more()? {
                return Err(TRUNCATED);
            }
            let (in0, out0) = (self.inflater.total_in(), self.inflater.total_out());
            let status = self
                .inflater
                .decompress(input.available(), &mut self.out, FlushDecompress::None)
                .map_err(|e| unsupported(format!("deflate: {e}")))?;
            let used = (self.inflater.total_in() - in0) as usize;
            let made = (self.inflater.total_out() - out0) as usize;
            input.advance(used);
            content.add(&self.out[..made])?;
            match status {
                Status::StreamEnd => return Ok(self.inflater.total_in()),
                Status::Ok | Status::BufError => {
                    if used == 0 && made == 0 && !input.read_more()? {
                        return Err(TRUNCATED);
                    }
                }
            }
        }
    }
}

/// Reads and parses the local header at the input's offset (its signature
/// already seen), without consuming it. Stops at what [`Parser::entry`]
/// does not follow: encryption, a method other than Store or Deflate,
/// Store with a data descriptor, a name over [`MAX_NAME`], zip64 sizes
/// without their extra field.
fn local_header<R: Read, P: FnMut(Progress)>(input: &mut Input<R, P>) -> Result<LocalHeader, Halt> {
    if !input.fill(LOCAL_LEN)? {
        return Err(TRUNCATED);
    }
    let b = input.available();
    let flags = le16(&b[6..]);
    let method = le16(&b[8..]);
    let crc32 = le32(&b[14..]);
    let compressed32 = le32(&b[18..]);
    let size32 = le32(&b[22..]);
    let name_len = usize::from(le16(&b[26..]));
    let extra_len = usize::from(le16(&b[28..]));
    if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADER) != 0 {
        return Err(unsupported("encrypted entry"));
    }
    if method != 0 && method != 8 {
        return Err(unsupported(format!("compression method {method}")));
    }
    if method == 0 && flags & FLAG_DESCRIPTOR != 0 {
        return Err(unsupported("stored entry with a data descriptor"));
    }
    if name_len > MAX_NAME {
        return Err(unsupported("name too long"));
    }
    let len = LOCAL_LEN + name_len + extra_len;
    if !input.fill(len)? {
        return Err(TRUNCATED);
    }
    let b = input.available();
    let name = b[LOCAL_LEN..LOCAL_LEN + name_len].to_vec();
    let declared = if flags & FLAG_DESCRIPTOR != 0 {
        None
    } else {
        let mut d = Declared {
            crc32,
            compressed_size: u64::from(compressed32),
            size: u64::from(size32),
        };
        if size32 == u32::MAX || compressed32 == u32::MAX {
            let extra = &b[LOCAL_LEN + name_len..len];
            let mut field = zip64_field(extra).ok_or_else(|| unsupported("zip64 sizes"))?;
            let mut next = || -> Option<u64> {
                let v = le64(field.get(..8)?);
                field = &field[8..];
                Some(v)
            };
            if size32 == u32::MAX {
                d.size = next().ok_or_else(|| unsupported("zip64 sizes"))?;
            }
            if compressed32 == u32::MAX {
                d.compressed_size = next().ok_or_else(|| unsupported("zip64 sizes"))?;
            }
        }
        Some(d)
    };
    Ok(LocalHeader {
        flags,
        method,
        name,
        declared,
        len,
    })
}

/// The data of the zip64 extra field in `extra`, if there is one.
fn zip64_field(mut extra: &[u8]) -> Option<&[u8]> {
    while extra.len() >= 4 {
        let tag = le16(extra);
        let len = usize::from(le16(&extra[2..]));
        let field = extra.get(4..4 + len)?;
        if tag == ZIP64_EXTRA {
            return Some(field);
        }
        extra = &extra[4 + len..];
    }
    None
}

/// Passes the next `n` bytes of the input to `content`.
fn copy<R: Read, P: FnMut(Progress)>(
    input: &mut Input<R, P>,
    n: u64,
    content: &mut Content,
) -> Result<(), Halt> {
    // Refuse before reading what could never fit.
    if n > content.limit {
        return Err(unsupported(
            "content larger than declared or over the unzipped limit",
        ));
    }
    let mut left = n;
    while left > 0 {
        if input.available().is_empty() && !input.read_more()? {
            return Err(TRUNCATED);
        }
        let k = input
            .available()
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        content.add(&input.available()[..k])?;
        input.advance(k);
        left -= k as u64;
    }
    Ok(())
}

/// Reads the data descriptor after an entry's data: an optional signature,
/// the CRC-32, then the compressed and uncompressed sizes in 32 or 64 bits.
/// Exactly one of these layouts must hold the entry's real CRC-32 and sizes
/// and be followed by a local header or the central directory; else the
/// reader stops (it could not tell where the next entry starts).
fn descriptor<R: Read, P: FnMut(Progress)>(
    input: &mut Input<R, P>,
    crc32: u32,
    compressed_size: u64,
    size: u64,
) -> Result<(), Halt> {
    // At the end of the input, fewer bytes are there; layouts that need
    // more are not candidates.
    input.fill(DESCRIPTOR_LOOKAHEAD)?;
    let b = input.available();
    let sig_lens: &[usize] = if b.len() >= 4 && le32(b) == DESCRIPTOR_SIG {
        &[4, 0]
    } else {
        &[0]
    };
    let mut found = None;
    for &sig_len in sig_lens {
        for wide in [false, true] {
            let w = if wide { 8 } else { 4 };
            let len = sig_len + 4 + 2 * w;
            let Some(d) = b.get(sig_len..len + 4) else {
                continue;
            };
            let read = |at: usize| {
                if wide {
                    le64(&d[at..])
                } else {
                    u64::from(le32(&d[at..]))
                }
            };
            let next = le32(&d[4 + 2 * w..]);
            if le32(d) == crc32
                && read(4) == compressed_size
                && read(4 + w) == size
                && matches!(next, LOCAL_SIG | CENTRAL_SIG)
            {
                if found.is_some() {
                    return Err(unsupported("ambiguous data descriptor"));
                }
                found = Some(len);
            }
        }
    }
    match found {
        Some(len) => {
            input.advance(len);
            Ok(())
        }
        None => Err(unsupported("no data descriptor matches the content")),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;
    use crate::zip::{check_and_hash_zip, check_and_hash_zip_streamed};

    const M: &str = "example.com/m";
    const V: &str = "v1.0.0";

    /// A zip of stored files (go.mod, a.go, b.go) written by the `zip`
    /// crate, and the same zip with one byte of `file`'s content changed.
    fn zip_and_changed(file: &str) -> (Vec<u8>, Vec<u8>) {
        let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = ::zip::write::SimpleFileOptions::default()
            .compression_method(::zip::CompressionMethod::Stored);
        for (name, data) in [
            ("go.mod", "module example.com/m\n"),
            ("a.go", "package m // a\n"),
            ("b.go", "package m // b\n"),
        ] {
            w.start_file(format!("{M}@{V}/{name}"), opts).unwrap();
            w.write_all(data.as_bytes()).unwrap();
        }
        let a = w.finish().unwrap().into_inner();
        let mark: &[u8] = match file {
            "go.mod" => b"module",
            _ => b"// b",
        };
        let at = a.windows(mark.len()).position(|w| w == mark).unwrap();
        let mut b = a.clone();
        b[at] ^= 0x20;
        (a, b)
    }

    fn digests(zip: &[u8]) -> StreamDigests {
        let d = digest_stream(zip, M, V, |_| {}).unwrap();
        assert_eq!(d.stop(), &Stop::Directory);
        assert_eq!(d.entries().len(), 3);
        d
    }

    /// With the digests of A, the check of B (A with one byte of an entry's
    /// content changed) passes if and only if the digest of that entry is
    /// used: the plain check of B fails.
    fn used(b: &[u8], d: &StreamDigests) -> bool {
        assert!(check_and_hash_zip(M, V, Cursor::new(b)).is_err());
        check_and_hash_zip_streamed(M, V, Cursor::new(b), d).is_ok()
    }

    #[test]
    fn every_fact_of_an_entry_must_match_for_its_digest_to_be_used() {
        let (a, b) = zip_and_changed("b.go");
        let d = digests(&a);
        assert!(used(&b, &d), "the digests as streamed are used");
        let k = 2;
        type Change = fn(&mut StreamedEntry);
        let changes: [(&str, Change); 8] = [
            ("name", |e| e.name.push(b'x')),
            ("method", |e| e.method = 8),
            ("flags", |e| e.flags ^= 0x800),
            ("crc32", |e| e.crc32 ^= 1),
            ("compressed_size", |e| e.compressed_size += 1),
            ("size", |e| e.size += 1),
            ("header_offset", |e| e.header_offset += 1),
            ("data_start", |e| e.data_start += 1),
        ];
        for (what, change) in changes {
            let mut d = d.clone();
            change(&mut d.entries[k]);
            assert!(!used(&b, &d), "used although its {what} differs");
        }
    }

    #[test]
    fn the_go_mod_is_used_only_from_its_own_entry() {
        let (a, b) = zip_and_changed("go.mod");
        let d = digests(&a);
        assert!(used(&b, &d));
        let summary = check_and_hash_zip_streamed(M, V, Cursor::new(&b), &d).unwrap();
        assert_eq!(summary.go_mod.as_deref(), d.go_mod());
        // Kept from another entry, or not kept: the go.mod is read again.
        let mut other = d.clone();
        other.go_mod.as_mut().unwrap().0 = d.entries[1].header_offset;
        assert!(!used(&b, &other));
        let mut none = d.clone();
        none.go_mod = None;
        assert!(!used(&b, &none));
    }
}
