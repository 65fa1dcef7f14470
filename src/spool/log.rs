//! The spool's files: appending records (synced before the caller answers 204), the replay
//! cursor, and recovery at start.
//!
//! Appends go to the last segment; a segment past `segment_bytes` is closed and the next one
//! started, so replayed data is given back a segment at a time. `append` writes and `fdatasync`s
//! the records before it returns; if writing fails it cuts the segment back to where it was, so a
//! failed append leaves nothing behind (the client gets an error, not a 204). An append without
//! sync (the durability window's overflow while the store is up, see `append`) leaves its
//! segments to be synced by the next append with sync, before that one writes: a power loss can
//! then tear only unsynced records after every synced one.
//!
//! The cursor (`<dir>/cursor`: `v1 <segment> <offset> <crc>`) is where replay goes on: written
//! to a temporary file, synced, renamed over the old one, after every replayed batch. A crash
//! between the store's acknowledgement of a batch and the rename replays that one batch again
//! (the only duplicates a crash of influxgate causes).
//!
//! Recovery reads every record from the cursor on, checking each checksum (see
//! [`segment`](super::segment) for what damage means and what is done with it), and rebuilds
//! the counts kept in memory: points pending per database and the oldest record's time.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::record::{Framed, Kind};
use super::segment::{self, Next, Pos, Reader, HEADER};
use super::Pending;

const CURSOR: &str = "cursor";

/// The segments on disk and the one appended to.
pub struct Log {
    dir: PathBuf,
    segment_bytes: u64,
    /// Every segment file: id → size.
    segments: BTreeMap<u64, u64>,
    /// The last segment, open for appending.
    active: Option<File>,
    /// The id the next new segment gets.
    next_id: u64,
    /// The active segment holds records appended without a sync.
    active_dirty: bool,
    /// Earlier segments holding records appended without a sync: synced before the next
    /// append that syncs, so that a synced record never follows unsynced ones that a power loss
    /// could tear (recovery would cut the segment there).
    unsynced: Vec<(u64, File)>,
}

/// Records are written through a buffer of this size (a body larger than it is written directly).
const WRITE_BUFFER: usize = 256 << 10;

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovered {
    pub cursor: Pos,
    pub end: Pos,
    /// Points of records not yet replayed, per database.
    pub pending: HashMap<String, Pending>,
    /// Time (Unix ms) of the first record not yet replayed.
    pub oldest_ms: Option<i64>,
    /// Damaged records found (each also logged).
    pub damaged: u64,
}

