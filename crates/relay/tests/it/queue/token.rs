//! Checklist item 2: where the master token comes from.
//!
//! Deliberate deviation: with no token configured Relay never falls back to the public
//! `DEFAULT_TOKEN`; it generates a strong token into `DIR/queue-token` on first start.
//! Precedence: `--queue-token`, then `RELAY_QUEUE_TOKEN`, then `SCIROCCO_MASTER_TOKEN`.

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

fn accepts(s: &Server, token: &str) -> bool {
    let r = Request::new(s.addr, "GET", "/")
        .header("Authorization", token)
        .send();
    match r.status {
        200 => true,
        403 => false,
        _ => panic!("{}", r.describe()),
    }
}

#[test]
fn item_02_scirocco_master_token_default_token_works() {
    let s = Server::with(
        Options::default()
            .token(None)
            .env("SCIROCCO_MASTER_TOKEN", "DEFAULT_TOKEN"),
    );
    assert!(accepts(&s, "DEFAULT_TOKEN"));
    let id = s.push("a1", "b2", &json!({}));
    assert_eq!(s.pull("b2").expect(200).id(), id.id());
}

#[test]
fn item_02_scirocco_master_token_overrides() {
    let s = Server::with(
        Options::default()
            .token(None)
            .env("SCIROCCO_MASTER_TOKEN", "s3cret-master"),
    );
    assert!(accepts(&s, "s3cret-master"));
    assert!(!accepts(&s, "DEFAULT_TOKEN"));
}

#[test]
fn item_02_precedence_flag_then_relay_env_then_scirocco_env() {
    let both = Options::default()
        .token(None)
        .env("RELAY_QUEUE_TOKEN", "relay-env")
        .env("SCIROCCO_MASTER_TOKEN", "scirocco-env");
    let s = Server::with(both.clone());
    assert!(accepts(&s, "relay-env"));
    assert!(!accepts(&s, "scirocco-env"));
    drop(s);
    let s = Server::with(both.token(Some("from-flag")));
    assert!(accepts(&s, "from-flag"));
    assert!(!accepts(&s, "relay-env"));
    assert!(!accepts(&s, "scirocco-env"));
}

#[test]
fn item_02_no_token_configured_generates_a_strong_token_file() {
    let mut s = Server::with(Options::default().token(None));
    let token = s.token_file().expect("DIR/queue-token was not created");
    assert!(token.len() >= 16, "generated token {token:?} is short");
    assert_ne!(token, "DEFAULT_TOKEN");
    assert!(accepts(&s, &token));
    assert!(!accepts(&s, "DEFAULT_TOKEN"));
    assert!(!accepts(&s, ""));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.data_dir().join("queue-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "token file mode {mode:o} lets other users read the token"
        );
    }
    // The same token after a restart: clients keep working.
    s.restart();
    assert_eq!(s.token_file().as_deref(), Some(token.as_str()));
    assert!(accepts(&s, &token));
}

#[test]
fn item_02_generated_tokens_differ_between_data_dirs() {
    let a = Server::with(Options::default().token(None));
    let b = Server::with(Options::default().token(None));
    assert_ne!(a.token_file().unwrap(), b.token_file().unwrap());
}
