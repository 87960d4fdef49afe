//! Every subject Relay's nodes use, built in one place: `relay.<cluster>.<kind>.<id>…`.
//!
//! Ids come from clients (channel ids, account names), so each goes into its subject as one
//! escaped token: a space, dot or wildcard in an id could otherwise split it into several tokens
//! or make a publication land on (or a subscription match) subjects it was never meant for.

use std::fmt;
use std::sync::Arc;

use sha1::{Digest, Sha1};

use crate::error::{NameError, SubjectError};

/// The longest token [`escape_token`] writes out in full; a longer id is hashed instead, which
/// keeps every subject well under NATS's 4 KiB control line.
pub const MAX_TOKEN: usize = 128;

/// Turns any string into one subject token made only of `A-Z a-z 0-9 - _ ~`.
///
/// Letters, digits, `-` and `_` stay as they are; every other byte becomes `~` and two
/// upper-case hex digits, so distinct ids give distinct tokens. The empty string is `~` alone.
/// When the escaped form would exceed [`MAX_TOKEN`], the token is `~h` followed by the SHA-1 of
/// the id in hex (neither form can be mistaken for the other: `h` is not a hex digit).
pub fn escape_token(id: &str) -> String {
    if id.is_empty() {
        return "~".to_owned();
    }
    let mut out = String::with_capacity(id.len());
    for &b in id.as_bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            out.push('~');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
        if out.len() > MAX_TOKEN {
            let digest = Sha1::digest(id.as_bytes());
            let mut hashed = String::with_capacity(2 + 2 * digest.len());
            hashed.push_str("~h");
            for b in digest {
                hashed.push(HEX[usize::from(b >> 4)] as char);
                hashed.push(HEX[usize::from(b & 0xf)] as char);
            }
            return hashed;
        }
    }
    out
}

