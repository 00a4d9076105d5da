//! Socket-level probes: a TCP connect (DNS, refused, timeout told apart)
//! and a TLS handshake that reads the peer certificate's days left, with or
//! without verifying it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::check::TlsProbe;
use super::model::Outcome;
use super::probe::{Clients, find, io_reason, secs};

/// Resolves and connects, with distinct reasons for each failure.
async fn connect(host: &str, port: u16, timeout: Duration) -> Result<(TcpStream, Instant), String> {
    let started = Instant::now();
    let attempt = async {
        let addrs: Vec<_> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| format!("DNS lookup failed for {host}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("DNS lookup failed for {host}"));
        }
        let mut last = String::new();
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => {
                    last = io_reason(&e, host)
                        .unwrap_or_else(|| format!("connecting to {addr} failed: {e}"));
                }
            }
        }
        Err(last)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(stream)) => Ok((stream, started)),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err(format!(
            "timed out after {} connecting to {host}:{port}",
            secs(timeout)
        )),
    }
}

pub async fn tcp(host: &str, port: u16, timeout: Duration) -> Outcome {
    match connect(host, port, timeout).await {
        Ok((_, started)) => Outcome::up(started.elapsed().as_secs_f64() * 1000.0),
        Err(reason) => Outcome::down(reason),
    }
}

pub async fn tls(clients: &Clients, probe: &TlsProbe, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let (stream, started) = match connect(&probe.host, probe.port, timeout).await {
        Ok(s) => s,
        Err(reason) => return Outcome::down(reason),
    };
    let config = if probe.verify {
        clients.tls_verified.clone()
    } else {
        clients.tls_unverified.clone()
    };
    let Ok(name) = rustls_pki_types::ServerName::try_from(probe.host.clone()) else {
        return Outcome::down(format!("{} is not a valid TLS server name", probe.host));
    };
    let connector = tokio_rustls::TlsConnector::from(config);
    let handshake = tokio::time::timeout_at(deadline.into(), connector.connect(name, stream)).await;
    let stream = match handshake {
        Err(_) => {
            return Outcome::down(format!(
                "timed out after {} in the TLS handshake",
                secs(timeout)
            ));
        }
        Ok(Err(e)) => {
            let detail = find::<rustls::Error>(&e).map_or_else(|| e.to_string(), |t| t.to_string());
            return Outcome::down(format!("TLS error: {detail}"));
        }
        Ok(Ok(s)) => s,
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let days = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| days_left(cert.as_ref()));
    let Some(days) = days else {
        return Outcome::down("the server sent no certificate that could be read");
    };
    let mut outcome = judge_tls(probe, days);
    outcome.latency_ms = Some(latency_ms);
    outcome.cert_days = Some(days);
    outcome
}

/// Days left on a certificate against the check's thresholds (pure).
pub fn judge_tls(probe: &TlsProbe, days: i64) -> Outcome {
    if days < 0 {
        return Outcome::down("the certificate has expired");
    }
    if days <= i64::from(probe.critical_days) {
        return Outcome::down(format!(
            "the certificate expires in {days} days (critical at {})",
            probe.critical_days
        ));
    }
    if days <= i64::from(probe.warn_days) {
        return Outcome::degraded(
            None,
            format!(
                "the certificate expires in {days} days (warning at {})",
                probe.warn_days
            ),
        );
    }
    Outcome::up(0.0)
}

/// Whole days until a DER certificate's `notAfter` (negative once expired).
pub fn days_left(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    let now = crate::clock::now_ms() / 1000;
    Some((not_after - now).div_euclid(86_400))
}

/// Accepts any certificate (checks with `verify_tls = false`), still
/// checking the handshake signatures so the days left are real.
#[derive(Debug)]
pub struct AcceptAny(pub Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::model::State;

    #[test]
    fn certificate_days_map_to_warning_and_critical() {
        let t = TlsProbe {
            host: "h".into(),
            port: 443,
            warn_days: 14,
            critical_days: 3,
            verify: true,
        };
        assert_eq!(judge_tls(&t, 30).status, State::Up);
        assert_eq!(judge_tls(&t, 10).status, State::Degraded);
        assert_eq!(judge_tls(&t, 2).status, State::Down);
        assert_eq!(
            judge_tls(&t, -1).reason.as_deref(),
            Some("the certificate has expired")
        );
    }
}
