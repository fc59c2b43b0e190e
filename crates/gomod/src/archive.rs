//! Reading zip archives the way Go's `archive/zip` does, with nothing the
//! archive declares taken on trust. This is the layer under [`crate::zip`]
//! (module zips: their rules) and [`crate::dirhash`] (the `h1:` hash of a
//! zip's entries); it knows nothing of modules.
//!
//! # The rules
//!
//! * The central directory is found and read with Go's rules. A zip that Go
//!   and the `zip` crate would read differently (different entries, names,
//!   sizes, methods, CRC-32s, header or data offsets) is rejected as
//!   ambiguous ([`Error::Ambiguous`]), and so is data before the first entry
//!   (an archive offset).
//! * The zip file may be at most `max_zip_file` bytes of [`Limits`] (the
//!   go command's 500 MiB, [`MAX_ZIP_FILE`]).
//! * Every entry read is decompressed and counted, never more than one byte
//!   past its declared size, and must match its declared size and CRC-32
//!   (and its data descriptor, if it has one). Only Store and Deflate are
//!   accepted, without encryption; a directory entry has no content. The
//!   real total read may be at most `max_unzipped` bytes. An entry whose
//!   content the caller already verified from these very bytes (a memo
//!   keyed on every fact of the entry and its data offset, as
//!   [`crate::zip::check_and_hash_zip_streamed`] has from
//!   [`crate::zip::digest_stream`]) is not decompressed again; every other
//!   rule still applies to it.
//!
//! The size limits and their error ([`SizeError`]) are the go command's
//! limits on module zips; [`crate::zip`] re-exports them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::rc::Rc;

use ::zip::read::{ArchiveOffset, Config, ZipFileEntry};
use ::zip::{CompressionMethod, ZipArchive};

/// The maximum size in bytes of a module zip file, and also of the total
/// uncompressed size of its files: 500 MiB. The `go` command rejects larger
/// ones.
pub const MAX_ZIP_FILE: u64 = 500 << 20;

/// The maximum size in bytes of the top-level `go.mod` in a module zip:
/// 16 MiB.
pub const MAX_GO_MOD: u64 = 16 << 20;

/// The maximum size in bytes of the top-level `LICENSE` in a module zip:
/// 16 MiB.
pub const MAX_LICENSE: u64 = 16 << 20;

/// The size limits enforced on module zips (here, by [`crate::zip`] and by
/// [`crate::dirhash::hash_zip`]). The public functions always use the
/// defaults, which are Go's; smaller limits exist so that tests of the
/// limits run fast.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest zip file accepted, in bytes.
    pub max_zip_file: u64,
    /// Largest total of the files' sizes, declared or real, in bytes.
    pub max_unzipped: u64,
    /// Largest top-level `go.mod`, in bytes.
    pub max_go_mod: u64,
    /// Largest top-level `LICENSE`, in bytes.
    pub max_license: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_zip_file: MAX_ZIP_FILE,
            max_unzipped: MAX_ZIP_FILE,
            max_go_mod: MAX_GO_MOD,
            max_license: MAX_LICENSE,
        }
    }
}

/// A size limit that a module's files or zip exceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// The zip file itself is too large.
    #[error("module zip file is too large ({size} bytes; limit is {limit} bytes)")]
    ZipFile {
        /// The zip file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The files in a zip add up to too many bytes (declared or real).
    #[error("total uncompressed size of module contents too large (max size is {limit} bytes)")]
    Unzipped {
        /// The limit.
        limit: u64,
    },
    /// The files of a tree to be zipped add up to too many bytes.
    #[error("module source tree too large (max size is {limit} bytes)")]
    SourceTree {
        /// The limit.
        limit: u64,
    },
}

