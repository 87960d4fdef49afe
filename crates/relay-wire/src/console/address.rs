//! Socket naming shared by the instance and its clients (printable form: a leading `@` means a
//! Linux abstract socket).

use std::path::PathBuf;

/// A parsed printable socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAddress {
    /// Linux abstract name, without the leading `@`.
    Abstract(String),
    /// A socket file in the filesystem, as written (no `@`).
    Path(PathBuf),
}

impl SocketAddress {
    /// Reads the printable form: a leading `@` names an abstract socket, anything else a path.
    pub fn parse(printable: &str) -> SocketAddress {
        match printable.strip_prefix('@') {
            Some(name) => SocketAddress::Abstract(name.to_string()),
            None => SocketAddress::Path(PathBuf::from(printable)),
        }
    }

    /// The form `parse` reads back, used in messages and in `MOULTI_SOCKET_PATH`.
    pub fn printable(&self) -> String {
        match self {
            SocketAddress::Abstract(name) => format!("@{name}"),
            SocketAddress::Path(p) => p.display().to_string(),
        }
    }

    /// True for a Linux abstract name, which has no file to create or remove.
    pub fn is_abstract(&self) -> bool {
        matches!(self, SocketAddress::Abstract(_))
    }
}

/// `moulti-<user>-<instance>.socket`; an empty instance name means `default`.
pub fn default_socket_name(user: &str, instance: Option<&str>) -> String {
    let instance = instance.filter(|i| !i.is_empty()).unwrap_or("default");
    format!("moulti-{user}-{instance}.socket")
}

/// The name a client binds before connecting, so the instance can tell clients apart in its log.
pub fn client_bind_name(user: &str, pid: u32) -> String {
    format!("moulti-client-{user}-{pid}.socket")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        assert_eq!(
            default_socket_name("root", None),
            "moulti-root-default.socket"
        );
        assert_eq!(
            default_socket_name("root", Some("")),
            "moulti-root-default.socket"
        );
        assert_eq!(default_socket_name("bob", Some("t")), "moulti-bob-t.socket");
        assert_eq!(SocketAddress::parse("@x").printable(), "@x");
        assert_eq!(
            SocketAddress::parse("/a/b"),
            SocketAddress::Path("/a/b".into())
        );
    }

    proptest! {
        /// A printable address reads back as itself, and an abstract name keeps every character.
        /// (A path whose first character is `@` has no printable form: `@` means abstract.)
        #[test]
        fn printable_forms_round_trip(s in any::<String>()) {
            prop_assert_eq!(SocketAddress::parse(&s).printable(), s.clone());
            let name = SocketAddress::Abstract(s.clone());
            prop_assert_eq!(SocketAddress::parse(&name.printable()), name);
            if !s.starts_with('@') {
                let path = SocketAddress::Path(s.clone().into());
                prop_assert_eq!(SocketAddress::parse(&path.printable()), path);
            }
        }
    }
}
