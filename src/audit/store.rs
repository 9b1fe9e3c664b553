//! The audit database: SQLite in write-ahead-log mode, one table of
//! chained records.
//!
//! Each row holds the record's canonical JSON (`AuditRow` serialised in
//! field order), its sequence number, its arrival time (indexed, for
//! ranges), the previous row's hash and its own:
//! `hash = SHA-256(previous hash bytes || JSON)`. The first row follows 32
//! zero bytes. `meta` keeps the head (last sequence number and hash,
//! written in the same transaction as the rows) and, once old rows are
//! pruned, the anchor (the last pruned row's sequence number and hash), so
//! that [`Store::verify`] can tell an edited row (its hash), a deleted or
//! inserted one (the sequence or the link breaks), a cut tail (the head)
//! and an edited time (it must match the JSON).
//!
//! What a chain cannot show: someone who rewrites every row after the one
//! they edit, and the head with them. Exporting regularly to a SIEM (`airlock
//! audit export`) keeps copies out of their reach.

use super::AuditRow;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("audit database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("audit database: {0}")]
    Io(String),
}

pub struct Store {
    conn: Connection,
    /// Sequence number and hash of the last row.
    head: (i64, [u8; 32]),
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every row checks out.
    Intact {
        rows: u64,
        first_seq: i64,
        last_seq: i64,
    },
    /// The first problem found, at row `seq`.
    Broken { seq: i64, reason: String },
}