/// An error reading a zip archive. [`crate::zip::Error`] has a variant of
/// the same name and message for each of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A size limit is exceeded.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// The zip's structure cannot be read.
    #[error("not a valid zip file: {0}")]
    Format(String),
    /// The zip would read differently through Go's `archive/zip` than here
    /// (for example, two readers would find different entries), so its
    /// content is not well defined.
    #[error("not a valid zip file: ambiguous structure: {0}")]
    Ambiguous(String),
    /// An entry's content does not match what the zip declares about it
    /// (size, CRC-32), cannot be decompressed, or uses an unsupported
    /// compression method or encryption.
    #[error("corrupt zip entry {name}: {detail}")]
    Corrupt {
        /// The entry's name as stored in the zip.
        name: String,
        /// What is wrong with it.
        detail: String,
    },
    /// An I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Reads `r` to its end, discarding the bytes (a verifying reader checks
/// them as they pass). `io::copy` reuses one stack buffer: no allocation per
/// entry.
pub(crate) fn drain(r: &mut impl Read) -> io::Result<()> {
    io::copy(r, &mut io::sink()).map(|_| ())
}

pub(crate) const END_SIG: u32 = 0x0605_4b50;
const END_LEN: usize = 22;
pub(crate) const CENTRAL_SIG: u32 = 0x0201_4b50;
const CENTRAL_LEN: usize = 46;
pub(crate) const LOCAL_SIG: u32 = 0x0403_4b50;
pub(crate) const LOCAL_LEN: usize = 30;
pub(crate) const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const END64_LOCATOR_SIG: u32 = 0x0706_4b50;
const END64_LOCATOR_LEN: u64 = 20;
pub(crate) const END64_SIG: u32 = 0x0606_4b50;
const END64_LEN: usize = 56;
pub(crate) const ZIP64_EXTRA: u16 = 0x0001;

/// One entry of the central directory, as Go's `archive/zip` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The name, as stored.
    pub(crate) name: Vec<u8>,
    pub(crate) flags: u16,
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    pub(crate) compressed_size: u64,
    /// The declared uncompressed size.
    pub(crate) size: u64,
    pub(crate) header_offset: u64,
}

impl Entry {
    fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    fn corrupt(&self, detail: impl Into<String>) -> Error {
        Error::Corrupt {
            name: self.display_name(),
            detail: detail.into(),
        }
    }
}

fn format(msg: impl Into<String>) -> Error {
    Error::Format(msg.into())
}

fn io_err(e: io::Error) -> Error {
    Error::io("reading zip", e)
}

pub(crate) fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
pub(crate) fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
}
pub(crate) fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

fn read_at<R: Read + Seek>(r: &mut R, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    r.seek(SeekFrom::Start(offset))?;
    r.read_exact(buf)
}

/// The offset in `b` of the last end-of-central-directory signature
/// whose comment fits in `b`; `None` if the last signature's comment
/// does not fit, or there is none.
fn find_end_in_block(b: &[u8]) -> Option<usize> {
    if b.len() < END_LEN {
        return None;
    }
    for i in (0..=b.len() - END_LEN).rev() {
        if le32(&b[i..]) == END_SIG {
            let comment_len = le16(&b[i + END_LEN - 2..]) as usize;
            return (i + END_LEN + comment_len <= b.len()).then_some(i);
        }
    }
    None
}

