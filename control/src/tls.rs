//! TLS for the node's second listener (`wss.port`): `wss://` signalling and `https://` pages,
//! balancer and status, as WCS serves them on 8443 — browsers allow the camera only on secure
//! pages, and a secure page may only open `wss://`.
//!
//! Owns the certificate (the operator's PEM chain and key, or a self-signed one generated once
//! and kept in the configuration directory or `tls_self_signed_dir`, for development;
//! [`CertResolver::reload`] reads the same files again on SIGHUP, so that new handshakes get the
//! new certificate while open connections keep theirs) and the accepting side: TCP connections
//! are handshaken concurrently, each within a deadline, and only finished TLS streams reach the
//! HTTP server ([`TlsListener`]). Routing stays `crate::http`'s.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;

/// A TLS handshake must finish within this (a client that stalls holds no slot longer).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;
/// Finished connections waiting for the HTTP server to take them.
const READY_QUEUE: usize = 64;
/// Where a generated certificate is kept, inside the configuration directory, unless
/// `tls_self_signed_dir` says otherwise.
const SELF_SIGNED_DIR: &str = "tls";

/// Why TLS could not be set up (the node does not start: the file and key are named).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate in it (tls_certificate)")]
    NoCertificate { path: PathBuf },
    #[error("{path}: no PEM private key in it (tls_private_key)")]
    NoKey { path: PathBuf },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write the self-signed certificate to {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The TLS side of the node: the rustls configuration and where its certificate came from.
#[derive(Clone)]
pub struct Tls {
    pub server: Arc<ServerConfig>,
    /// The certificate `server` presents, reloadable.
    pub resolver: Arc<CertResolver>,
    /// The certificate chain's file (the generated one's, for a test or a browser to trust).
    pub certificate: PathBuf,
    /// SHA-256 of the leaf certificate, `AB:CD:…`.
    pub fingerprint: String,
    /// Whether it was generated here (self-signed, development only).
    pub self_signed: bool,
}

/// The node's TLS configuration: `tls_certificate`/`tls_private_key` when set, otherwise a
/// self-signed certificate for `cfg.ip` and `localhost`, generated at the first start and
/// reused after (in `tls_self_signed_dir`, else `<config dir>/tls/`, or the system's temporary
/// directory without one).
pub fn load(cfg: &Config) -> Result<Tls, TlsError> {
    let (cert_path, key_path, self_signed) = match (&cfg.tls_certificate, &cfg.tls_private_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone(), false),
        _ => {
            let dir = match (&cfg.tls_self_signed_dir, &cfg.config_dir) {
                (Some(d), _) => d.clone(),
                (None, Some(d)) => d.join(SELF_SIGNED_DIR),
                (None, None) => std::env::temp_dir().join(format!("rtcdn-{SELF_SIGNED_DIR}")),
            };
            let (c, k) = self_signed_files(&dir, &cfg.ip.to_string())?;
            (c, k, true)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let loaded = certified_key(&cert_path, &key_path, &provider)?;
    let fingerprint = loaded.fingerprint.clone();
    let resolver = Arc::new(CertResolver {
        current: RwLock::new(loaded),
        certificate: cert_path.clone(),
        key: key_path,
        provider: provider.clone(),
    });
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        server: Arc::new(server),
        resolver,
        certificate: cert_path,
        fingerprint,
        self_signed,
    })
}

/// A certificate chain with its key, ready for handshakes, and the leaf's fingerprint.
#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    fingerprint: String,
}

/// Reads a PEM chain and its PEM key; the key must match the leaf certificate.
fn certified_key(
    cert_path: &Path,
    key_path: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<Loaded, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let chain_pem = read(cert_path)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
        .filter_map(Result::ok)
        .collect();
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
        });
    };
    let fingerprint = fingerprint(leaf);
    let key_pem = read(key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey {
        path: key_path.to_path_buf(),
    })?;
    let key = CertifiedKey::from_der(chain, key, provider)?;
    Ok(Loaded {
        key: Arc::new(key),
        fingerprint,
    })
}

/// The certificate the TLS listener presents. New handshakes take the current one, so a
/// [`CertResolver::reload`] changes what new connections see while open ones keep theirs.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Loaded>,
    /// The files it is read from (the same on every reload).
    certificate: PathBuf,
    key: PathBuf,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

/// What a successful [`CertResolver::reload`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertReload {
    /// The fingerprint before.
    pub previous: String,
    /// The fingerprint now (equal to `previous` when the files did not change).
    pub current: String,
}

