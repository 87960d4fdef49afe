//! Where the store lives: a libpq-style `postgres://` URL, plus one parameter of Relay's own,
//! `schema`, which the driver would refuse and is therefore taken out before it sees the URL.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::Host;
use tokio_postgres::Config;

use crate::PgError;

/// A server that does not answer should fail the start, not hang it.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A store's database and the schema inside it.
pub struct Target {
    /// The driver's connection settings.
    pub config: Config,
    /// The schema the store's tables live in (`public` unless the URL names one).
    pub schema: String,
}

impl Target {
    /// Reads a store URL; `application` names the connections in `pg_stat_activity` unless
    /// the URL sets `application_name`.
    pub fn parse(url: &str, application: &str) -> Result<Target, PgError> {
        if !is_postgres_url(url) {
            return Err(PgError::Url(
                "expected a postgres:// or postgresql:// URL".into(),
            ));
        }
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let mut schema = None;
        let mut kept = Vec::new();
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            match pair.split_once('=') {
                Some(("schema", value)) => schema = Some(value.to_string()),
                _ => kept.push(pair),
            }
        }
        let schema = schema.unwrap_or_else(|| "public".to_string());
        if !is_plain_identifier(&schema) {
            return Err(PgError::Url(format!(
                "schema `{schema}`: use letters, digits and underscores, not starting with a digit, at most 63"
            )));
        }
        let driver_url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        // The driver's parse error says only "invalid connection string"; its source says why.
        let mut config = Config::from_str(&driver_url)
            .map_err(|e| PgError::Url(PgError::from(e).to_string()))?;
        if config.get_application_name().is_none() {
            config.application_name(application);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        Ok(Target { config, schema })
    }

    /// The schema name quoted for SQL; `parse` allowed only characters that need no escaping.
    pub fn quoted_schema(&self) -> String {
        format!("\"{}\"", self.schema)
    }

    /// Where the store is, for logs: never the password.
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(h) => h.clone(),
                Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        let hosts = if hosts.is_empty() {
            "localhost".to_string()
        } else {
            hosts.join(",")
        };
        // One port applies to every host; none means the default.
        let ports: Vec<String> = self.config.get_ports().iter().map(u16::to_string).collect();
        let ports = if ports.is_empty() {
            "5432".to_string()
        } else {
            ports.join(",")
        };
        let user = self.config.get_user().unwrap_or("?");
        let db = self.config.get_dbname().unwrap_or(user);
        format!(
            "postgres://{user}@{hosts}:{ports}/{db} schema {}",
            self.schema
        )
    }
}

fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_taken_out_and_other_parameters_stay() {
        let t = Target::parse("postgres://u:secret@db.example:6543/q?sslmode=disable&schema=relay_a&connect_timeout=3", "relay").unwrap();
        assert_eq!(t.schema, "relay_a");
        assert_eq!(t.config.get_dbname(), Some("q"));
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert!(!t.describe().contains("secret"), "{}", t.describe());
        assert_eq!(
            t.describe(),
            "postgres://u@db.example:6543/q schema relay_a"
        );
    }

    #[test]
    fn a_unix_socket_is_described_by_its_directory() {
        let t = Target::parse(
            "postgres://relay@/q?host=/run/postgresql&port=5433",
            "relay",
        )
        .unwrap();
        assert_eq!(
            t.describe(),
            "postgres://relay@/run/postgresql:5433/q schema public"
        );
    }

    #[test]
    fn defaults_to_public_and_names_the_application() {
        let t = Target::parse("postgresql://u@localhost/q", "relay").unwrap();
        assert_eq!(t.schema, "public");
        assert_eq!(t.config.get_application_name(), Some("relay"));
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
    }

    #[test]
    fn the_url_may_name_the_application() {
        let t = Target::parse("postgres://u@h/c?application_name=x", "relay-channels").unwrap();
        assert_eq!(t.config.get_application_name(), Some("x"));
        let t = Target::parse("postgres://u@h/c", "relay-channels").unwrap();
        assert_eq!(t.config.get_application_name(), Some("relay-channels"));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for bad in [
            "/var/lib/queue.redb",
            "postgres://u@h/q?schema=a;drop",
            "postgres://u@h/q?schema=1a",
            "postgres://u@h/q?nonsense=1",
            "postgres://u@h/q?schema=a-b",
            "postgres://u@h/q?schema=",
            "mysql://u@h/q",
        ] {
            assert!(
                matches!(Target::parse(bad, "relay"), Err(PgError::Url(_))),
                "{bad}"
            );
        }
    }
}
