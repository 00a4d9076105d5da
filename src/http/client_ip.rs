//! Which address a request really comes from. The socket peer, unless that peer
//! is a configured trusted proxy: then the right-most address in
//! `X-Forwarded-For` (or `Forwarded: for=`) that is not itself a trusted proxy.
//! Headers from anyone else are ignored, so a client cannot choose its own IP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The resolved client address, stored in request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub fn resolve(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| canonical(p.ip()));
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut chain = forwarded_for(headers);
    if chain.is_empty() {
        chain = forwarded(headers);
    }
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(**ip, trusted))
        .or_else(|| chain.first())
        .copied()
        .unwrap_or(peer)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_node)
        .collect()
}

/// RFC 7239: `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"`.
fn forwarded(headers: &HeaderMap) -> Vec<IpAddr> {
    headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(value))
                    .flatten()
            })
        })
        .collect()
}

/// An address as proxies write it: bare, quoted, bracketed, with or without a port.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    let inner = text.strip_prefix('[')?.split(']').next()?;
    inner.parse().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_cannot_choose_their_address() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        let peer = Some("198.51.100.7:5000".parse().unwrap());
        assert_eq!(resolve(peer, &h, &[]), ip("198.51.100.7"));
        assert_eq!(
            resolve(peer, &h, &["10.0.0.0/8".parse().unwrap()]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn trusted_proxies_pass_on_the_rightmost_untrusted_address() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = Some("10.0.0.2:5000".parse().unwrap());
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(resolve(peer, &h, &trusted), ip("203.0.113.9"));
        let h = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(resolve(peer, &h, &trusted), ip("2001:db8::1"));
        let h = headers(&[("x-forwarded-for", "garbage")]);
        assert_eq!(resolve(peer, &h, &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let peer = Some("[::ffff:127.0.0.1]:80".parse().unwrap());
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(resolve(peer, &h, &trusted), ip("203.0.113.9"));
    }
}
