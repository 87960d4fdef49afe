//! Where the channel state lives: a libpq-style `postgres://` URL, plus one parameter of Relay's
//! own, `schema` (as the queue's store takes it), which the driver would refuse and is therefore
//! taken out before it sees the URL.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::Config;

use super::PostgresError;

/// A server that does not answer should fail the start (or one reconnect), not hang it.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Target {
    pub config: Config,
    pub schema: String,
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Target, PostgresError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(PostgresError::Url(
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
            return Err(PostgresError::Url(format!(
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
            .map_err(|e| PostgresError::Url(PostgresError::Driver(e).to_string()))?;
        if config.get_application_name().is_none() {
            config.application_name("relay-channels");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        Ok(Target { config, schema })
    }

    /// The schema name quoted for SQL; `parse` allowed only characters that need no escaping.
    pub(super) fn quoted_schema(&self) -> String {
        format!("\"{}\"", self.schema)
    }
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
    fn the_schema_is_taken_out_and_other_parameters_stay() {
        let t =
            Target::parse("postgres://u@db.example/c?schema=chan_a&application_name=x").unwrap();
        assert_eq!(t.schema, "chan_a");
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert_eq!(t.config.get_dbname(), Some("c"));
        let t = Target::parse("postgresql://u@db.example/c").unwrap();
        assert_eq!(t.schema, "public");
        assert_eq!(t.config.get_application_name(), Some("relay-channels"));
    }

    #[test]
    fn a_schema_that_would_need_quoting_is_refused() {
        for bad in ["a-b", "1a", "a\"b", ""] {
            let url = format!("postgres://u@h/d?schema={bad}");
            assert!(
                matches!(Target::parse(&url), Err(PostgresError::Url(_))),
                "{bad}"
            );
        }
        assert!(Target::parse("mysql://u@h/d").is_err());
    }
}
