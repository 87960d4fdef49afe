//! The web page for people in channels, embedded in the binary.
//!
//! The page is plain ES modules plus one vendored UI library (htm 3.1.1 with Preact 10, see
//! `assets/vendor/LICENSE.txt`); nothing is built by Node and nothing is fetched at run time.
//! [`asset`] looks a file up by its path under the page's root (`""` or `"index.html"` is the
//! page itself). Each file carries a strong ETag (a hash of its bytes) and, when compressing
//! pays, a gzip copy; both are computed once, on the first lookup.

#![warn(missing_docs)]

use std::io::Write;
use std::sync::LazyLock;

use sha1::{Digest, Sha1};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its path under the page's root, e.g. `app.js`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
    /// A gzip copy, when that is smaller by more than a tenth.
    pub gzip: Option<Vec<u8>>,
    /// A strong ETag, quoted: a hash of `body`.
    pub etag: String,
}

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../assets/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "proto.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/proto.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/style.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../assets/icon.svg"),
    ),
    (
        "vendor/preact-htm.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/preact-htm.js"),
    ),
    (
        "vendor/LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/vendor/LICENSE.txt"),
    ),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(path, content_type, body)| {
            let hash = Sha1::digest(body);
            let hex: String = hash.iter().take(10).map(|b| format!("{b:02x}")).collect();
            Asset {
                path,
                content_type,
                body,
                gzip: gzip(body),
                etag: format!("\"{hex}\""),
            }
        })
        .collect()
});

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(body).ok()?;
    let out = enc.finish().ok()?;
    (out.len() < body.len() - body.len() / 10).then_some(out)
}

/// The file at `path` (relative to the page's root, no leading slash); `""` is `index.html`.
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path.is_empty() { "index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

/// Every embedded file.
pub fn all() -> &'static [Asset] {
    &ASSETS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_etags() {
        let index = asset("").unwrap();
        assert_eq!(index.path, "index.html");
        assert!(index.content_type.starts_with("text/html"));
        assert!(asset("nope.js").is_none());
        assert!(asset("../Cargo.toml").is_none());
        let js = asset("vendor/preact-htm.js").unwrap();
        assert!(js.gzip.as_ref().unwrap().len() < js.body.len());
        let tags: std::collections::HashSet<_> = all().iter().map(|a| &a.etag).collect();
        assert_eq!(tags.len(), all().len());
    }
}