impl CertResolver {
    /// SHA-256 of the leaf certificate presented now, `AB:CD:…`.
    pub fn fingerprint(&self) -> String {
        self.read().fingerprint.clone()
    }

    /// The certificate chain's file.
    pub fn certificate(&self) -> &Path {
        &self.certificate
    }

    /// Reads the certificate and key files again. On success new handshakes present the new
    /// certificate; on error (unreadable, not PEM, key not matching) the current one stays.
    pub fn reload(&self) -> Result<CertReload, TlsError> {
        let loaded = certified_key(&self.certificate, &self.key, &self.provider)?;
        let current = loaded.fingerprint.clone();
        let mut slot = self.current.write().unwrap_or_else(|e| e.into_inner());
        let previous = std::mem::replace(&mut *slot, loaded).fingerprint;
        Ok(CertReload { previous, current })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        // A panic while holding the lock cannot leave `Loaded` half-written: use it anyway.
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.read().key.clone())
    }
}

/// The client side of an origin's relay legs over `wss://` (`cdn_relay_tls`): edges'
/// certificates are verified against `cdn_relay_ca_file` when set, else the system's roots.
/// `None` when relay legs use plain `ws://`.
pub fn relay_client(cfg: &Config) -> Result<Option<Arc<rustls::ClientConfig>>, TlsError> {
    if !cfg.cdn_relay_tls {
        return Ok(None);
    }
    client_config(cfg.cdn_relay_ca_file.as_deref(), "relay legs").map(Some)
}

/// A TLS client that verifies servers against the CA certificates in `ca_file` when given,
/// else the system's roots; `purpose` names the user in the log.
pub fn client_config(
    ca_file: Option<&Path>,
    purpose: &str,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            for cert in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
                roots.add(cert)?;
            }
            if roots.is_empty() {
                return Err(TlsError::NoCertificate {
                    path: path.to_path_buf(),
                });
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for e in &native.errors {
                tracing::warn!(error = %e, "a system root certificate could not be read");
            }
            let (added, _) = roots.add_parsable_certificates(native.certs);
            tracing::info!(
                roots = added,
                "{purpose} verify servers against the system's roots"
            );
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(client))
}

/// The self-signed certificate and key files in `dir`, generated for `ip` and `localhost`
/// when missing.
fn self_signed_files(dir: &Path, ip: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join("self-signed.crt");
    let key = dir.join("self-signed.key");
    if cert.is_file() && key.is_file() {
        return Ok((cert, key));
    }
    let names = vec![ip.to_owned(), "localhost".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names)?;
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|source| TlsError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write(&key, generated.signing_key.serialize_pem())?;
    restrict(&key);
    write(&cert, generated.cert.pem())?;
    Ok((cert, key))
}

/// Makes a private key file readable by its owner only.
fn restrict(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(path = %path.display(), error = %e, "cannot restrict the key file");
        }
    }
}

/// SHA-256 of a DER certificate as `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A listener of finished TLS connections for `axum::serve`: a task accepts TCP connections
/// and handshakes them concurrently (at most `MAX_HANDSHAKES`, each within
/// `HANDSHAKE_TIMEOUT`); a failed or slow handshake is logged and dropped, never blocking
/// the others.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    certificates: Option<Arc<CertResolver>>,
}