pub fn hex(bytes: &[u8]) -> String {
    // Two digits a byte from a table: each row writes three of these, and
    // a `format!` per byte was a fifth of the audit thread's time.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The link: SHA-256 of the previous hash and the record's JSON.
fn link(prev: &[u8; 32], json: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(prev);
    ctx.update(json.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    record TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_time ON records (time_ms);
";

impl Store {
    /// Opens or creates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let mut store = Store {
            conn,
            head: (0, [0u8; 32]),
        };
        store.head = store.read_head()?;
        Ok(store)
    }

    /// Opens an existing database for reading only (the dashboard's data,
    /// beside the gateway's writer: write-ahead logging lets readers and
    /// the writer run at once). Creates nothing and never writes.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        use rusqlite::OpenFlags;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store {
            conn,
            head: (0, [0u8; 32]),
        };
        store.head = store.read_head()?;
        Ok(store)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn read_head(&self) -> Result<(i64, [u8; 32]), StoreError> {
        let seq = self
            .meta("head_seq")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let hash = self
            .meta("head_hash")?
            .and_then(|h| unhex(&h))
            .unwrap_or([0u8; 32]);
        Ok((seq, hash))
    }

    /// The salt for conversation hashes, made on first use.
    pub fn salt(&mut self) -> Result<Vec<u8>, StoreError> {
        if let Some(s) = self.meta("salt")? {
            return Ok(s.into_bytes());
        }
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        let salt = hex(&bytes);
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?1)",
            [&salt],
        )?;
        // Another process may have won the race: read back what is kept.
        Ok(self.meta("salt")?.unwrap_or(salt).into_bytes())
    }

    /// Appends `rows` in one transaction, chained after the head.
    pub fn append(&mut self, rows: &[AuditRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let (mut seq, mut prev) = self.head;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO records (seq, time_ms, record, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for row in rows {
                let json = serde_json::to_string(row)
                    .map_err(|e| StoreError::Io(format!("cannot serialise a record: {e}")))?;
                let hash = link(&prev, &json);
                seq += 1;
                insert.execute(params![seq, row.time_ms, json, hex(&prev), hex(&hash)])?;
                prev = hash;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('head_seq', ?1), ('head_hash', ?2)",
            params![seq.to_string(), hex(&prev)],
        )?;
        tx.commit()?;
        self.head = (seq, prev);
        Ok(())
    }

    /// Deletes rows older than `cutoff_ms`, keeping the last deleted row's
    /// sequence number and hash as the chain's anchor.
    pub fn prune_before(&mut self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM records WHERE seq = (SELECT MAX(seq) FROM records WHERE time_ms < ?1)",
                [cutoff_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((seq, hash)) = last else {
            return Ok(0);
        };
        // Rows are appended in arrival order, so everything up to `seq` goes.
        let n = tx.execute("DELETE FROM records WHERE seq <= ?1", [seq])?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('anchor_seq', ?1), ('anchor_hash', ?2)",
            params![seq.to_string(), hash],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// Checks the whole chain.
    pub fn verify(&self) -> Result<Verdict, StoreError> {
        let anchor_seq: i64 = self
            .meta("anchor_seq")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut prev = match self.meta("anchor_hash")? {
            Some(h) => match unhex(&h) {
                Some(h) => h,
                None => {
                    return Ok(Verdict::Broken {
                        seq: anchor_seq,
                        reason: "the anchor hash is malformed".into(),
                    });
                }
            },
            None => [0u8; 32],
        };
        let (head_seq, head_hash) = self.read_head()?;
        let mut expected = anchor_seq + 1;
        let mut rows = 0u64;
        let mut stmt = self
            .conn
            .prepare("SELECT seq, time_ms, record, prev, hash FROM records ORDER BY seq")?;
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            let seq: i64 = r.get(0)?;
            let time_ms: i64 = r.get(1)?;
            let record: String = r.get(2)?;
            let stored_prev: String = r.get(3)?;
            let stored_hash: String = r.get(4)?;
            let broken = |reason: String| Ok(Verdict::Broken { seq, reason });
            if seq != expected {
                return broken(format!(
                    "expected record {expected} next: records {expected}..{} are missing or were inserted",
                    seq - 1
                ));
            }
            if stored_prev != hex(&prev) {
                return broken("its link to the previous record is broken".into());
            }
            let hash = link(&prev, &record);
            if stored_hash != hex(&hash) {
                return broken("its content was changed after it was written".into());
            }
            match serde_json::from_str::<AuditRow>(&record) {
                Ok(row) if row.time_ms == time_ms => {}
                Ok(_) => return broken("its time column was changed".into()),
                Err(e) => return broken(format!("it is not a record: {e}")),
            }
            prev = hash;
            expected += 1;
            rows += 1;
        }
        let last = expected - 1;
        if (last, prev) != (head_seq, head_hash) && !(rows == 0 && head_seq <= anchor_seq) {
            return Ok(Verdict::Broken {
                seq: last + 1,
                reason: format!(
                    "the last record is {last}, the head says {head_seq}: records were cut from the end"
                ),
            });
        }
        Ok(Verdict::Intact {
            rows,
            first_seq: anchor_seq + 1,
            last_seq: last,
        })
    }

    /// Rows from `since_ms` on, in order, with their sequence numbers and
    /// hashes.
    pub fn rows_since(
        &self,
        since_ms: i64,
        mut each: impl FnMut(i64, &str, AuditRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, hash, record FROM records WHERE time_ms >= ?1 ORDER BY seq")?;
        let mut q = stmt.query([since_ms])?;
        while let Some(r) = q.next()? {
            let seq: i64 = r.get(0)?;
            let hash: String = r.get(1)?;
            let record: String = r.get(2)?;
            let row: AuditRow = serde_json::from_str(&record)
                .map_err(|e| StoreError::Io(format!("record {seq} is not a record: {e}")))?;
            each(seq, &hash, row)?;
        }
        Ok(())
    }

    /// Runs raw SQL (tests: to tamper).
    #[cfg(test)]
    pub(crate) fn execute(&self, sql: &str) -> Result<usize, StoreError> {
        Ok(self.conn.execute(sql, [])?)
    }

    #[cfg(test)]
    pub(crate) fn conn_for_test(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::{hex, unhex};

    #[test]
    fn hex_is_two_lower_case_digits_a_byte_and_unhex_reads_it_back() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff, 0x10]), "000fa5ff10");
        let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let h = hex(&bytes);
        assert_eq!(
            h,
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        assert_eq!(unhex(&h), Some(bytes));
    }
}
