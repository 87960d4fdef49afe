//! Where a test's hub keeps its state: a redb directory of its own, or a PostgreSQL schema of
//! its own on the server in RELAY_TEST_POSTGRES (`scripts/with-postgres` sets it). Without that
//! variable the PostgreSQL cases say they did not run; with RELAY_REQUIRE_POSTGRES=1 (as
//! tests/acceptance/postgres/run sets) they fail instead.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use relay_channels::{Hub, HubConfig, HubError};
use tokio_postgres::{Client, NoTls};

/// One test's store, removed (the directory; a schema is left to the throwaway server) on drop.
pub(crate) struct Place {
    pub(crate) name: String,
    dir: PathBuf,
    /// The schema's URL, for PostgreSQL.
    pub(crate) url: Option<String>,
}

fn unique(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{test}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The server's URL, or `None` (after saying so) when PostgreSQL tests are not to run.
pub(crate) fn postgres_base(test: &str) -> Option<String> {
    match std::env::var("RELAY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("RELAY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => panic!(
            "RELAY_REQUIRE_POSTGRES=1 but RELAY_TEST_POSTGRES is not set: run the tests under \
             scripts/with-postgres, e.g. `scripts/with-postgres cargo test -p relay-channels \
             --test it -- postgres_hub::`"
        ),
        _ => {
            eprintln!(
                "{test}: the PostgreSQL case did not run: RELAY_TEST_POSTGRES is not set \
                 (run under scripts/with-postgres)"
            );
            None
        }
    }
}

/// `base` with a parameter added.
pub(crate) fn with_param(base: &str, param: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{param}")
}

/// `url` with its user replaced by `user` (and no password).
pub(crate) fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host}")
}

impl Place {
    pub(crate) fn redb(test: &str) -> Place {
        let name = unique(test);
        Place {
            dir: std::env::temp_dir().join(format!("relay-hub-{name}")),
            name,
            url: None,
        }
    }

    /// A fresh schema named after the test; `None` when PostgreSQL tests are not to run.
    pub(crate) fn postgres(test: &str) -> Option<Place> {
        let base = postgres_base(test)?;
        let name = unique(test);
        Some(Place {
            url: Some(with_param(&base, &format!("schema=chs_{name}"))),
            dir: std::env::temp_dir().join(format!("relay-hub-{name}")),
            name,
        })
    }

    /// A fresh schema reached through `url`, the test's own (another user, say).
    pub(crate) fn postgres_at(test: &str, url: String) -> Place {
        let name = unique(test);
        Place {
            url: Some(url),
            dir: std::env::temp_dir().join(format!("relay-hub-{name}")),
            name,
        }
    }

    /// Both backends, PostgreSQL when it is to run.
    pub(crate) fn both(test: &str) -> Vec<Place> {
        let mut v = vec![Place::redb(test)];
        v.extend(Place::postgres(test));
        v
    }

    pub(crate) fn open(&self, cfg: HubConfig) -> Result<Hub, HubError> {
        match &self.url {
            Some(url) => Hub::open_postgres(url, &self.dir.join("files"), cfg),
            None => Hub::open(&self.dir, cfg),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A connection of the test's own to the server, for what it checks or breaks there.
pub(crate) struct Admin {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Admin {
    pub(crate) fn connect(url: &str) -> Admin {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        });
        Admin { rt, client }
    }

    pub(crate) fn execute(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// The first column of every row, as text.
    pub(crate) fn column(&self, sql: &str) -> Vec<String> {
        let rows = self
            .rt
            .block_on(self.client.simple_query(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        rows.into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some(r.get(0).unwrap_or_default().to_owned())
                }
                _ => None,
            })
            .collect()
    }
}
