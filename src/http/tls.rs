//! HTTPS with rustls (ring provider): loading a PEM certificate chain and key
//! into a server configuration. Only TLS 1.2 and 1.3 with rustls' safe defaults.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub fn load_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificate file {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "{} holds no PEM certificate; give the full chain, leaf first",
            path.display()
        );
    }
    Ok(certs)
}

pub fn load_private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).with_context(|| {
        format!(
            "{} is not a readable PEM private key (PKCS#8, PKCS#1 or SEC1)",
            path.display()
        )
    })
}

pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(load_certificates(cert)?, load_private_key(key)?)
        .context("the TLS certificate and key do not form a valid pair")?;
    Ok(config)
}
