//! Uploaded files in PostgreSQL: one `channel_files` row per complete file (its size and
//! chunk count), its bytes in `channel_file_chunks`, [`CHUNK`] bytes a row.
//!
//! Chunked rows rather than one bytea per file: a 64 MiB bytea would have to be built whole in
//! memory, on the node and in the server, to be written or read (and doubled by its escaping in
//! the protocol's buffers), while a chunk is read on its own, so a download holds one chunk at a
//! time and a HEAD reads only the file's row. Large objects would stream too, but live outside
//! the schema (no cascade, no `?schema=` separation, their own cleanup with `vacuumlo`).
//!
//! The file row and its chunks are written in one transaction: a file is in the database whole
//! or not at all, and a download that finds its row finds every chunk.
//!
//! These run on the caller's runtime (the HTTP handlers'), on a few pooled connections of their
//! own, apart from the store writer's single one: a file copy must not hold up the group commit
//! of every message behind it.

use std::path::Path;
use std::sync::Mutex;

use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use tokio_postgres::{Client, NoTls};

use super::FileError;
use crate::store::postgres::schema::{FILES, FILE_CHUNKS};
use crate::store::PostgresError;
use relay_pg::Target;

/// Bytes a chunk row holds: 64 rows for the largest upload, few enough that a download's
/// query per chunk costs nothing next to its bytes.
const CHUNK: usize = 1 << 20;

/// Connections the file store opens at most: uploads and downloads beyond it wait for one.
const CONNECTIONS: usize = 4;

pub(super) struct Pool {
    target: Target,
    quoted: String,
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
}

/// A connection taken from the pool, given back on drop unless it broke.
struct Pooled<'a> {
    pool: &'a Pool,
    client: Option<Client>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("client present until drop")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("client present until drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            if !c.is_closed() {
                self.pool
                    .idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(c);
            }
        }
    }
}

impl Pool {
    pub(super) fn new(url: &str) -> Result<Pool, PostgresError> {
        let target = Target::parse(url, "relay-channels files")?;
        Ok(Pool {
            quoted: target.quoted_schema(),
            target,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(CONNECTIONS),
        })
    }

    async fn get(&self) -> Result<Pooled<'_>, FileError> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the pool's semaphore is never closed");
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match idle {
                // A connection whose server went away, or whose runtime ended (a test's), is
                // dropped here rather than failing the request.
                Some(c) if c.is_closed() => continue,
                Some(c) => {
                    return Ok(Pooled {
                        pool: self,
                        client: Some(c),
                        _permit: permit,
                    })
                }
                None => break,
            }
        }
        let (client, connection) = self.target.config.connect(NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Pooled {
            pool: self,
            client: Some(client),
            _permit: permit,
        })
    }

    /// Copies the spooled upload at `spool`, `size` bytes, into the database as `key`.
    pub(super) async fn keep(&self, spool: &Path, key: &str, size: u64) -> Result<(), FileError> {
        let chunks = i32::try_from(size.div_ceil(CHUNK as u64)).unwrap_or(i32::MAX);
        let mut file = tokio::fs::File::open(spool).await?;
        let mut conn = self.get().await?;
        let s = &self.quoted;
        let tx = conn.transaction().await?;
        tx.execute(
            &format!("INSERT INTO {s}.{FILES} (key, size, chunks) VALUES ($1, $2, $3)"),
            &[&key, &(size as i64), &chunks],
        )
        .await?;
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {s}.{FILE_CHUNKS} (key, seq, data) VALUES ($1, $2, $3)"
            ))
            .await?;
        let mut buf = vec![0u8; CHUNK];
        for seq in 0..chunks {
            let mut filled = 0;
            while filled < CHUNK {
                let n = file.read(&mut buf[filled..]).await?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            tx.execute(&insert, &[&key, &seq, &&buf[..filled]]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The size and chunk count of the file kept as `key`, if there is one.
    pub(super) async fn find(&self, key: &str) -> Result<Option<(u64, i32)>, FileError> {
        let conn = self.get().await?;
        let s = &self.quoted;
        let row = conn
            .query_opt(
                &format!("SELECT size, chunks FROM {s}.{FILES} WHERE key = $1"),
                &[&key],
            )
            .await?;
        Ok(row.map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
    }

    /// Chunk `seq` of the file kept as `key`.
    pub(super) async fn chunk(&self, key: &str, seq: i32) -> Result<Vec<u8>, FileError> {
        let conn = self.get().await?;
        let s = &self.quoted;
        let row = conn
            .query_opt(
                &format!("SELECT data FROM {s}.{FILE_CHUNKS} WHERE key = $1 AND seq = $2"),
                &[&key, &seq],
            )
            .await?;
        row.map(|r| r.get(0))
            .ok_or_else(|| FileError::MissingChunk {
                key: key.to_owned(),
                seq,
            })
    }
}
