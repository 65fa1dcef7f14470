//! Segment files: `<dir>/<id, 20 digits>.seg`, each an 8-byte magic followed by framed records
//! ([`record`](super::record)), read one record at a time with every checksum verified.
//!
//! A record that does not verify is *damaged*. Damage at the very end of a file (a length or
//! payload cut short, or a checksum mismatch in the last record) is what a crash during an append
//! leaves: that record was never acknowledged (the client gets its 204 only after the fsync). Damage
//! before the end is corruption of the disk or by hand: the records after it cannot be framed
//! reliably any more, so [`quarantine`] moves the rest of the file aside (`<id>.seg.damaged-<offset>`)
//! for inspection.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::record::{checksum, Record, FRAME_HEADER, MAX_PAYLOAD};

/// The first bytes of every segment (format version 1).
pub const MAGIC: &[u8; 8] = b"IGSPOOL1";
/// Where the first record of a segment starts.
pub const HEADER: u64 = MAGIC.len() as u64;

/// A place in the spool: a segment and a byte offset in it. Ordered as the records are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub seg: u64,
    pub off: u64,
}

impl Pos {
    pub fn start_of(seg: u64) -> Pos {
        Pos { seg, off: HEADER }
    }
}

pub fn path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

/// Ids of the segment files in `dir`, ascending.
pub fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(id) = name.strip_suffix(".seg").filter(|s| s.len() == 20).and_then(|s| s.parse::<u64>().ok()) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Creates segment `id` (its magic written and synced, the directory entry too).
pub fn create(dir: &Path, id: u64) -> io::Result<File> {
    let mut f = OpenOptions::new().create_new(true).read(true).append(true).open(path(dir, id))?;
    f.write_all(MAGIC)?;
    f.sync_all()?;
    sync_dir(dir)?;
    Ok(f)
}

/// Makes a directory's entries (files created, renamed or removed) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What reading the next record found.
#[derive(Debug)]
pub enum Next {
    /// A verified record and the bytes it takes.
    Record(Record, u64),
    /// No more records before the limit.
    End,
    /// The bytes at `at` are not a valid record; `tail`: the damage reaches the end of the file
    /// (what an interrupted append leaves).
    Damaged { at: u64, why: String, tail: bool },
}

/// Reads the records of one segment in order.
pub struct Reader {
    file: BufReader<File>,
    pub id: u64,
    /// Offset of the next record.
    pub off: u64,
    /// The file's length when opened (what is beyond was not there yet).
    len: u64,
}

impl Reader {
    /// Opens segment `id` at `off` (a record boundary; see [`Reader::check_magic`] for the header).
    pub fn open(dir: &Path, id: u64, off: u64) -> io::Result<Reader> {
        let mut file = File::open(path(dir, id))?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(off.max(HEADER)))?;
        Ok(Reader { file: BufReader::with_capacity(256 << 10, file), id, off: off.max(HEADER), len })
    }

    /// Whether the segment starts with [`MAGIC`].
    pub fn check_magic(dir: &Path, id: u64) -> io::Result<bool> {
        let mut f = File::open(path(dir, id))?;
        let mut m = [0u8; 8];
        match f.read_exact(&mut m) {
            Ok(()) => Ok(&m == MAGIC),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The next record, reading no further than `limit` (the end of what is committed).
    pub fn next(&mut self, limit: u64) -> io::Result<Next> {
        if limit > self.len {
            // Appended to since it was opened.
            self.len = self.file.get_ref().metadata()?.len();
        }
        let limit = limit.min(self.len);
        if self.off >= limit {
            return Ok(Next::End);
        }
        let at = self.off;
        let damaged = |why: String, tail: bool| Ok(Next::Damaged { at, why, tail });
        if limit - at < FRAME_HEADER as u64 {
            return damaged(format!("{} bytes, less than a record header", limit - at), true);
        }
        let mut head = [0u8; FRAME_HEADER];
        self.file.read_exact(&mut head)?;
        let len_bytes: [u8; 4] = [head[0], head[1], head[2], head[3]];
        let len = u32::from_le_bytes(len_bytes) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let end = at + (FRAME_HEADER + len) as u64;
        if len > MAX_PAYLOAD {
            return damaged(format!("record length {len} is impossible"), false);
        }
        if end > limit {
            return damaged(format!("record of {len} bytes cut short at {} bytes", limit - at - FRAME_HEADER as u64), true);
        }
        // Read into spare capacity: zeroing the buffer first would cost more than the read.
        let mut payload = Vec::with_capacity(len);
        (&mut self.file).take(len as u64).read_to_end(&mut payload)?;
        if payload.len() < len {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "spool segment shorter than its length said"));
        }
        if checksum(len_bytes, &payload) != crc {
            return damaged("checksum mismatch".into(), end == limit);
        }
        let Some(rec) = Record::decode(&bytes::Bytes::from(payload)) else {
            return damaged("checksum verified but not a record of this version".into(), false);
        };
        self.off = end;
        Ok(Next::Record(rec, end - at))
    }
}

