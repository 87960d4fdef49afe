//! The write-ahead journal in front of the redb file.
//!
//! A durable redb commit costs several page writes and an fsync of the database file. The
//! journal turns that into one write of the batch's changes and one `fdatasync` of a file whose
//! blocks already exist (it is filled with zeros when created), so syncing it flushes data only,
//! never file metadata. redb then takes the same changes without syncing, and a periodic durable
//! redb commit (a checkpoint) makes the journal's records redundant, after which the journal
//! starts a new generation and its space is written over.
//!
//! Layout: two header slots (the newest valid one names the current generation, so that a torn
//! header write never loses the old one) and then records, each
//! `magic | generation | length | crc32(generation, length, body) | body`. Replay reads records
//! from the start of the record area and stops at the first one that is torn, corrupt or of an
//! older generation.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const HEADER_MAGIC: &[u8; 8] = b"RLYJRNL1";
const HEADER_LEN: usize = 20;
/// Header slot `i` lives at `i * SLOT_SPACING`; each slot sits in its own disk sector.
const SLOT_SPACING: u64 = 512;
/// Where the first record starts: page-aligned, past both header slots.
const RECORDS_START: u64 = 4096;
const RECORD_MAGIC: u32 = 0x5245_4331;
const RECORD_HEADER_LEN: usize = 20;

pub(super) struct Journal {
    file: File,
    generation: u64,
    /// The slot that holds the current generation; the next reset writes the other one.
    slot: u64,
    /// Where the next record goes.
    end: u64,
    /// The end of the records known to be on disk.
    synced_end: u64,
    capacity: u64,
}

impl Journal {
    /// Opens the journal at `path`, creating it (`capacity` bytes, zero-filled) if it is missing,
    /// and returns it with the bodies of the current generation's records, oldest first.
    pub(super) fn open(path: &Path, capacity: u64) -> io::Result<(Journal, Vec<Vec<u8>>)> {
        if !path.exists() {
            create(path, capacity)?;
        }
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let capacity = file.metadata()?.len();
        let (slot, generation) = read_header(&file)?;
        let mut journal = Journal {
            file,
            generation,
            slot,
            end: RECORDS_START,
            synced_end: RECORDS_START,
            capacity,
        };
        let bodies = journal.replay()?;
        journal.synced_end = journal.end;
        Ok((journal, bodies))
    }

    /// Whether a record with a body of `len` bytes fits in what is left of the file.
    pub(super) fn fits(&self, len: usize) -> bool {
        self.end + (RECORD_HEADER_LEN + len) as u64 <= self.capacity
    }

    /// Writes one record after the last. Not on disk until `sync`.
    pub(super) fn append(&mut self, body: &[u8]) -> io::Result<()> {
        let mut record = Vec::with_capacity(RECORD_HEADER_LEN + body.len());
        record.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
        record.extend_from_slice(&self.generation.to_le_bytes());
        record.extend_from_slice(&(body.len() as u32).to_le_bytes());
        record.extend_from_slice(&record_crc(self.generation, body).to_le_bytes());
        record.extend_from_slice(body);
        self.file.write_all_at(&record, self.end)?;
        self.end += record.len() as u64;
        Ok(())
    }

    /// Makes every record written so far durable. When that fails, the unsynced records are
    /// given up: their callers hear of the failure, so the next record is written over them
    /// rather than after them, where a later successful sync would make them durable after all.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        match self.file.sync_data() {
            Ok(()) => {
                self.synced_end = self.end;
                Ok(())
            }
            Err(err) => {
                self.end = self.synced_end;
                Err(err)
            }
        }
    }

    /// Whether any record was written since the last reset.
    pub(super) fn is_empty(&self) -> bool {
        self.end == RECORDS_START
    }

    /// Starts a new generation, which makes every existing record stale. Call only after the
    /// records' changes are durable elsewhere. The header is synced before any record of the new
    /// generation is written, so no record on disk ever carries a generation newer than the
    /// durable header: unsynced records left by a crash can never be mistaken for the records
    /// of a later life that reuses their generation.
    pub(super) fn reset(&mut self) -> io::Result<()> {
        let generation = self.generation + 1;
        let slot = 1 - self.slot;
        self.file
            .write_all_at(&header(generation), slot * SLOT_SPACING)?;
        self.file.sync_data()?;
        self.generation = generation;
        self.slot = slot;
        self.end = RECORDS_START;
        self.synced_end = RECORDS_START;
        Ok(())
    }

    fn replay(&mut self) -> io::Result<Vec<Vec<u8>>> {
        let mut bodies = Vec::new();
        let mut head = [0u8; RECORD_HEADER_LEN];
        loop {
            if self.end + RECORD_HEADER_LEN as u64 > self.capacity {
                break;
            }
            self.file.read_exact_at(&mut head, self.end)?;
            let magic = u32::from_le_bytes(head[0..4].try_into().unwrap());
            let generation = u64::from_le_bytes(head[4..12].try_into().unwrap());
            let len = u32::from_le_bytes(head[12..16].try_into().unwrap()) as u64;
            let crc = u32::from_le_bytes(head[16..20].try_into().unwrap());
            let body_at = self.end + RECORD_HEADER_LEN as u64;
            if magic != RECORD_MAGIC
                || generation != self.generation
                || body_at + len > self.capacity
            {
                break;
            }
            let mut body = vec![0u8; len as usize];
            self.file.read_exact_at(&mut body, body_at)?;
            if record_crc(generation, &body) != crc {
                break;
            }
            bodies.push(body);
            self.end = body_at + len;
        }
        Ok(bodies)
    }
}