impl TlsListener {
    /// Starts accepting on `tcp` with `server` (must run inside a tokio runtime).
    pub fn new(tcp: TcpListener, server: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(server), tx));
        Ok(Self {
            ready,
            local,
            certificates: None,
        })
    }

    /// Remembers the resolver `server` presents certificates with, for SIGHUP to reload.
    #[must_use]
    pub fn reloadable(mut self, certificates: Arc<CertResolver>) -> Self {
        self.certificates = Some(certificates);
        self
    }

    /// The certificate resolver to reload, when known.
    pub fn certificates(&self) -> Option<Arc<CertResolver>> {
        self.certificates.clone()
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "TLS accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let (acceptor, to_server) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = to_server.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
        if ready.is_closed() {
            return;
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task is gone (it never returns while we listen): wait forever.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The client address of a TLS connection (what `ConnectInfo<SocketAddr>` is on the plain
/// listener).
#[derive(Clone, Copy, Debug)]
pub struct TlsPeer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for TlsPeer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// Middleware of the TLS routes: gives handlers the client address as
/// `ConnectInfo<SocketAddr>`, as on the plain listener.
pub async fn peer_address(
    axum::extract::ConnectInfo(TlsPeer(addr)): axum::extract::ConnectInfo<TlsPeer>,
    mut request: axum::extract::Request,
) -> axum::extract::Request {
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_is_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("rtcdn-tls-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = Config {
            config_dir: Some(dir.clone()),
            ..Config::default()
        };
        let first = load(&cfg).unwrap();
        assert!(first.self_signed);
        assert_eq!(first.certificate, dir.join("tls/self-signed.crt"));
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let again = load(&cfg).unwrap();
        assert_eq!(
            again.fingerprint, first.fingerprint,
            "the same certificate next start"
        );
        // The operator's own files, named by the keys.
        let own = Config {
            tls_certificate: Some(dir.join("tls/self-signed.crt")),
            tls_private_key: Some(dir.join("tls/self-signed.key")),
            ..Config::default()
        };
        let loaded = load(&own).unwrap();
        assert!(!loaded.self_signed);
        assert_eq!(loaded.fingerprint, first.fingerprint);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tls_self_signed_dir_moves_the_generated_certificate_out_of_the_config_dir() {
        let base = std::env::temp_dir().join(format!("rtcdn-tls-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (config_dir, state) = (base.join("etc"), base.join("var/lib/rtcdn/tls"));
        std::fs::create_dir_all(&config_dir).unwrap();
        let cfg = Config {
            config_dir: Some(config_dir.clone()),
            tls_self_signed_dir: Some(state.clone()),
            ..Config::default()
        };
        let tls = load(&cfg).unwrap();
        assert!(tls.self_signed);
        assert_eq!(tls.certificate, state.join("self-signed.crt"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = std::fs::metadata(state.join("self-signed.key")).unwrap();
            assert_eq!(key.permissions().mode() & 0o777, 0o600);
        }
        assert!(
            !config_dir.join(SELF_SIGNED_DIR).exists(),
            "nothing is written to the configuration directory"
        );
        assert_eq!(load(&cfg).unwrap().fingerprint, tls.fingerprint);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn unreadable_or_empty_files_are_named_in_the_error() {
        let dir = std::env::temp_dir().join(format!("rtcdn-tls-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let cfg = |cert: &Path, key: &Path| Config {
            tls_certificate: Some(cert.to_path_buf()),
            tls_private_key: Some(key.to_path_buf()),
            ..Config::default()
        };
        let missing = dir.join("missing.pem");
        let e = load(&cfg(&missing, &empty)).err().unwrap();
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let e = load(&cfg(&empty, &empty)).err().unwrap();
        assert!(matches!(e, TlsError::NoCertificate { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reload_swaps_the_certificate_and_keeps_it_on_bad_files() {
        let dir = std::env::temp_dir().join(format!("rtcdn-tls-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("node.crt"), dir.join("node.key"));
        let write = |names: &[&str]| {
            let generated = rcgen::generate_simple_self_signed(
                names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            )
            .unwrap();
            std::fs::write(&cert, generated.cert.pem()).unwrap();
            std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
            fingerprint(generated.cert.der())
        };
        let first = write(&["first.example"]);
        let tls = load(&Config {
            tls_certificate: Some(cert.clone()),
            tls_private_key: Some(key.clone()),
            ..Config::default()
        })
        .unwrap();
        let resolver = tls.resolver.clone();
        assert_eq!(resolver.fingerprint(), first);
        let presented = |r: &CertResolver| fingerprint(r.read().key.cert[0].as_ref());
        assert_eq!(presented(&resolver), first);

        let second = write(&["second.example"]);
        let change = resolver.reload().unwrap();
        assert_eq!(
            (change.previous.as_str(), change.current.as_str()),
            (first.as_str(), second.as_str())
        );
        assert_eq!(
            presented(&resolver),
            second,
            "new handshakes get the new one"
        );

        // A key that does not match the certificate, then garbage: the second one stays.
        let other = rcgen::generate_simple_self_signed(vec!["x.example".to_string()]).unwrap();
        std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
        let e = resolver.reload().unwrap_err();
        assert!(matches!(e, TlsError::Rustls(_)), "{e}");
        std::fs::write(&cert, "garbage\n").unwrap();
        let e = resolver.reload().unwrap_err();
        assert!(e.to_string().contains("node.crt"), "{e}");
        assert_eq!(presented(&resolver), second);
        assert_eq!(resolver.fingerprint(), second);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
