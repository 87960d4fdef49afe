//! Blocking connection to an instance.

use super::{resolve_address, ConsoleClientError};
use relay_wire::console::{encode_json_frame, FrameDecoder, SocketAddress};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use serde_json::Value;
use std::io::{IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;

/// Largest reply accepted (replies are small; this only guards against garbage).
const MAX_REPLY: u64 = 64 * 1024 * 1024;

/// One connection; several messages may be exchanged over it.
pub struct Connection {
    stream: UnixStream,
    decoder: FrameDecoder,
    ready: std::collections::VecDeque<Vec<u8>>,
    address: String,
}

impl Connection {
    /// The address connected to, in printable form (as in error messages).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The underlying Unix socket (for polling or timeouts).
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }
}

/// Connects to the instance named by the environment (`MOULTI_SOCKET_PATH`, `MOULTI_INSTANCE`).
pub fn connect() -> Result<Connection, ConsoleClientError> {
    connect_to(&resolve_address(&|k| std::env::var(k).ok()))
}

/// Connects to the instance at `address` (a filesystem path, or an abstract name on Linux).
pub fn connect_to(address: &SocketAddress) -> Result<Connection, ConsoleClientError> {
    let printable = address.printable();
    let no_instance = |source| ConsoleClientError::NoInstance {
        address: printable.clone(),
        source,
    };
    let stream = match address {
        SocketAddress::Path(p) => UnixStream::connect(p).map_err(no_instance)?,
        SocketAddress::Abstract(name) => {
            #[cfg(target_os = "linux")]
            {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .map_err(no_instance)?;
                UnixStream::connect_addr(&addr).map_err(no_instance)?
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = name;
                return Err(no_instance(std::io::Error::other(
                    "abstract sockets need Linux",
                )));
            }
        }
    };
    Ok(Connection {
        stream,
        decoder: FrameDecoder::new(MAX_REPLY),
        ready: Default::default(),
        address: printable,
    })
}

/// Sends one message, with descriptors attached to its first byte(s).
pub fn send_json_message(
    conn: &mut Connection,
    message: &Value,
    fds: &[BorrowedFd<'_>],
) -> Result<(), ConsoleClientError> {
    let payload =
        serde_json::to_vec(message).map_err(|e| ConsoleClientError::Protocol(e.to_string()))?;
    let frame = encode_json_frame(&payload);
    if fds.is_empty() {
        conn.stream.write_all(&frame)?;
        return Ok(());
    }
    let mut sent = send_with_fds(&conn.stream, &frame, fds);
    // Some sockets refuse a large datagram with descriptors; the reference client then sends
    // the descriptors with the first byte alone, and so do we.
    while matches!(&sent, Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MSGSIZE.raw_os_error()))
    {
        sent = send_with_fds(&conn.stream, &frame[..1], fds);
    }
    let n = sent?;
    conn.stream.write_all(&frame[n..])?;
    Ok(())
}

fn send_with_fds(
    stream: &UnixStream,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<usize> {
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other("too many descriptors"));
    }
    Ok(rustix::net::sendmsg(
        stream,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::empty(),
    )?)
}

/// Receives the next message.
pub fn recv_json_message(conn: &mut Connection) -> Result<Value, ConsoleClientError> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Some(payload) = conn.ready.pop_front() {
            return serde_json::from_slice(&payload)
                .map_err(|e| ConsoleClientError::Protocol(format!("reply is not JSON: {e}")));
        }
        let n = conn.stream.read(&mut buf)?;
        if n == 0 {
            return Err(ConsoleClientError::Closed);
        }
        let payloads = conn
            .decoder
            .feed(&buf[..n])
            .map_err(|e| ConsoleClientError::Protocol(e.to_string()))?;
        conn.ready.extend(payloads);
    }
}

/// Connects, sends one message, waits for its reply, disconnects.
pub fn send_to_console(message: &Value) -> Result<Value, ConsoleClientError> {
    let mut conn = connect()?;
    send_json_message(&mut conn, message, &[])?;
    recv_json_message(&mut conn)
}
