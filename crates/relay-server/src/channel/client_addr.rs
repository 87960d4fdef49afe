//! Which address a request comes from, for the sign-in throttle. Behind a reverse proxy every
//! request arrives from the proxy, so that all clients would share one throttle record and one
//! attacker could delay everyone. For peers the operator names as trusted proxies the
//! `X-Forwarded-For` chain is believed, read from the right and only up to the first address
//! that is not itself a trusted proxy: what a client writes into the header on its own stands
//! to the left of what the proxies appended, so it can never choose the address it is counted
//! under. A peer that is not trusted is taken as it is, whatever it sends.

use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;
use ipnet::IpNet;

/// An address or network given as a trusted proxy did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address or a network such as 10.0.0.0/8 or fd00::/8")]
pub struct BadProxy(String);

/// One trusted proxy: an address (`10.0.0.5`, `::1`) or a network (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

impl FromStr for TrustedProxy {
    type Err = BadProxy;

    fn from_str(s: &str) -> Result<Self, BadProxy> {
        let s = s.trim();
        s.parse::<IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map(TrustedProxy)
            .map_err(|_| BadProxy(s.to_owned()))
    }
}

/// The peers whose `X-Forwarded-For` is believed (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<TrustedProxy>);

impl TrustedProxies {
    pub fn new(proxies: Vec<TrustedProxy>) -> Self {
        Self(proxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|p| p.0.contains(&ip))
    }

    /// The client's address: `peer` itself unless it is a trusted proxy, else the right-most
    /// address of the forwarded chain that is not a trusted proxy. A chain entry that does not
    /// parse ends the walk at the last address known good, since whatever stands left of it
    /// cannot be told apart from what a client made up.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let chain: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for entry in chain.iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                break;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), as some proxies write it.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    if let Ok(ip) = e.parse() {
        return Some(ip);
    }
    if let Some(rest) = e.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    e.rsplit_once(':')
        .and_then(|(ip, port)| port.parse::<u16>().ok().and(ip.parse().ok()))
}

/// An IPv4 client reached over an IPv6 socket (`::ffff:a.b.c.d`) counts as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|p| p.parse().unwrap()).collect())
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_taken_as_it_is() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = forwarded(&["203.0.113.5"]);
        assert_eq!(p.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_trusted_peer_gives_the_right_most_untrusted_address() {
        let p = proxies(&["10.0.0.0/8", "127.0.0.1"]);
        // The client wrote 1.1.1.1 itself; the outer proxy saw it come from 203.0.113.5; an
        // inner proxy 10.1.2.3 forwarded to us.
        let h = forwarded(&["1.1.1.1, 203.0.113.5", "10.1.2.3"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("203.0.113.5"));
        assert_eq!(
            p.client(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn an_entry_that_does_not_parse_ends_the_walk() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let h = forwarded(&["203.0.113.9, unknown, 10.0.0.7"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("10.0.0.7"));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses() {
        let p = proxies(&["::1", "127.0.0.1"]);
        let h = forwarded(&["203.0.113.5:41000"]);
        assert_eq!(p.client(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.5"));
        let h = forwarded(&["[2001:db8::7]:443"]);
        assert_eq!(p.client(ip("::1"), &h), ip("2001:db8::7"));
    }

    #[test]
    fn bad_proxies_are_named() {
        assert_eq!(
            "10.0.0/8".parse::<TrustedProxy>(),
            Err(BadProxy("10.0.0/8".into()))
        );
        assert!("fd00::/8".parse::<TrustedProxy>().is_ok());
    }
}
