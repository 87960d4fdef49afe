//! The Moobius SDK's racing reconnects, without the SDK: after a restart its receive loop and
//! its send loop can each open a socket; both logins go out on the newer socket while the
//! receive loop may go on reading the older one, which never sends anything. The server closes
//! such a silent socket after 10 s (rather than at the 60 s login deadline), which makes the
//! SDK reconnect, log in on the socket it reads and take the identity over.

use std::time::{Duration, Instant};

use crate::support::server::Server;
use crate::support::ws::Ws;
use relay_client::channel::ChannelHttp;

#[tokio::test]
async fn a_silent_socket_beside_a_logged_in_one_is_closed_so_the_sdk_logs_in_again() {
    let s = Server::start();
    s.add_account("u@example.com", "pw-u");
    let mut http = ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = http.sign_in("u@example.com", "pw-u").await.unwrap();
    tokio::task::spawn_blocking(move || {
        let opened = Instant::now();
        // The socket the SDK's receive loop reads: nothing is ever sent on it.
        let read = Ws::open(&s);
        // The socket both logins of the racing reconnects went out on.
        let written = Ws::open(&s);
        let login = written.login_user(&token);
        assert_eq!(login["status"], true, "{login}");
        let login = written.login_user(&token);
        assert_eq!(login["status"], true, "{login}");
        // A socket that sends something but has not logged in yet keeps the 60 s deadline.
        let talking = Ws::open(&s);
        let copy = talking.request_as(serde_json::json!({"type": "heartbeat", "body": {}}), "hb");
        assert_eq!(copy["status"], true, "{copy}");

        let closed = loop {
            if let Some(c) = read.closed() {
                break c;
            }
            assert!(
                opened.elapsed() < Duration::from_secs(20),
                "the silent socket was not closed"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            opened.elapsed() >= Duration::from_secs(9),
            "closed too soon"
        );
        assert_eq!(closed.0, 1008, "{closed:?}");
        assert!(closed.1.contains("nothing sent"), "{closed:?}");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(written.closed(), None, "the logged-in socket stays");
        assert_eq!(
            talking.closed(),
            None,
            "a socket that sent a frame keeps 60 s for its login"
        );

        // The SDK's reconnect: its new socket logs in and takes the identity over.
        let again = Ws::open(&s);
        let login = again.login_user(&token);
        assert_eq!(login["status"], true, "{login}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while written.closed().is_none() {
            assert!(
                Instant::now() < deadline,
                "the older login was not taken over"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(written.closed().unwrap().1.contains("superseded"));
        assert_eq!(again.closed(), None);
    })
    .await
    .unwrap();
}
