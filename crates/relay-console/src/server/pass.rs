//! Streaming a passed descriptor into a step, off the instance's loop. Regular files are read
//! on a blocking thread (epoll refuses them); pipes, ttys and sockets are polled, and stop being
//! read when the client that passed them disconnects.

use super::{Conn, Event};
use crate::text::lines::LineSplitter;
use serde_json::{Map, Value};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{mpsc, Semaphore};

/// Where lines go and whom to answer at the end.
#[derive(Debug)]
pub struct PassTarget {
    pub step: String,
    /// `None` for `relay run` output, which nobody waits for.
    pub reply_to: Option<(Conn, Map<String, Value>)>,
}

/// Smallest read buffer: the reference reads `read_size` bytes at a time, but larger reads only
/// reduce system calls; lines come out identical.
const MIN_READ: usize = 64 * 1024;
/// Largest read buffer: `read_size` comes from the client, and a buffer of any size it asks for
/// could not be allocated (the process would abort).
const MAX_READ: usize = 16 * 1024 * 1024;

/// Starts a pass once a concurrency permit is available.
pub fn spawn_pass(
    fd: OwnedFd,
    target: PassTarget,
    read_size: usize,
    tab_size: usize,
    data: mpsc::Sender<Event>,
    permits: Arc<Semaphore>,
) {
    tokio::spawn(async move {
        // A pipe or terminal whose client leaves while waiting for a slot is given up like one
        // being read: holding it would keep its producer blocked on a full pipe for as long as
        // the other passes run. Regular files are always read.
        let client = target
            .reply_to
            .as_ref()
            .map(|(conn, _)| conn.clone())
            .filter(|_| !is_regular(&fd));
        let _permit = match client {
            Some(conn) => tokio::select! {
                permit = permits.acquire_owned() => permit,
                () = conn.wait_closed() => {
                    drop(fd);
                    let error = Some("client disconnected; stopped reading".to_string());
                    let _ = data.send(Event::PassDone { step: target.step, reply_to: target.reply_to, error }).await;
                    return;
                }
            },
            None => permits.acquire_owned().await,
        };
        run(fd, target, read_size, tab_size, data).await;
    });
}

fn is_regular(fd: &OwnedFd) -> bool {
    rustix::fs::fstat(fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
    })
}

/// Streams a descriptor nobody waits on (the output of `relay run`'s child).
pub fn spawn_reader(fd: OwnedFd, step: String, tab_size: usize, data: mpsc::Sender<Event>) {
    tokio::spawn(run(
        fd,
        PassTarget {
            step,
            reply_to: None,
        },
        MIN_READ,
        tab_size,
        data,
    ));
}

async fn run(
    fd: OwnedFd,
    target: PassTarget,
    read_size: usize,
    tab_size: usize,
    data: mpsc::Sender<Event>,
) {
    let size = read_size.clamp(MIN_READ, MAX_READ);
    if let Err(e) = check_readable(&fd) {
        let _ = data
            .send(Event::PassDone {
                step: target.step,
                reply_to: target.reply_to,
                error: Some(e),
            })
            .await;
        return;
    }
    let error = if is_regular(&fd) {
        read_blocking(fd, target.step.clone(), size, tab_size, data.clone(), None).await
    } else {
        if let Err(e) = set_nonblocking(&fd) {
            Some(e.to_string())
        } else {
            // tokio offers no safe registration: the descriptor must stay open while registered.
            // SAFETY: the AsyncFd owns the descriptor, so it cannot be closed while registered.
            #[allow(unsafe_code)]
            match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
                Ok(afd) => read_polled(afd, &target, size, tab_size, &data).await,
                // Descriptors epoll refuses (e.g. /dev/null) are read like regular files.
                // They may never end (/dev/zero), so they stop when the client leaves like pipes.
                Err(e) => {
                    let (fd, _) = e.into_parts();
                    let client = target.reply_to.as_ref().map(|(conn, _)| conn.clone());
                    read_blocking(
                        fd,
                        target.step.clone(),
                        size,
                        tab_size,
                        data.clone(),
                        client,
                    )
                    .await
                }
            }
        }
    };
    let _ = data
        .send(Event::PassDone {
            step: target.step,
            reply_to: target.reply_to,
            error,
        })
        .await;
}

/// A write-only descriptor would never become readable; refuse it up front.
fn check_readable(fd: &OwnedFd) -> Result<(), String> {
    let flags = rustix::fs::fcntl_getfl(fd)
        .map_err(|e| format!("cannot use the passed descriptor: {e}"))?;
    if flags & rustix::fs::OFlags::RWMODE == rustix::fs::OFlags::WRONLY {
        return Err("the passed descriptor is not open for reading".into());
    }
    Ok(())
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

/// Reads to the end on a blocking thread; with `client`, stops once that client is gone.
async fn read_blocking(
    fd: OwnedFd,
    step: String,
    size: usize,
    tab: usize,
    data: mpsc::Sender<Event>,
    client: Option<Conn>,
) -> Option<String> {
    let joined = tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::from(fd);
        let mut buf = vec![0u8; size];
        let mut splitter = LineSplitter::new(tab);
        loop {
            if client.as_ref().is_some_and(Conn::is_closed) {
                if let Some(last) = splitter.finish() {
                    let _ = data.blocking_send(Event::Lines {
                        step,
                        lines: vec![last],
                    });
                }
                return Some("client disconnected; stopped reading".into());
            }
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(e.to_string()),
            };
            let lines = splitter.push(&buf[..n]);
            if !lines.is_empty()
                && data
                    .blocking_send(Event::Lines {
                        step: step.clone(),
                        lines,
                    })
                    .is_err()
            {
                return None;
            }
        }
        if let Some(last) = splitter.finish() {
            let _ = data.blocking_send(Event::Lines {
                step,
                lines: vec![last],
            });
        }
        None
    })
    .await;
    joined.unwrap_or_else(|e| Some(e.to_string()))
}