/// Writes a zero-filled journal under a temporary name and renames it into place, so that a
/// journal file that exists always has a valid header.
fn create(path: &Path, capacity: u64) -> io::Result<()> {
    let tmp = PathBuf::from(format!("{}.new", path.display()));
    let mut file = File::create(&tmp)?;
    let zeros = vec![0u8; 1 << 20];
    let mut written = 0;
    while written < capacity {
        let n = zeros.len().min((capacity - written) as usize);
        file.write_all(&zeros[..n])?;
        written += n as u64;
    }
    file.write_all_at(&header(1), 0)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn header(generation: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(HEADER_MAGIC);
    h[8..16].copy_from_slice(&generation.to_le_bytes());
    let crc = crc32fast::hash(&h[0..16]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The slot and generation of the newest valid header.
fn read_header(file: &File) -> io::Result<(u64, u64)> {
    let mut best = None;
    for slot in 0..2u64 {
        let mut h = [0u8; HEADER_LEN];
        file.read_exact_at(&mut h, slot * SLOT_SPACING)?;
        let crc = u32::from_le_bytes(h[16..20].try_into().unwrap());
        if &h[0..8] != HEADER_MAGIC || crc32fast::hash(&h[0..16]) != crc {
            continue;
        }
        let generation = u64::from_le_bytes(h[8..16].try_into().unwrap());
        if best.is_none_or(|(_, g)| generation > g) {
            best = Some((slot, generation));
        }
    }
    best.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the queue journal has no valid header",
        )
    })
}

fn record_crc(generation: u64, body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&generation.to_le_bytes());
    h.update(&(body.len() as u32).to_le_bytes());
    h.update(body);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: u64 = 64 * 1024;

    #[test]
    fn records_come_back_in_order_until_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, old) = Journal::open(&path, CAP).unwrap();
        assert!(old.is_empty());
        j.append(b"one").unwrap();
        j.append(b"two").unwrap();
        j.sync().unwrap();
        drop(j);
        let (mut j, got) = Journal::open(&path, CAP).unwrap();
        assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
        j.reset().unwrap();
        j.append(b"three").unwrap();
        drop(j);
        let (_, got) = Journal::open(&path, CAP).unwrap();
        assert_eq!(
            got,
            vec![b"three".to_vec()],
            "a reset makes older records stale"
        );
    }

    #[test]
    fn a_torn_record_ends_the_replay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, _) = Journal::open(&path, CAP).unwrap();
        j.append(b"kept").unwrap();
        let torn_at = j.end;
        j.append(b"torn record").unwrap();
        j.append(b"after").unwrap();
        drop(j);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(b"X", torn_at + RECORD_HEADER_LEN as u64 + 3)
            .unwrap();
        let (j, got) = Journal::open(&path, CAP).unwrap();
        assert_eq!(got, vec![b"kept".to_vec()]);
        assert_eq!(j.end, torn_at, "the next record overwrites the torn one");
    }

    #[test]
    fn a_torn_header_falls_back_to_the_other_slot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, _) = Journal::open(&path, CAP).unwrap();
        j.reset().unwrap();
        j.append(b"gen2").unwrap();
        let slot = j.slot;
        drop(j);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(b"garbage", slot * SLOT_SPACING + 9)
            .unwrap();
        let (j, got) = Journal::open(&path, CAP).unwrap();
        assert_eq!(j.generation, 1);
        assert!(
            got.is_empty(),
            "generation 2's record is not replayed under generation 1"
        );
    }

    #[test]
    fn space_runs_out_at_the_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(&dir.path().join("j"), CAP).unwrap();
        let body = vec![7u8; 1000];
        let mut n = 0;
        while j.fits(body.len()) {
            j.append(&body).unwrap();
            n += 1;
        }
        assert_eq!(
            n,
            (CAP - RECORDS_START) as usize / (1000 + RECORD_HEADER_LEN)
        );
        j.reset().unwrap();
        assert!(j.fits(body.len()));
    }
}