/// The central directory's entries, found and read with Go's rules.
///
/// Deliberately stricter than Go: data before the first entry (an
/// archive offset, as in self-extracting archives) is rejected.
fn read_directory<R: Read + Seek>(r: &mut R, len: u64) -> Result<Vec<Entry>, Error> {
    // The end record: in the last 1 KiB, else in the last 65 KiB.
    let mut end_offset = None;
    let mut block = Vec::new();
    for (i, block_len) in [1024u64, 65 * 1024].into_iter().enumerate() {
        let block_len = block_len.min(len);
        block = vec![0u8; block_len as usize];
        read_at(r, len - block_len, &mut block).map_err(io_err)?;
        if let Some(p) = find_end_in_block(&block) {
            end_offset = Some(len - block_len + p as u64);
            block.drain(..p);
            break;
        }
        if i == 1 || block_len == len {
            break;
        }
    }
    let Some(mut end_offset) = end_offset else {
        return Err(format("no end of central directory record"));
    };
    let b = &block[4..];
    let mut records = u64::from(le16(&b[6..]));
    let mut dir_size = u64::from(le32(&b[8..]));
    let mut dir_offset = u64::from(le32(&b[12..]));

    if records == 0xffff || dir_size == 0xffff_ffff || dir_offset == 0xffff_ffff {
        if let Some(p) = find_end64(r, end_offset)? {
            end_offset = p;
            let mut b = [0u8; END64_LEN];
            read_at(r, p, &mut b).map_err(io_err)?;
            if le32(&b) != END64_SIG {
                return Err(format("bad zip64 end of central directory record"));
            }
            records = le64(&b[32..]);
            dir_size = le64(&b[40..]);
            dir_offset = le64(&b[48..]);
        }
    }
    if dir_size > i64::MAX as u64 || dir_offset > i64::MAX as u64 {
        return Err(format("central directory size or offset out of range"));
    }
    let mut base = i128::from(end_offset) - i128::from(dir_size) - i128::from(dir_offset);
    let start = base + i128::from(dir_offset);
    if start < 0 || start >= i128::from(len) {
        return Err(format("central directory offset out of range"));
    }
    if base > 0 {
        // Go's fallback for end records that imply an archive offset
        // while the directory is where the record says.
        let mut b = [0u8; 4];
        if read_at(r, dir_offset, &mut b).is_ok()
            && le32(&b) == CENTRAL_SIG
            && read_header(&mut BufReader::new(Offset(r, dir_offset))).is_ok_and(|e| e.is_some())
        {
            base = 0;
        }
    }
    if base != 0 {
        return Err(Error::Ambiguous(
            "data before the first entry (archive offset) is not allowed".into(),
        ));
    }

    r.seek(SeekFrom::Start(dir_offset)).map_err(io_err)?;
    let mut br = BufReader::with_capacity(64 * 1024, &mut *r);
    let mut entries = Vec::new();
    while let Some(e) = read_header(&mut br)? {
        entries.push(e);
    }
    if entries.len() as u16 != records as u16 {
        return Err(format(format!(
            "central directory has {} entries, end record says {records}",
            entries.len()
        )));
    }
    if entries.len() as u64 != records {
        return Err(Error::Ambiguous(format!(
            "central directory has {} entries, end record says {records}",
            entries.len()
        )));
    }
    Ok(entries)
}

/// A reader of `R` from a fixed offset on (for a one-off header read).
struct Offset<'a, R>(&'a mut R, u64);

impl<R: Read + Seek> Read for Offset<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.seek(SeekFrom::Start(self.1))?;
        let n = self.0.read(buf)?;
        self.1 += n as u64;
        Ok(n)
    }
}

/// The offset of the zip64 end record, if a valid locator precedes the
/// end record.
fn find_end64<R: Read + Seek>(r: &mut R, end_offset: u64) -> Result<Option<u64>, Error> {
    let Some(locator) = end_offset.checked_sub(END64_LOCATOR_LEN) else {
        return Ok(None);
    };
    let mut b = [0u8; END64_LOCATOR_LEN as usize];
    read_at(r, locator, &mut b).map_err(io_err)?;
    if le32(&b) != END64_LOCATOR_SIG || le32(&b[4..]) != 0 || le32(&b[16..]) != 1 {
        return Ok(None);
    }
    let p = le64(&b[8..]);
    // Go reads the offset as a signed number and ignores negative ones.
    Ok((p <= i64::MAX as u64).then_some(p))
}

