//! A headless instance on a private abstract socket, for protocol tests against a real socket.

pub(crate) mod tui;

use relay_client::console::{connect_to, recv_json_message, send_json_message, Connection};
use relay_console::instance::{queues, run_headless, Instance};
use relay_console::server::{bind, serve};
use relay_console::settings::Settings;
use relay_wire::console::SocketAddress;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub(crate) struct TestInstance {
    pub address: SocketAddress,
    _runtime: tokio::runtime::Runtime,
}

impl TestInstance {
    pub(crate) fn start() -> TestInstance {
        Self::with_settings(Settings::default())
    }

    pub(crate) fn with_settings(settings: Settings) -> TestInstance {
        let name = format!(
            "relay-console-test-{}-{}.socket",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let address = SocketAddress::Abstract(name);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut listener = bind(&address).expect("bind");
        let (senders, q) = queues();
        let instance = Instance::new(settings.clone(), senders.clone());
        runtime.spawn(async move { serve(&mut listener, settings, senders.control).await });
        runtime.spawn(run_headless(instance, q));
        TestInstance {
            address,
            _runtime: runtime,
        }
    }

    pub(crate) fn connect(&self) -> Connection {
        connect_to(&self.address).expect("connect")
    }

    /// Sends one message on a fresh connection and returns the reply.
    pub(crate) fn send(&self, msg: Value) -> Value {
        let mut c = self.connect();
        send_json_message(&mut c, &msg, &[]).unwrap();
        recv_json_message(&mut c).unwrap()
    }

    pub(crate) fn raw(&self) -> std::os::unix::net::UnixStream {
        use std::os::linux::net::SocketAddrExt;
        let SocketAddress::Abstract(name) = &self.address else {
            unreachable!()
        };
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let s = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s
    }
}

pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    relay_wire::console::encode_json_frame(payload)
}

/// Reads exactly one framed reply from a raw stream; `None` at EOF.
pub(crate) fn read_frame(s: &mut std::os::unix::net::UnixStream) -> Option<(Vec<u8>, Value)> {
    use std::io::Read;
    let mut pre = [0u8; 20];
    if s.read_exact(&mut pre).is_err() {
        return None;
    }
    let (_, len) = relay_wire::console::parse_preamble(&pre).unwrap();
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).unwrap();
    let v = serde_json::from_slice(&payload).unwrap();
    Some(([&pre[..], &payload].concat(), v))
}

pub(crate) fn ok(v: &Value) -> bool {
    v["done"] == json!(true) && v["error"].is_null()
}
