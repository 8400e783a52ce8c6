//! Where course packages live. Behind a small trait so an object store can replace the local
//! directory; uploads are staged and only become visible under their key on `commit`, and a
//! staged object that is dropped (failed validation, client gone) is deleted. Packages are read
//! back as a stream of chunks of at most [`CHUNK`] bytes: a download never holds the package
//! (up to the upload limit, 200 MiB by default) in memory.

use actix_web::web::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The most a download holds in memory per request at a time.
pub const CHUNK: usize = 64 * 1024;

/// An object being read: its size (for Content-Length) and its bytes, chunk by chunk.
pub struct Reading {
    pub size: u64,
    pub chunks: BoxStream<'static, io::Result<Bytes>>,
}

pub trait ContentStore: Send + Sync {
    /// Start a new object; nothing is visible until [`Staged::commit`].
    fn begin(&self) -> BoxFuture<'_, io::Result<Box<dyn Staged>>>;
    /// Open an object for reading, as chunks of at most [`CHUNK`] bytes.
    fn open(&self, key: &str) -> BoxFuture<'_, io::Result<Reading>>;
    /// Remove an object; a missing one is not an error.
    fn delete(&self, key: &str) -> BoxFuture<'_, io::Result<()>>;
    /// Whether an object exists (tests: nothing left behind).
    fn exists(&self, key: &str) -> BoxFuture<'_, io::Result<bool>>;
}

pub trait Staged: Send {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, io::Result<()>>;
    /// Make the object durable and visible under `key`.
    fn commit(self: Box<Self>, key: String) -> BoxFuture<'static, io::Result<()>>;
}

pub type SharedStore = Arc<dyn ContentStore>;

/// Packages as files in one directory; staged uploads in `<root>/.staging`.
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        let staging = root.join(".staging");
        std::fs::create_dir_all(&staging)?;
        sweep_stale(&staging);
        Ok(Self { root })
    }

    /// Keys are ours (course ids), but never let one name a path outside the root.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let ok = !key.is_empty()
            && !key.starts_with('.')
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if ok {
            Ok(self.root.join(key))
        } else {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid content key"))
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

impl ContentStore for LocalDir {
    fn begin(&self) -> BoxFuture<'_, io::Result<Box<dyn Staged>>> {
        let path = self.root.join(".staging").join(format!("{}.part", uuid::Uuid::new_v4()));
        let root = self.root.clone();
        Box::pin(async move {
            let p = path.clone();
            let file = blocking(move || std::fs::File::create_new(p)).await?;
            Ok(Box::new(LocalStaged { file: Some(file), path, root, done: false }) as Box<dyn Staged>)
        })
    }

    fn open(&self, key: &str) -> BoxFuture<'_, io::Result<Reading>> {
        let path = self.path(key);
        Box::pin(async move {
            let path = path?;
            let (file, size) = blocking(move || {
                let file = std::fs::File::open(path)?;
                let size = file.metadata()?.len();
                Ok((file, size))
            })
            .await?;
            Ok(Reading { size, chunks: Box::pin(chunks(file)) })
        })
    }

    fn delete(&self, key: &str) -> BoxFuture<'_, io::Result<()>> {
        let path = self.path(key);
        Box::pin(async move {
            let path = path?;
            blocking(move || match std::fs::remove_file(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            })
            .await
        })
    }

    fn exists(&self, key: &str) -> BoxFuture<'_, io::Result<bool>> {
        let path = self.path(key);
        Box::pin(async move { Ok(path?.exists()) })
    }
}

/// The file's bytes, one blocking read of at most [`CHUNK`] bytes per item; ends at EOF or after
/// the first error.
fn chunks(file: std::fs::File) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = blocking(move || {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok((file, buf))
        })
        .await;
        match read {
            Ok((_, buf)) if buf.is_empty() => None,
            Ok((file, buf)) => Some((Ok(Bytes::from(buf)), Some(file))),
            Err(e) => Some((Err(e), None)),
        }
    })
}

struct LocalStaged {
    /// Moved out while a blocking write runs.
    file: Option<std::fs::File>,
    path: PathBuf,
    root: PathBuf,
    done: bool,
}

impl Staged for LocalStaged {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            let mut file = self.file.take().ok_or_else(|| io::Error::other("staged file lost after a failed write"))?;
            let file = blocking(move || file.write_all(&chunk).map(|_| file)).await?;
            self.file = Some(file);
            Ok(())
        })
    }

    fn commit(mut self: Box<Self>, key: String) -> BoxFuture<'static, io::Result<()>> {
        Box::pin(async move {
            let target = LocalDir { root: self.root.clone() }.path(&key)?;
            let file = self.file.take().ok_or_else(|| io::Error::other("staged file lost after a failed write"))?;
            let from = self.path.clone();
            blocking(move || {
                file.sync_all()?;
                drop(file);
                std::fs::rename(&from, &target)
            })
            .await?;
            self.done = true;
            Ok(())
        })
    }
}

impl Drop for LocalStaged {
    fn drop(&mut self) {
        if !self.done {
            remove_quietly(&self.path);
        }
    }
}

fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(error = %e, path = %path.display(), "could not remove a staged upload");
        }
    }
}

/// Staged uploads a crashed process left behind. Only old ones: another replica sharing the
/// directory may be writing a fresh one right now.
fn sweep_stale(staging: &Path) {
    let Ok(entries) = std::fs::read_dir(staging) else {
        return;
    };
    let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(6 * 3600);
    for entry in entries.flatten() {
        let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
        if old {
            remove_quietly(&entry.path());
        }
    }
}