/// The next central directory header, or `None` where Go stops reading
/// them (a wrong signature, or the file ends).
fn read_header<B: Read>(r: &mut B) -> Result<Option<Entry>, Error> {
    let mut b = [0u8; CENTRAL_LEN];
    match r.read_exact(&mut b) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io_err(e)),
    }
    if le32(&b) != CENTRAL_SIG {
        return Ok(None);
    }
    let flags = le16(&b[8..]);
    let method = le16(&b[10..]);
    let crc32 = le32(&b[16..]);
    let compressed32 = le32(&b[20..]);
    let size32 = le32(&b[24..]);
    let name_len = le16(&b[28..]) as usize;
    let extra_len = le16(&b[30..]) as usize;
    let comment_len = le16(&b[32..]) as usize;
    let offset32 = le32(&b[42..]);
    let mut var = vec![0u8; name_len + extra_len + comment_len];
    match r.read_exact(&mut var) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io_err(e)),
    }
    let name = var[..name_len].to_vec();
    let mut e = Entry {
        name,
        flags,
        method,
        crc32,
        compressed_size: u64::from(compressed32),
        size: u64::from(size32),
        header_offset: u64::from(offset32),
    };
    let mut extra = &var[name_len..name_len + extra_len];
    while extra.len() >= 4 {
        let tag = le16(extra);
        let field_len = le16(&extra[2..]) as usize;
        extra = &extra[4..];
        if extra.len() < field_len {
            break;
        }
        let (mut field, rest) = extra.split_at(field_len);
        extra = rest;
        if tag != ZIP64_EXTRA {
            continue;
        }
        let mut next = || -> Option<u64> {
            let v = le64(field.get(..8)?);
            field = &field[8..];
            Some(v)
        };
        if size32 == u32::MAX {
            let Some(v) = next() else { return Ok(None) };
            e.size = v;
        }
        if compressed32 == u32::MAX {
            let Some(v) = next() else { return Ok(None) };
            e.compressed_size = v;
        }
        if offset32 == u32::MAX {
            let Some(v) = next() else { return Ok(None) };
            e.header_offset = v;
        }
    }
    Ok(Some(e))
}

/// A reader of a shared `R` with its own position, so that the `zip`
/// crate's archive and this module can both read the same zip.
pub(crate) struct Handle<R> {
    shared: Rc<RefCell<Shared<R>>>,
    pos: u64,
    len: u64,
}

struct Shared<R> {
    inner: R,
    /// The inner reader's position, if known.
    pos: Option<u64>,
}

impl<R> Handle<R> {
    fn new(inner: R, len: u64) -> Self {
        Handle {
            shared: Rc::new(RefCell::new(Shared { inner, pos: None })),
            pos: 0,
            len,
        }
    }

    fn another(&self) -> Self {
        Handle {
            shared: Rc::clone(&self.shared),
            pos: 0,
            len: self.len,
        }
    }
}

impl<R: Read + Seek> Read for Handle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.shared.borrow_mut();
        if s.pos != Some(self.pos) {
            s.pos = None;
            s.inner.seek(SeekFrom::Start(self.pos))?;
            s.pos = Some(self.pos);
        }
        match s.inner.read(buf) {
            Ok(n) => {
                self.pos += n as u64;
                s.pos = Some(self.pos);
                Ok(n)
            }
            Err(e) => {
                s.pos = None;
                Err(e)
            }
        }
    }
}

impl<R: Read + Seek> Seek for Handle<R> {
    fn seek(&mut self, from: SeekFrom) -> io::Result<u64> {
        let target = match from {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek to a negative offset")
        })?;
        self.pos = target;
        Ok(target)
    }
}

/// A zip opened for reading: its entries as Go sees them, confirmed to
/// be the entries the `zip` crate sees.
pub(crate) struct ArchiveReader<R> {
    own: Handle<R>,
    archive: ZipArchive<Handle<R>>,
    entries: Vec<Entry>,
    /// For each entry, its index in `archive` if it is the last entry
    /// of its name (the one the crate, like Go's `HashZip`, keeps).
    crate_index: Vec<Option<usize>>,
    limits: Limits,
}