/// Cuts segment `id` at `at`, first moving the bytes from `at` on to `<id>.seg.damaged-<at>`
/// (kept for inspection). Returns the side file's path, if there were bytes to keep.
pub fn quarantine(dir: &Path, id: u64, at: u64) -> io::Result<Option<PathBuf>> {
    let p = path(dir, id);
    let mut f = OpenOptions::new().read(true).write(true).open(&p)?;
    let len = f.metadata()?.len();
    let mut kept = None;
    if len > at {
        let side = dir.join(format!("{id:020}.seg.damaged-{at}"));
        f.seek(SeekFrom::Start(at))?;
        let mut out = File::create(&side)?;
        io::copy(&mut (&mut f).take(len - at), &mut out)?;
        out.sync_all()?;
        kept = Some(side);
    }
    f.set_len(at)?;
    f.sync_all()?;
    sync_dir(dir)?;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::Precision;
    use crate::spool::record::{Entry, Kind};

    fn rec(i: u32) -> Record {
        Record {
            kind: Kind::Write,
            time_ms: i as i64,
            entry: Entry {
                db: "db".into(),
                rp: None,
                precision: Precision::Nanosecond,
                now_ns: 7,
                body: bytes::Bytes::from(format!("m v={i}\n")),
                points: 1,
            },
        }
    }

    fn write_segment(dir: &Path, n: u32) -> u64 {
        let mut f = create(dir, 1).unwrap();
        for i in 0..n {
            f.write_all(&rec(i).encode()).unwrap();
        }
        f.sync_all().unwrap();
        f.metadata().unwrap().len()
    }

    fn read_all(dir: &Path) -> (Vec<u32>, Option<(u64, bool)>) {
        let mut r = Reader::open(dir, 1, HEADER).unwrap();
        let mut got = Vec::new();
        loop {
            match r.next(u64::MAX).unwrap() {
                Next::Record(rec, _) => got.push(rec.time_ms as u32),
                Next::End => return (got, None),
                Next::Damaged { at, tail, .. } => return (got, Some((at, tail))),
            }
        }
    }

    #[test]
    fn reads_back_and_finds_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let len = write_segment(dir.path(), 3);
        assert!(Reader::check_magic(dir.path(), 1).unwrap());
        assert_eq!(read_all(dir.path()), (vec![0, 1, 2], None));
        // Cut the last record anywhere: the first two read, the third is a torn tail.
        let one = rec(2).framed_len();
        for cut in 1..one {
            let f = OpenOptions::new().write(true).open(path(dir.path(), 1)).unwrap();
            f.set_len(len - cut).unwrap();
            let (got, bad) = read_all(dir.path());
            assert_eq!(got, vec![0, 1], "cut {cut}");
            assert_eq!(bad, Some((len - one, true)), "cut {cut}");
        }
    }

    #[test]
    fn damage_in_the_middle_is_not_a_tail() {
        let dir = tempfile::tempdir().unwrap();
        let len = write_segment(dir.path(), 3);
        let second = HEADER + rec(0).framed_len();
        let mut bytes = std::fs::read(path(dir.path(), 1)).unwrap();
        bytes[second as usize + 12] ^= 1;
        std::fs::write(path(dir.path(), 1), &bytes).unwrap();
        assert_eq!(read_all(dir.path()), (vec![0], Some((second, false))));
        let side = quarantine(dir.path(), 1, second).unwrap().unwrap();
        assert_eq!(std::fs::metadata(&side).unwrap().len(), len - second);
        assert_eq!(read_all(dir.path()), (vec![0], None));
    }

    #[test]
    fn reads_what_was_appended_after_it_was_opened() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 1);
        let mut r = Reader::open(dir.path(), 1, HEADER).unwrap();
        assert!(matches!(r.next(u64::MAX).unwrap(), Next::Record(..)));
        assert!(matches!(r.next(u64::MAX).unwrap(), Next::End));
        let mut f = OpenOptions::new().append(true).open(path(dir.path(), 1)).unwrap();
        f.write_all(&rec(9).encode()).unwrap();
        assert!(matches!(r.next(u64::MAX).unwrap(), Next::Record(rec, _) if rec.time_ms == 9));
    }

    #[test]
    fn the_limit_hides_what_is_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 2);
        let mut r = Reader::open(dir.path(), 1, HEADER).unwrap();
        assert!(matches!(r.next(HEADER + rec(0).framed_len()).unwrap(), Next::Record(..)));
        assert!(matches!(r.next(HEADER + rec(0).framed_len()).unwrap(), Next::End));
    }
}