impl Log {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of all segment files.
    pub fn bytes(&self) -> u64 {
        self.segments.values().sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Where the next appended record goes.
    pub fn end(&self) -> Pos {
        match self.segments.iter().next_back() {
            Some((&id, &size)) => Pos { seg: id, off: size },
            None => Pos::start_of(self.next_id),
        }
    }

    /// Appends framed records; returns the end after them. With `sync` they, and whatever was
    /// appended without it before, are on disk (`fdatasync`) when it returns; without, they are
    /// written (readable by this process and after its crash) but not synced.
    pub fn append(&mut self, framed: &[Framed], sync: bool) -> io::Result<Pos> {
        let n: u64 = framed.iter().map(Framed::size).sum();
        let (id, size) = match self.segments.iter().next_back() {
            Some((&id, &size)) if self.active.is_some() && (size == HEADER || size + n <= self.segment_bytes) => (id, size),
            _ => self.roll()?,
        };
        if sync {
            // Earlier segments written without a sync, the one just closed by `roll` included
            // (the active one is synced below).
            for (_, f) in &self.unsynced {
                f.sync_data()?;
            }
            self.unsynced.clear();
        }
        let Some(f) = self.active.as_ref() else { return Err(io::Error::other("no active segment")) };
        let written = (|| {
            let mut w = io::BufWriter::with_capacity(WRITE_BUFFER, f);
            for r in framed {
                w.write_all(&r.head)?;
                w.write_all(&r.body)?;
            }
            w.flush()?;
            drop(w);
            if sync {
                f.sync_data()?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            // Leave nothing of a failed append (it was not acknowledged).
            let _ = f.set_len(size);
            let _ = f.sync_data();
            return Err(e);
        }
        self.active_dirty = !sync;
        self.segments.insert(id, size + n);
        Ok(Pos { seg: id, off: size + n })
    }

    /// Starts a new segment.
    fn roll(&mut self) -> io::Result<(u64, u64)> {
        let id = self.next_id;
        let f = segment::create(&self.dir, id)?;
        if let Some(old) = self.active.replace(f) {
            if std::mem::take(&mut self.active_dirty) {
                let old_id = self.segments.keys().next_back().copied().unwrap_or(0);
                self.unsynced.push((old_id, old));
            }
        }
        self.segments.insert(id, HEADER);
        self.next_id = id + 1;
        Ok((id, HEADER))
    }

    /// Removes the segments wholly before `pos` (never the one appended to).
    pub fn remove_before(&mut self, pos: Pos) -> io::Result<()> {
        let last = self.segments.keys().next_back().copied();
        let old: Vec<u64> = self.segments.range(..pos.seg).map(|(&id, _)| id).filter(|id| Some(*id) != last).collect();
        for id in &old {
            std::fs::remove_file(segment::path(&self.dir, *id))?;
            self.segments.remove(id);
            self.unsynced.retain(|(u, _)| u != id);
        }
        if !old.is_empty() {
            segment::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Removes every segment (all replayed and durable); the next append starts a new one.
    /// Returns the position that one starts at.
    pub fn reset(&mut self) -> io::Result<Pos> {
        self.active = None;
        self.active_dirty = false;
        self.unsynced.clear();
        for id in std::mem::take(&mut self.segments).into_keys() {
            std::fs::remove_file(segment::path(&self.dir, id))?;
        }
        segment::sync_dir(&self.dir)?;
        Ok(Pos::start_of(self.next_id))
    }

    /// Persists the replay cursor (write, sync, rename, sync the directory).
    pub fn save_cursor(&self, pos: Pos) -> io::Result<()> {
        save_cursor(&self.dir, pos)
    }

    /// Opens (creating) the spool directory and recovers its state.
    pub fn open(dir: &Path, segment_bytes: u64) -> io::Result<(Log, Recovered)> {
        std::fs::create_dir_all(dir)?;
        let mut ids = segment::list(dir)?;
        let mut cursor = load_cursor(dir).unwrap_or_else(|| Pos::start_of(ids.first().copied().unwrap_or(1)));
        if !ids.contains(&cursor.seg) {
            if let Some(&first) = ids.iter().find(|&&id| id > cursor.seg) {
                cursor = Pos::start_of(first);
            }
        }
        // Segments before the cursor's were replayed entirely.
        for id in ids.iter().filter(|&&id| id < cursor.seg) {
            std::fs::remove_file(segment::path(dir, *id))?;
        }
        ids.retain(|&id| id >= cursor.seg);
        let mut rec = Recovered { cursor, ..Recovered::default() };
        let mut segments = BTreeMap::new();
        for &id in &ids {
            let from = if id == cursor.seg { cursor.off } else { HEADER };
            let size = recover_segment(dir, id, from, &mut rec)?;
            segments.insert(id, size);
        }
        let next_id = ids.last().map_or(cursor.seg.max(1), |l| l + 1);
        let active = match segments.iter().next_back() {
            Some((&id, _)) => Some(OpenOptions::new().append(true).open(segment::path(dir, id))?),
            None => None,
        };
        let log = Log { dir: dir.to_path_buf(), segment_bytes, segments, active, next_id, active_dirty: false, unsynced: Vec::new() };
        rec.end = log.end();
        if rec.cursor > rec.end || log.segments.is_empty() {
            rec.cursor = rec.end;
        }
        Ok((log, rec))
    }
}

/// Reads one segment from `from`, counting what is pending; damage is quarantined (and logged).
/// Returns the segment's size afterwards.
fn recover_segment(dir: &Path, id: u64, from: u64, rec: &mut Recovered) -> io::Result<u64> {
    if !Reader::check_magic(dir, id)? {
        tracing::error!(segment = %segment::path(dir, id).display(), "spool segment without a valid header: moved aside");
        rec.damaged += 1;
        segment::quarantine(dir, id, 0)?;
        let mut f = OpenOptions::new().write(true).open(segment::path(dir, id))?;
        f.write_all(segment::MAGIC)?;
        f.sync_all()?;
        return Ok(HEADER);
    }
    let mut r = Reader::open(dir, id, from)?;
    loop {
        match r.next(u64::MAX)? {
            Next::Record(record, _) => {
                let e = &record.entry;
                rec.pending.entry(e.db.clone()).or_default().add(u64::from(e.points), matches!(record.kind, Kind::Acked { .. }));
                if rec.oldest_ms.is_none() {
                    rec.oldest_ms = Some(record.time_ms);
                }
            }
            Next::End => break,
            Next::Damaged { at, why, tail } => {
                rec.damaged += 1;
                let side = segment::quarantine(dir, id, at)?;
                let side = side.map(|p| p.display().to_string()).unwrap_or_default();
                if tail {
                    tracing::error!(segment = %segment::path(dir, id).display(), offset = at, %why, kept = %side,
                        "spool: torn record at the end of a segment (an append interrupted by a crash; it was never acknowledged): cut off, the records before it are replayed");
                } else {
                    tracing::error!(segment = %segment::path(dir, id).display(), offset = at, %why, kept = %side,
                        "spool: damaged record in a segment: it and the rest of the segment were moved aside, the other records are replayed");
                }
                break;
            }
        }
    }
    Ok(std::fs::metadata(segment::path(dir, id))?.len())
}

fn cursor_text(pos: Pos) -> String {
    let body = format!("v1 {} {}", pos.seg, pos.off);
    format!("{body} {}\n", crc32fast::hash(body.as_bytes()))
}

fn load_cursor(dir: &Path) -> Option<Pos> {
    let text = std::fs::read_to_string(dir.join(CURSOR)).ok()?;
    let mut parts = text.split_whitespace();
    let (v, seg, off, crc) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let body = format!("{v} {seg} {off}");
    if v != "v1" || crc.parse::<u32>().ok()? != crc32fast::hash(body.as_bytes()) {
        tracing::warn!("spool cursor file is damaged: replaying from the first segment");
        return None;
    }
    Some(Pos { seg: seg.parse().ok()?, off: off.parse().ok()? })
}

fn save_cursor(dir: &Path, pos: Pos) -> io::Result<()> {
    let tmp = dir.join("cursor.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(cursor_text(pos).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(CURSOR))?;
    segment::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::Precision;
    use crate::spool::record::{Entry, Record};

    fn framed(db: &str, points: u32, body_len: usize) -> Framed {
        Record {
            kind: Kind::Write,
            time_ms: 1000 + points as i64,
            entry: Entry {
                db: db.into(),
                rp: None,
                precision: Precision::Nanosecond,
                now_ns: 0,
                body: bytes::Bytes::from(vec![b'x'; body_len]),
                points,
            },
        }
        .framed()
    }

    #[test]
    fn appends_roll_and_recover() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, rec) = Log::open(dir.path(), 4096).unwrap();
        assert_eq!(rec.cursor, rec.end);
        for i in 0..10 {
            log.append(&[framed(if i % 2 == 0 { "a" } else { "b" }, 1, 1000)], true).unwrap();
        }
        assert!(log.segment_count() >= 3, "{}", log.segment_count());
        let end = log.end();
        drop(log);
        let (log, rec) = Log::open(dir.path(), 4096).unwrap();
        assert_eq!(rec.end, end);
        assert_eq!(rec.pending.get("a").map(|p| p.write), Some(5));
        assert_eq!(rec.pending.get("b").map(|p| p.write), Some(5));
        assert_eq!(rec.damaged, 0);
        assert_eq!(log.bytes(), (0..log.segment_count()).map(|_| HEADER).sum::<u64>() + 10 * framed("a", 1, 1000).size());
    }

    #[test]
    fn cursor_survives_and_skips_replayed_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 4096).unwrap();
        let mut ends = Vec::new();
        for _ in 0..10 {
            ends.push(log.append(&[framed("a", 2, 1000)], true).unwrap());
        }
        log.save_cursor(ends[5]).unwrap();
        drop(log);
        let (log, rec) = Log::open(dir.path(), 4096).unwrap();
        assert_eq!(rec.cursor, ends[5]);
        assert_eq!(rec.pending.get("a").map(|p| p.write), Some(8));
        assert!(log.segments.keys().all(|&id| id >= ends[5].seg));
    }

    #[test]
    fn a_torn_tail_is_cut_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 1 << 20).unwrap();
        log.append(&[framed("a", 1, 100), framed("a", 1, 100)], true).unwrap();
        let end = log.end();
        drop(log);
        let p = segment::path(dir.path(), end.seg);
        OpenOptions::new().write(true).open(&p).unwrap().set_len(end.off - 3).unwrap();
        let (mut log, rec) = Log::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(rec.damaged, 1);
        assert_eq!(rec.pending.get("a").map(|p| p.write), Some(1));
        assert_eq!(rec.end.off, HEADER + framed("a", 1, 100).size());
        // Appends go on after the cut.
        let after = log.append(&[framed("a", 1, 100)], true).unwrap();
        assert_eq!(after.off, end.off);
    }

    #[test]
    fn unsynced_appends_read_back_and_are_synced_before_a_synced_one() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 4096).unwrap();
        for _ in 0..6 {
            log.append(&[framed("a", 1, 1000)], false).unwrap();
        }
        assert!(log.segment_count() >= 2 && !log.unsynced.is_empty() && log.active_dirty);
        log.append(&[framed("b", 1, 1000)], true).unwrap();
        assert!(log.unsynced.is_empty() && !log.active_dirty);
        let end = log.end();
        drop(log);
        let (_, rec) = Log::open(dir.path(), 4096).unwrap();
        assert_eq!((rec.end, rec.damaged), (end, 0));
        assert_eq!(rec.pending.get("a").map(|p| p.write), Some(6));
    }

    #[test]
    fn reset_removes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), 1 << 20).unwrap();
        log.append(&[framed("a", 1, 100)], true).unwrap();
        let start = log.reset().unwrap();
        assert_eq!(log.bytes(), 0);
        assert_eq!(segment::list(dir.path()).unwrap(), Vec::<u64>::new());
        let end = log.append(&[framed("a", 1, 100)], true).unwrap();
        assert_eq!(end.seg, start.seg);
    }
}