fn crate_config() -> Config {
    Config {
        archive_offset: ArchiveOffset::Known(0),
    }
}

fn crate_err(e: ::zip::result::ZipError) -> Error {
    match e {
        ::zip::result::ZipError::Io(e) => io_err(e),
        e => format(e.to_string()),
    }
}

/// Checks that the `zip` crate's view of an entry is Go's.
fn same_entry(ours: &Entry, theirs: &ZipFileEntry<'_>) -> Result<(), Error> {
    let method_agrees = match ours.method {
        0 => theirs.compression() == CompressionMethod::Stored,
        8 => theirs.compression() == CompressionMethod::Deflated,
        // Rejected when read.
        _ => true,
    };
    if theirs.name_raw() != ours.name.as_slice()
        || !method_agrees
        || theirs.crc32() != ours.crc32
        || theirs.compressed_size() != ours.compressed_size
        || theirs.size() != ours.size
        || theirs.header_start() != ours.header_offset
    {
        return Err(Error::Ambiguous(format!(
            "entry {} reads differently through different zip readers",
            ours.display_name()
        )));
    }
    Ok(())
}

impl<R: Read + Seek> ArchiveReader<R> {
    /// Reads the zip's directory. Fails if the zip is larger than
    /// `limits.max_zip_file`, malformed, or ambiguous.
    pub(crate) fn open(mut r: R, limits: &Limits) -> Result<Self, Error> {
        let len = r.seek(SeekFrom::End(0)).map_err(io_err)?;
        if len > limits.max_zip_file {
            return Err(SizeError::ZipFile {
                size: len,
                limit: limits.max_zip_file,
            }
            .into());
        }
        let mut own = Handle::new(r, len);
        let entries = read_directory(&mut own, len)?;
        let archive = ZipArchive::with_config(crate_config(), own.another()).map_err(crate_err)?;

        // The crate keeps one entry per name, the last; so does Go's
        // HashZip. Both views must hold the same names, and the same
        // entry for each.
        let mut last = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            last.insert(e.name.as_slice(), i);
        }
        if archive.len() != last.len() {
            return Err(Error::Ambiguous(format!(
                "zip readers disagree on the number of entries ({} or {})",
                last.len(),
                archive.len()
            )));
        }
        let mut crate_index = vec![None; entries.len()];
        for (name, &i) in &last {
            let j = archive.index_for_name_raw(name).ok_or_else(|| {
                Error::Ambiguous(format!(
                    "entry {} is missing for another zip reader",
                    entries[i].display_name()
                ))
            })?;
            let theirs = archive.by_index_data(j).map_err(crate_err)?;
            same_entry(&entries[i], &theirs)?;
            crate_index[i] = Some(j);
        }
        drop(last);
        Ok(ArchiveReader {
            own,
            archive,
            entries,
            crate_index,
            limits: limits.clone(),
        })
    }

    /// The entries of the central directory, in order.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The zip file's length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.own.len
    }

    /// Reads the entries that `select` picks, in order, passing the
    /// content of each file entry to `visit` through a reader that
    /// verifies it.
    ///
    /// Each picked entry's local header must be sound. A directory entry
    /// (name ending in `/`) must declare no content and is not visited.
    /// A file entry must use Store or Deflate without encryption, be the
    /// last entry of its name, and its content is read through a reader
    /// that fails if it turns out longer than declared (reading at most
    /// one byte more) or shorter, if its CRC-32 is wrong, or if the real
    /// total over all entries read exceeds `max_unzipped`. Whatever
    /// `visit` leaves unread is read afterwards, so every picked entry is
    /// verified in full. A data descriptor must agree with the CRC-32 of
    /// the central directory.
    pub(crate) fn read_contents(
        &mut self,
        select: impl FnMut(usize, &Entry) -> bool,
        mut visit: impl FnMut(usize, &Entry, &mut dyn Read) -> io::Result<()>,
    ) -> Result<(), Error> {
        self.read_contents_with(
            select,
            |_, _, _| None::<Infallible>,
            |i, entry, content| match content {
                Content::Read(r) => visit(i, entry, r),
                Content::Known(never) => match never {},
            },
        )
    }

    /// [`read_contents`](Self::read_contents), except that an entry whose
    /// content is already known to be sound is not read again: for each
    /// file entry, after every check that does not read its content (local
    /// header, method, encryption, repetition, the `zip` crate's data
    /// offset), `known(i, entry, data_start)` may return `Some(k)`, where
    /// `data_start` is the offset of the entry's data as its local header in
    /// this file says. Then `visit` gets [`Content::Known(k)`](Content::Known)
    /// instead of a reader, and the entry's declared size counts against
    /// `max_unzipped` as reading it would have; its data descriptor is
    /// still checked.
    ///
    /// The rule `known` must keep: return `Some` only if the `compressed_size`
    /// bytes at `data_start` of this very file are known to decompress, with
    /// the entry's method, to exactly `size` bytes whose CRC-32 is the
    /// entry's `crc32` — so that reading them would have succeeded. Then
    /// the outcome is the one reading gives.
    pub(crate) fn read_contents_with<K>(
        &mut self,
        mut select: impl FnMut(usize, &Entry) -> bool,
        mut known: impl FnMut(usize, &Entry, u64) -> Option<K>,
        mut visit: impl FnMut(usize, &Entry, Content<'_, K>) -> io::Result<()>,
    ) -> Result<(), Error> {
        let mut budget = self.limits.max_unzipped;
        for (i, entry) in self.entries.iter().enumerate() {
            if !select(i, entry) {
                continue;
            }
            let data_start = local_data_start(&mut self.own, entry)?;
            if entry.name.ends_with(b"/") {
                if entry.size != 0 {
                    return Err(entry.corrupt("directory entry has content"));
                }
                continue;
            }
            if entry.method != 0 && entry.method != 8 {
                return Err(entry.corrupt(format!(
                    "unsupported compression method {} (module zips use Store or Deflate)",
                    entry.method
                )));
            }
            if entry.flags & 1 != 0 {
                return Err(entry.corrupt("encrypted entries are not supported"));
            }
            let Some(j) = self.crate_index[i] else {
                return Err(Error::Ambiguous(format!(
                    "entry {} is repeated",
                    entry.display_name()
                )));
            };
            {
                let file = self
                    .archive
                    .by_index(j)
                    .map_err(|e| entry.corrupt(e.to_string()))?;
                if file.data_start().is_some_and(|s| s != data_start) {
                    return Err(Error::Ambiguous(format!(
                        "entry {} has its data at different offsets for different readers",
                        entry.display_name()
                    )));
                }
                if let Some(k) = known(i, entry, data_start) {
                    // Reading would have counted exactly `size` bytes.
                    if entry.size > budget {
                        return Err(SizeError::Unzipped {
                            limit: self.limits.max_unzipped,
                        }
                        .into());
                    }
                    budget -= entry.size;
                    visit(i, entry, Content::Known(k)).map_err(|e| {
                        Error::io(format!("extracting {}", entry.display_name()), e)
                    })?;
                } else {
                    let mut content = Verified {
                        inner: file,
                        declared: entry.size,
                        count: 0,
                        budget: &mut budget,
                        limit: self.limits.max_unzipped,
                        failure: None,
                    };
                    let result = visit(i, entry, Content::Read(&mut content))
                        .and_then(|()| drain(&mut content));
                    if let Err(e) = result {
                        return Err(match content.failure.take() {
                            Some(Failure::Budget(limit)) => SizeError::Unzipped { limit }.into(),
                            Some(Failure::Read(detail)) => entry.corrupt(detail),
                            None => Error::io(format!("extracting {}", entry.display_name()), e),
                        });
                    }
                }
            }
            if entry.flags & 0x8 != 0 {
                check_descriptor(&mut self.own, entry, data_start)?;
            }
        }
        Ok(())
    }
}