async fn read_polled(
    afd: AsyncFd<OwnedFd>,
    target: &PassTarget,
    size: usize,
    tab: usize,
    data: &mpsc::Sender<Event>,
) -> Option<String> {
    let mut buf = vec![0u8; size];
    let mut splitter = LineSplitter::new(tab);
    let step = &target.step;
    let closed = async {
        match &target.reply_to {
            Some((conn, _)) => conn.wait_closed().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(closed);
    loop {
        let mut guard = tokio::select! {
            g = afd.readable() => match g {
                Ok(g) => g,
                Err(e) => return Some(e.to_string()),
            },
            _ = &mut closed => {
                // What was read is shown, even an unterminated last line.
                if let Some(last) = splitter.finish() {
                    let _ = data.send(Event::Lines { step: step.clone(), lines: vec![last] }).await;
                }
                return Some("client disconnected; stopped reading".into());
            }
        };
        match guard.try_io(|inner| rustix::io::read(inner.get_ref(), &mut buf).map_err(Into::into))
        {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                let lines = splitter.push(&buf[..n]);
                if !lines.is_empty()
                    && data
                        .send(Event::Lines {
                            step: step.clone(),
                            lines,
                        })
                        .await
                        .is_err()
                {
                    return None;
                }
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => return Some(e.to_string()),
            Err(_would_block) => {}
        }
    }
    if let Some(last) = splitter.finish() {
        let _ = data
            .send(Event::Lines {
                step: step.clone(),
                lines: vec![last],
            })
            .await;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A connection whose client has sent one request, so that the test holds its `Conn`; the
    /// client's end of the socket; and the connection's events, kept open for its lifetime.
    async fn connected() -> (
        std::os::unix::net::UnixStream,
        Conn,
        mpsc::UnboundedReceiver<Event>,
    ) {
        let (server, client) = tokio::net::UnixStream::pair().unwrap();
        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        super::super::conn::spawn(server, 1, "test".into(), 1 << 20, events_tx);
        let mut client = client.into_std().unwrap();
        client.set_nonblocking(false).unwrap();
        client
            .write_all(&relay_wire::console::encode_json_frame(
                br#"{"command":"ping"}"#,
            ))
            .unwrap();
        loop {
            if let Some(Event::Request { conn, .. }) = events_rx.recv().await {
                return (client, conn, events_rx);
            }
        }
    }

    #[test]
    fn an_interrupted_pass_keeps_the_partial_line_it_read() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn, _events) = connected().await;
            let (r, mut w) = std::io::pipe().unwrap();
            w.write_all(b"first\npartial").unwrap();
            let (data_tx, mut data_rx) = mpsc::channel(16);
            let target = PassTarget {
                step: "s".into(),
                reply_to: Some((conn, Map::new())),
            };
            tokio::spawn(run(OwnedFd::from(r), target, 0, 8, data_tx));
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            drop(client);
            let mut lines = Vec::new();
            loop {
                match tokio::time::timeout(std::time::Duration::from_secs(5), data_rx.recv())
                    .await
                    .expect("pass ends")
                {
                    Some(Event::Lines { lines: l, .. }) => lines.extend(l),
                    Some(Event::PassDone { error, .. }) => {
                        assert!(error.is_some_and(|e| e.contains("client disconnected")));
                        break;
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(lines, ["first", "partial"]);
            drop(w);
        });
    }

    #[test]
    fn an_endless_device_stops_being_read_when_its_client_leaves() {
        // /dev/zero cannot be polled (epoll refuses it) and never ends; like a pipe or a terminal
        // it must stop being read when the client that passed it disconnects.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn, _events) = connected().await;
            let zero = OwnedFd::from(std::fs::File::open("/dev/zero").unwrap());
            let (data_tx, mut data_rx) = mpsc::channel(16);
            let target = PassTarget {
                step: "s".into(),
                reply_to: Some((conn, Map::new())),
            };
            tokio::spawn(run(zero, target, 0, 8, data_tx));
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            drop(client);
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            loop {
                match tokio::time::timeout_at(deadline, data_rx.recv())
                    .await
                    .expect("the pass must end")
                {
                    Some(Event::Lines { .. }) => {}
                    Some(Event::PassDone { error, .. }) => {
                        assert!(error.is_some_and(|e| e.contains("client disconnected")));
                        break;
                    }
                    other => panic!("{other:?}"),
                }
            }
        });
    }
}
