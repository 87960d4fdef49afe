//! The address a client connects to, computed exactly as the instance computes it.

use relay_wire::console::{default_socket_name, SocketAddress};
use std::path::PathBuf;

/// Login name of the real uid (passwd lookup, not `$USER`), falling back to the numeric uid.
pub fn login_name() -> String {
    let uid = nix::unistd::Uid::current();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    }
}

/// The directory for path sockets on non-Linux systems (never `/tmp`).
pub fn run_dir(get: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(d) = get("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = get("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("moulti");
    }
    let home = PathBuf::from(get("HOME").unwrap_or_default());
    let caches = home.join("Library/Caches");
    if caches.is_dir() {
        return caches.join("moulti");
    }
    home.join(".cache/moulti")
}

/// `MOULTI_SOCKET_PATH` if set, else `moulti-<user>-<instance>.socket`: abstract on Linux, in
/// the run directory elsewhere.
pub fn resolve_address(get: &dyn Fn(&str) -> Option<String>) -> SocketAddress {
    if let Some(p) = get("MOULTI_SOCKET_PATH").filter(|p| !p.is_empty()) {
        return SocketAddress::parse(&p);
    }
    let name = default_socket_name(&login_name(), get("MOULTI_INSTANCE").as_deref());
    if cfg!(target_os = "linux") {
        SocketAddress::Abstract(name)
    } else {
        SocketAddress::Path(run_dir(get).join(name))
    }
}