/// An entry's content as [`ArchiveReader::read_contents_with`] hands it
/// over.
pub(crate) enum Content<'a, K> {
    /// To be read: a reader that verifies the content as it passes.
    Read(&'a mut dyn Read),
    /// Not read: already known to be sound (what `known` returned).
    Known(K),
}

/// Where an entry's data starts, from its local header (which must have
/// the right signature).
fn local_data_start<R: Read + Seek>(r: &mut R, e: &Entry) -> Result<u64, Error> {
    let mut b = [0u8; LOCAL_LEN];
    read_at(r, e.header_offset, &mut b)
        .map_err(|err| e.corrupt(format!("reading local header: {err}")))?;
    if le32(&b) != LOCAL_SIG {
        return Err(e.corrupt("bad local header signature"));
    }
    let name_len = u64::from(le16(&b[26..]));
    let extra_len = u64::from(le16(&b[28..]));
    e.header_offset
        .checked_add(LOCAL_LEN as u64 + name_len + extra_len)
        .ok_or_else(|| e.corrupt("local header offset out of range"))
}

/// Checks the data descriptor after an entry's data: its CRC-32 (after
/// an optional signature) must be the central directory's.
fn check_descriptor<R: Read + Seek>(r: &mut R, e: &Entry, data_start: u64) -> Result<(), Error> {
    let at = data_start
        .checked_add(e.compressed_size)
        .ok_or_else(|| e.corrupt("data descriptor offset out of range"))?;
    let mut b = [0u8; 16];
    let short = |err: io::Error| e.corrupt(format!("reading data descriptor: {err}"));
    read_at(r, at, &mut b[..4]).map_err(short)?;
    let crc_at = if le32(&b) == DESCRIPTOR_SIG { 4 } else { 0 };
    r.read_exact(&mut b[4..12 + crc_at]).map_err(short)?;
    if le32(&b[crc_at..]) != e.crc32 {
        return Err(e.corrupt("data descriptor CRC-32 does not match the central directory"));
    }
    Ok(())
}

