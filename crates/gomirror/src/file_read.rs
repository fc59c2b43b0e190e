//! Reading a file at an offset: whole pieces (fewer bytes only at the end
//! of the file), or, without blocking, only what the page cache holds.

use std::sync::atomic::Ordering;

/// Up to `max` bytes of `f` from `pos`: fewer only at the end of the file
/// (the [`crate::store::ObjectRead::read_at`] contract, for every
/// file-backed reader).
pub(crate) fn read_full_at(
    f: &std::fs::File,
    pos: u64,
    max: usize,
) -> std::io::Result<bytes::Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; max];
    let mut n = 0;
    while n < max {
        match f.read_at(&mut buf[n..], pos + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(bytes::Bytes::from(buf))
}

/// Up to `max` bytes of `f` from `pos` (the contract of [`read_full_at`]),
/// read without blocking: only when every byte asked for is in the page
/// cache (`preadv2` with `RWF_NOWAIT`), so the caller can read on an async
/// thread and spare a hand-off to the blocking pool. `None`: it would
/// block (the bytes are not all cached, or the file system cannot tell);
/// read with [`read_full_at`] on a blocking thread then.
pub(crate) fn read_cached_at(f: &std::fs::File, pos: u64, max: usize) -> Option<bytes::Bytes> {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::AtomicBool;
    /// Set once the kernel or file system refused `RWF_NOWAIT`.
    static UNSUPPORTED: AtomicBool = AtomicBool::new(false);
    if UNSUPPORTED.load(Ordering::Relaxed) {
        return None;
    }
    let mut buf = bytes::BytesMut::with_capacity(max);
    let mut n = 0;
    while n < max {
        let spare = buf.spare_capacity_mut();
        let iov = libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: max - n,
        };
        let off = libc::off_t::try_from(pos + n as u64).ok()?;
        // SAFETY: the iovec covers the buffer's spare capacity, which the
        // kernel writes at most `iov_len` bytes of; only those it reports
        // written are then taken into the buffer.
        let r = unsafe { libc::preadv2(f.as_raw_fd(), &iov, 1, off, libc::RWF_NOWAIT) };
        match r {
            0 => break,
            k if k > 0 => {
                // SAFETY: the kernel initialised these `k` bytes.
                unsafe { buf.set_len(n + k as usize) };
                n += k as usize;
            }
            _ => {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) | Some(libc::EINVAL) => {
                        UNSUPPORTED.store(true, Ordering::Relaxed);
                        return None;
                    }
                    // EAGAIN (not cached) or a real error: the blocking
                    // read tells.
                    _ => return None,
                }
            }
        }
    }
    Some(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    /// A read of cached bytes without blocking gives exactly what the
    /// blocking read gives, past the end of the file too.
    #[test]
    fn a_cached_read_matches_the_blocking_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let f = File::open(&path).unwrap();
        // Read once: cached now.
        let _ = read_full_at(&f, 0, data.len()).unwrap();
        for (pos, max) in [
            (0, 65536),
            (1, 100),
            (150_000, 65536),
            (199_999, 10),
            (200_000, 5),
            (300_000, 5),
        ] {
            let cached = read_cached_at(&f, pos, max).expect("cached bytes read without blocking");
            assert_eq!(
                cached,
                read_full_at(&f, pos, max).unwrap(),
                "at {pos}+{max}"
            );
        }
    }
}