/// The id an [`escape_token`] token was made from; `None` for a hashed token or for text that
/// no escape produces.
pub fn unescape_token(token: &str) -> Option<String> {
    if token == "~" {
        return Some(String::new());
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'~' => {
                let hi = hex_value(*bytes.get(i + 1)?)?;
                let lo = hex_value(*bytes.get(i + 2)?)?;
                let b = hi << 4 | lo;
                if plain(b) {
                    return None;
                }
                out.push(b);
                i += 3;
            }
            b if plain(b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A name Relay chose itself (a cluster, a node id, an invalidation kind): 1 to 64 of
/// `A-Z a-z 0-9 - _`, so it is a token as it stands and reads the same in logs.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), NameError> {
    if (1..=64).contains(&name.len()) && name.bytes().all(plain) {
        Ok(())
    } else {
        Err(NameError {
            what,
            name: name.to_owned(),
        })
    }
}

/// The subjects of one cluster. Every node of a cluster must use the same cluster name; two
/// clusters can then share one NATS server without seeing each other's traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Default for Subjects {
    fn default() -> Self {
        Subjects {
            prefix: format!("relay.{}", Self::DEFAULT_CLUSTER),
        }
    }
}

impl Subjects {
    /// The cluster name when none is configured.
    pub const DEFAULT_CLUSTER: &'static str = "relay";

    /// The subjects of cluster `cluster` (1 to 64 of `A-Z a-z 0-9 - _`).
    pub fn new(cluster: &str) -> Result<Self, NameError> {
        check_name("cluster name", cluster)?;
        Ok(Subjects {
            prefix: format!("relay.{cluster}"),
        })
    }

    /// Where a channel's messages travel: `relay.<cluster>.ch.<channel>`.
    pub fn channel(&self, channel: &str) -> Subject {
        self.subject(&["ch", &escape_token(channel)])
    }

    /// Every channel's messages: `relay.<cluster>.ch.*`.
    pub fn channels(&self) -> Filter {
        self.filter("ch.*")
    }

    /// Where a login announces that it takes `identity` (an account or a service) over, so that
    /// the node holding that identity's earlier socket closes it: `relay.<cluster>.login.<id>`.
    pub fn takeover(&self, identity: &str) -> Subject {
        self.subject(&["login", &escape_token(identity)])
    }

    /// Every takeover: `relay.<cluster>.login.*`.
    pub fn takeovers(&self) -> Filter {
        self.filter("login.*")
    }

    /// Where a node says that its cached copy of one piece of state is stale (`kind` names
    /// the sort of state, e.g. `account` or `members`; `id` which one):
    /// `relay.<cluster>.inval.<kind>.<id>`.
    pub fn invalidate(&self, kind: &str, id: &str) -> Result<Subject, NameError> {
        check_name("invalidation kind", kind)?;
        Ok(self.subject(&["inval", kind, &escape_token(id)]))
    }

    /// Every invalidation: `relay.<cluster>.inval.>`.
    pub fn invalidations(&self) -> Filter {
        self.filter("inval.>")
    }

    /// Everything of the cluster: `relay.<cluster>.>`.
    pub fn everything(&self) -> Filter {
        self.filter(">")
    }

    fn subject(&self, tokens: &[&str]) -> Subject {
        let mut s = self.prefix.clone();
        for t in tokens {
            s.push('.');
            s.push_str(t);
        }
        Subject(s.into())
    }

    fn filter(&self, tail: &str) -> Filter {
        Filter(format!("{}.{tail}", self.prefix).into())
    }
}

/// A subject a message is published on: dot-separated tokens, none empty, no wildcard, no
/// whitespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject(Arc<str>);

impl Subject {
    /// Checks a subject written out by hand; [`Subjects`] builds Relay's own.
    pub fn new(subject: &str) -> Result<Self, SubjectError> {
        if tokens_valid(subject, false) {
            Ok(Subject(subject.into()))
        } else {
            Err(SubjectError {
                what: "subject",
                text: subject.to_owned(),
            })
        }
    }

    /// A subject as NATS delivered it: the server only delivers what a filter matched, and the
    /// filter was valid.
    pub(crate) fn trusted(subject: &str) -> Self {
        Subject(subject.into())
    }

    /// The subject as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a subscription listens to: a subject whose tokens may be `*` (any one token) and, as
/// the last token only, `>` (one or more tokens), as NATS defines them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Filter(Arc<str>);

impl Filter {
    /// Checks a filter written out by hand; [`Subjects`] builds Relay's own.
    pub fn new(filter: &str) -> Result<Self, SubjectError> {
        if tokens_valid(filter, true) {
            Ok(Filter(filter.into()))
        } else {
            Err(SubjectError {
                what: "filter",
                text: filter.to_owned(),
            })
        }
    }

    /// The filter as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a message on `subject` reaches a subscription with this filter, by NATS's rules.
    pub fn matches(&self, subject: &Subject) -> bool {
        let mut want = self.0.split('.');
        let mut have = subject.0.split('.');
        loop {
            match (want.next(), have.next()) {
                (Some(">"), Some(_)) => return true,
                (Some("*"), Some(_)) => {}
                (Some(w), Some(h)) if w == h => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }
}

impl From<Subject> for Filter {
    fn from(subject: Subject) -> Self {
        Filter(subject.0)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn tokens_valid(text: &str, wildcards: bool) -> bool {
    let mut tokens = text.split('.').peekable();
    while let Some(token) = tokens.next() {
        let last = tokens.peek().is_none();
        let ok = match token {
            "" => false,
            "*" => wildcards,
            ">" => wildcards && last,
            t => t
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'>'),
        };
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn token_chars_ok(token: &str) -> bool {
        !token.is_empty() && token.bytes().all(|b| plain(b) || b == b'~')
    }

    proptest! {
        #[test]
        fn an_escaped_id_is_one_safe_token_and_comes_back(id in any::<String>()) {
            let token = escape_token(&id);
            prop_assert!(token_chars_ok(&token), "{token:?}");
            prop_assert!(token.len() <= MAX_TOKEN);
            match unescape_token(&token) {
                Some(back) => prop_assert_eq!(back, id),
                None => prop_assert!(token.starts_with("~h") && token.len() == 42),
            }
        }

        #[test]
        fn ids_made_of_subject_syntax_stay_inside_their_token(
            id in "[a-z .*>~\t\u{e9}]{0,40}",
            other in "[a-z .*>~\t\u{e9}]{0,40}",
        ) {
            let subjects = Subjects::default();
            let subject = subjects.channel(&id);
            prop_assert_eq!(subject.as_str().split('.').count(), 4);
            prop_assert!(Subject::new(subject.as_str()).is_ok());
            prop_assert!(subjects.channels().matches(&subject));
            prop_assert!(!subjects.takeovers().matches(&subject));
            // Another id's subject, used as a filter, matches this one only if the ids are equal.
            let theirs = Filter::from(subjects.channel(&other));
            prop_assert_eq!(theirs.matches(&subject), id == other);
        }

        #[test]
        fn long_ids_are_hashed_apart(a in ".{130,200}", b in ".{130,200}") {
            prop_assume!(a != b);
            prop_assert_ne!(escape_token(&a), escape_token(&b));
        }
    }

    #[test]
    fn escapes_are_exact() {
        assert_eq!(escape_token("abc-DEF_09"), "abc-DEF_09");
        assert_eq!(escape_token("a.b c*>"), "a~2Eb~20c~2A~3E");
        assert_eq!(escape_token("~"), "~7E");
        assert_eq!(escape_token(""), "~");
        assert_eq!(
            unescape_token("~61"),
            None,
            "an escaped plain byte is not ours"
        );
        assert_eq!(unescape_token("a b"), None);
    }

    #[test]
    fn filters_match_as_nats_does() {
        let s = |t: &str| Subject::new(t).unwrap();
        let f = |t: &str| Filter::new(t).unwrap();
        assert!(f("a.*.c").matches(&s("a.b.c")));
        assert!(!f("a.*.c").matches(&s("a.b.b.c")));
        assert!(f("a.>").matches(&s("a.b.c")));
        assert!(!f("a.>").matches(&s("a")));
        assert!(f("a.b").matches(&s("a.b")));
        assert!(!f("a.b").matches(&s("a.b.c")));
        assert!(!f("a.*").matches(&s("a")));
        for bad in ["", "a..b", ".a", "a.", "a.>.b", "a b", "a.b*", "a.>x"] {
            assert!(Filter::new(bad).is_err(), "{bad:?}");
        }
        for bad in ["a.*", "a.>", "a\tb"] {
            assert!(Subject::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cluster_names_are_checked() {
        assert_eq!(
            Subjects::new("eu-1").unwrap().channel("x").as_str(),
            "relay.eu-1.ch.x"
        );
        assert!(Subjects::new("a.b").is_err());
        assert!(Subjects::new("").is_err());
        assert!(Subjects::new(">").is_err());
        assert_eq!(Subjects::default(), Subjects::new("relay").unwrap());
    }
}