enum Failure {
    Budget(u64),
    Read(String),
}

/// An entry's decompressed content, counted against its declared size
/// and the budget of real bytes.
struct Verified<'a, R> {
    inner: R,
    declared: u64,
    count: u64,
    budget: &'a mut u64,
    limit: u64,
    failure: Option<Failure>,
}

impl<R: Read> Verified<'_, R> {
    fn larger(&self) -> String {
        format!(
            "uncompressed size is larger than declared size ({} bytes)",
            self.declared
        )
    }

    fn fail(&mut self, failure: Failure) -> io::Error {
        let msg = match &failure {
            Failure::Budget(limit) => format!("more than {limit} bytes in total"),
            Failure::Read(detail) => detail.clone(),
        };
        self.failure = Some(failure);
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }
}

impl<R: Read> Read for Verified<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "entry already failed",
            ));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        // Never ask for more than one byte past the declared size.
        let room = self.declared - self.count + 1;
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            // The zip crate refuses, as we would, a byte past the
            // declared size; report it in our words.
            Err(e)
                if self.count + want as u64 > self.declared
                    && e.to_string().contains("larger than") =>
            {
                return Err(self.fail(Failure::Read(self.larger())));
            }
            Err(e) => return Err(self.fail(Failure::Read(e.to_string()))),
        };
        if n == 0 {
            if self.count < self.declared {
                let msg = format!(
                    "uncompressed size is smaller than declared size ({} bytes)",
                    self.declared
                );
                return Err(self.fail(Failure::Read(msg)));
            }
            return Ok(0);
        }
        self.count += n as u64;
        if self.count > self.declared {
            return Err(self.fail(Failure::Read(self.larger())));
        }
        if n as u64 > *self.budget {
            return Err(self.fail(Failure::Budget(self.limit)));
        }
        *self.budget -= n as u64;
        Ok(n)
    }
}
