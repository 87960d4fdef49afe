//! Uploaded files, where every node that may serve the channel state finds them: on the
//! embedded store in the node's own `files/` folder, on PostgreSQL in the database beside the
//! rest of the state (`files/postgres.rs`), so that the node that takes the state over serves
//! the files uploaded to the one before.
//!
//! Either way an upload is first spooled to a file in the node's folder, under a name no
//! download can ask for (keys never start with a dot), and only a complete upload is kept
//! under its key: renamed on disk, or copied into PostgreSQL in one transaction. A client that
//! stops halfway leaves nothing behind that could be served, and a slow client holds a local
//! file, never a database connection.

mod postgres;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What storing or serving a file can fail with.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("uploaded file I/O")]
    Io(#[from] std::io::Error),
    #[error("uploaded files in PostgreSQL")]
    Postgres(#[from] crate::store::PostgresError),
    #[error("the stored file `{key}` lacks its chunk {seq}")]
    MissingChunk { key: String, seq: i32 },
}

impl From<tokio_postgres::Error> for FileError {
    fn from(e: tokio_postgres::Error) -> Self {
        FileError::Postgres(e.into())
    }
}

/// Where uploaded files are kept. Cheap to clone.
#[derive(Clone)]
pub struct Files(Arc<Kind>);

enum Kind {
    Disk(PathBuf),
    /// The folder still spools uploads, and serves files that nodes of earlier versions
    /// kept there before files moved into the database.
    Postgres(PathBuf, Box<postgres::Pool>),
}

/// How much of a file a download reads at a time from disk.
const DISK_READ: usize = 64 << 10;

/// Removes the spools of uploads that a crash cut off. Only the hub that owns the state keeps
/// files, and this runs when it opens, before any upload of its own.
fn sweep_spools(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".upload-")
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, dir = %dir.display(), "removed the spools of uploads cut off by a crash");
    }
}

impl Files {
    /// Files in `dir`, which exists.
    pub(crate) fn disk(dir: PathBuf) -> Files {
        sweep_spools(&dir);
        Files(Arc::new(Kind::Disk(dir)))
    }

    /// Files in the PostgreSQL database at `url` (migrated already), spooled in `dir`.
    pub(crate) fn postgres(dir: PathBuf, url: &str) -> Result<Files, crate::store::PostgresError> {
        sweep_spools(&dir);
        Ok(Files(Arc::new(Kind::Postgres(
            dir,
            Box::new(postgres::Pool::new(url)?),
        ))))
    }

    fn dir(&self) -> &Path {
        match &*self.0 {
            Kind::Disk(dir) | Kind::Postgres(dir, _) => dir,
        }
    }

    /// Starts an upload: a spool file that is removed unless [`Files::keep`] keeps it.
    pub async fn begin(&self) -> Result<Upload, FileError> {
        let path = self
            .dir()
            .join(format!(".upload-{}", crate::auth::new_token()));
        let file = tokio::fs::File::create(&path).await?;
        Ok(Upload {
            path,
            file: Some(file),
            size: 0,
        })
    }

    /// Keeps a complete upload under `key`, which no file has yet (keys are used once).
    pub async fn keep(&self, mut upload: Upload, key: &str) -> Result<u64, FileError> {
        if let Some(mut f) = upload.file.take() {
            f.flush().await?;
        }
        match &*self.0 {
            Kind::Disk(dir) => tokio::fs::rename(&upload.path, dir.join(key)).await?,
            Kind::Postgres(_, pool) => pool.keep(&upload.path, key, upload.size).await?,
        }
        Ok(upload.size)
    }

    /// The file kept under `key`, to be read chunk by chunk; `None` if there is none. `key`
    /// must be a valid key (no path separators, no leading dot): the caller checks.
    pub async fn open(&self, key: &str) -> Result<Option<Stored>, FileError> {
        if let Kind::Postgres(_, pool) = &*self.0 {
            if let Some((size, chunks)) = pool.find(key).await? {
                return Ok(Some(Stored {
                    size,
                    source: Source::Postgres {
                        files: self.clone(),
                        key: key.to_owned(),
                        next: 0,
                        chunks,
                    },
                }));
            }
        }
        match tokio::fs::File::open(self.dir().join(key)).await {
            Ok(file) => {
                let meta = file.metadata().await?;
                if !meta.is_file() {
                    return Ok(None);
                }
                Ok(Some(Stored {
                    size: meta.len(),
                    source: Source::Disk(file),
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// An upload being spooled.
pub struct Upload {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    size: u64,
}

impl Upload {
    /// Appends the next bytes of the file.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), FileError> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(bytes).await?;
        }
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Kept uploads were renamed (or copied) away: this only removes the spool.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A kept file being read.
pub struct Stored {
    size: u64,
    source: Source,
}

enum Source {
    Disk(tokio::fs::File),
    /// Chunk by chunk, each on a pooled connection taken for that one read: a slow download
    /// holds one chunk in memory and no connection.
    Postgres {
        files: Files,
        key: String,
        next: i32,
        chunks: i32,
    },
}

impl Stored {
    /// The file's length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next bytes of the file; `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, FileError> {
        match &mut self.source {
            Source::Disk(file) => {
                let mut buf = vec![0; DISK_READ];
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    return Ok(None);
                }
                buf.truncate(n);
                Ok(Some(buf))
            }
            Source::Postgres {
                files,
                key,
                next,
                chunks,
            } => {
                if *next >= *chunks {
                    return Ok(None);
                }
                let Kind::Postgres(_, pool) = &*files.0 else {
                    return Ok(None);
                };
                let data = pool.chunk(key, *next).await?;
                *next += 1;
                Ok(Some(data))
            }
        }
    }
}
