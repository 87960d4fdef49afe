//! Binding the socket and accepting connections (with the peer-credential check on abstract
//! sockets).

use super::conn;
use super::Event;
use crate::settings::Settings;
use crate::ConsoleError;
use relay_wire::console::SocketAddress;
use std::os::unix::net::UnixListener as StdListener;
use tokio::sync::mpsc;

/// A bound listening socket; removes its file on drop when it is a path socket.
pub struct Listener {
    inner: Option<StdListener>,
    address: SocketAddress,
}

impl Listener {
    pub fn address(&self) -> &SocketAddress {
        &self.address
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let SocketAddress::Path(p) = &self.address {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Binds `address`. A path socket gets its parent directories created; a stale file is not
/// removed (the bind fails, as with the reference).
pub fn bind(address: &SocketAddress) -> Result<Listener, ConsoleError> {
    let err = |source| ConsoleError::Listen {
        address: address.printable(),
        source,
    };
    let listener = match address {
        SocketAddress::Abstract(name) => {
            #[cfg(target_os = "linux")]
            {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .map_err(err)?;
                StdListener::bind_addr(&addr).map_err(err)?
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = name;
                return Err(err(std::io::Error::other("abstract sockets need Linux")));
            }
        }
        SocketAddress::Path(p) => {
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(err)?;
            }
            StdListener::bind(p).map_err(err)?
        }
    };
    listener.set_nonblocking(true).map_err(err)?;
    Ok(Listener {
        inner: Some(listener),
        address: address.clone(),
    })
}

/// Accepts connections forever, spawning one task per connection. Must run inside a runtime.
pub async fn serve(
    listener: &mut Listener,
    settings: Settings,
    events: mpsc::UnboundedSender<Event>,
) {
    let Some(std_listener) = listener.inner.take() else {
        return;
    };
    let listener_tokio = match tokio::net::UnixListener::from_std(std_listener) {
        Ok(l) => l,
        Err(e) => {
            let _ = events.send(Event::Log(format!("accept: cannot register listener: {e}")));
            return;
        }
    };
    let check_creds = listener.address.is_abstract();
    let my_uid = rustix::process::getuid().as_raw();
    let mut next_id = 0u64;
    loop {
        let (stream, addr) = match listener_tokio.accept().await {
            Ok(x) => x,
            Err(e) => {
                let _ = events.send(Event::Log(format!("accept: {e}")));
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        next_id += 1;
        let peer = match (addr.as_abstract_name(), addr.as_pathname()) {
            (Some(name), _) => format!("@{}", String::from_utf8_lossy(name)),
            (_, Some(p)) => p.display().to_string(),
            _ => String::new(),
        };
        let label = format!("{peer}:conn{next_id}");
        if check_creds {
            let allowed = match stream.peer_cred() {
                Ok(cred) => {
                    let (uid, gid) = (cred.uid(), cred.gid());
                    let ok = uid == my_uid
                        || settings.allowed_uids.contains(&uid)
                        || settings.allowed_gids.contains(&gid);
                    if !ok {
                        let _ = events.send(Event::Log(format!(
                            "{label}: accept: closed connection: invalid Unix credentials {uid}:{gid}"
                        )));
                    }
                    ok
                }
                Err(e) => {
                    let _ = events.send(Event::Log(format!(
                        "{label}: accept: cannot read peer credentials: {e}"
                    )));
                    false
                }
            };
            if !allowed {
                drop(stream);
                continue;
            }
        }
        let _ = events.send(Event::Log(format!(
            "{label}: accept: accepted new connection"
        )));
        conn::spawn(stream, next_id, label, settings.max_message, events.clone());
    }
}
