//! TLS on the listener: the certificate and key from PEM files, read again on demand (SIGHUP in
//! `relay serve`), and the bridge that hands a WebSocket over TLS to the channel face, which
//! works on plain TCP sockets.
//!
//! rustls with the ring provider. Every face is served on the same listener whether TLS is on
//! or not; a connection takes the configuration in force when it was accepted, so a reload
//! changes nothing for connections already open.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};

/// A certificate or key that cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading the TLS certificate {}: {error}", path.display())]
    Cert {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("the TLS certificate file {} holds no PEM certificate", .0.display())]
    NoCert(PathBuf),
    #[error("reading the TLS key {} (a PEM private key: PKCS#8, RSA or EC): {error}", path.display())]
    Key {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("the TLS key {} does not fit the certificate {}: {error}", key.display(), cert.display())]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        error: rustls::Error,
    },
}

/// The TLS configuration of a listener: the files it comes from and the configuration that new
/// connections get. Clones share it, so a reload through one is seen by all.
#[derive(Clone)]
pub struct TlsConfig {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Reads a PEM certificate chain (the server's certificate first) and a PEM private key.
    pub fn load(cert: &Path, key: &Path) -> Result<TlsConfig, TlsError> {
        let config = server_config(cert, key)?;
        Ok(TlsConfig {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: Arc::new(RwLock::new(config)),
        })
    }

    /// Reads both files again; new connections get the new configuration. On an error the one
    /// in force is kept.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
        Ok(())
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    pub fn key_path(&self) -> &Path {
        &self.key
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        tokio_rustls::TlsAcceptor::from(config)
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_err = |error| TlsError::Cert {
        path: cert.to_path_buf(),
        error,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(cert_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(cert_err)?;
    if chain.is_empty() {
        return Err(TlsError::NoCert(cert.to_path_buf()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
        path: key.to_path_buf(),
        error,
    })?;
    let mismatch = |error| TlsError::Mismatch {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        error,
    };
    // ring builds with a C compiler alone (aws-lc-rs wants more tools); rustls 0.23.48 marks it
    // deprecated for lacking post-quantum key exchange, which the clients here do not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(mismatch)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(mismatch)?;
    // Every face is HTTP/1.1 (the channel face upgrades it to WebSocket).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Whether the first byte a client sent starts a TLS handshake record; anything else (a plain
/// HTTP request starts with a method's letter) gets a plain-HTTP refusal instead.
pub(crate) fn starts_tls_handshake(first: u8) -> bool {
    first == 0x16
}

/// What a plain-HTTP request to the TLS port is told before the connection closes.
pub(crate) const PLAIN_HTTP_REFUSAL: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 49\r\nConnection: close\r\n\r\nThis port speaks HTTPS: use https:// or wss://.\r\n";

/// A plain TCP socket on this machine whose other end carries `tls` both ways, for the channel
/// face's WebSocket loop, which reads and writes TCP sockets directly (its writes happen outside
/// any task). The copy runs in its own task until either side closes.
pub(crate) async fn bridge<S>(mut tls: S) -> io::Result<TcpStream>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let near = TcpStream::connect(listener.local_addr()?).await?;
    let want = near.local_addr()?;
    // Another local process could connect in the meantime: only our own socket is taken.
    let far = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let (stream, peer) = listener.accept().await?;
            if peer == want {
                return Ok::<_, io::Error>(stream);
            }
        }
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "bridging the TLS socket"))??;
    drop(listener);
    let _ = near.set_nodelay(true);
    tokio::spawn(async move {
        let mut near = near;
        if let Err(err) = tokio::io::copy_bidirectional(&mut tls, &mut near).await {
            tracing::debug!(%err, "WebSocket over TLS ended with an error");
        }
    });
    Ok(far)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_bad_file_is_named() {
        let dir = std::env::temp_dir().join(format!("relay-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let err = TlsConfig::load(&missing, &missing).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
        let err = TlsConfig::load(&junk, &missing).unwrap_err().to_string();
        assert!(
            err.contains("junk.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_a_handshake_record_is_taken_for_tls() {
        assert!(starts_tls_handshake(0x16));
        assert!(!starts_tls_handshake(b'G'));
        let body = PLAIN_HTTP_REFUSAL
            .split(|&b| b == b'\n')
            .next_back()
            .unwrap();
        let text = std::str::from_utf8(PLAIN_HTTP_REFUSAL).unwrap();
        let (_, after) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(after.len(), 49, "Content-Length matches the body {body:?}");
    }
}
