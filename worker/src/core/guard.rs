//! Outbound safety: a webhook URL must not reach into the network the server runs in (cloud
//! metadata at 169.254.169.254, databases on 10/8, the server itself on 127.0.0.1).
//!
//! The check runs on the addresses actually connected to, not on the URL: [`GuardedResolver`] is
//! reqwest's DNS resolver, so the addresses it returns, already filtered, are the only ones the
//! connector can use. Checking a name and then letting the client resolve it again would leave a
//! DNS-rebinding gap (a first answer public, the second private); here there is no second answer.
//! IP-literal URLs never reach a resolver, so [`Guard::check_url`] checks them before sending; the
//! webhook API calls the same function to refuse such a URL when it is saved.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::WorkerConfig;

/// Why an address is not public; `None` for a public address.
pub fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [0, ..] => "an unspecified (0.0.0.0/8) address",
        [127, ..] => "a loopback address",
        [10, ..] | [192, 168, ..] => "a private address",
        [172, b, ..] if (16..32).contains(&b) => "a private address",
        [100, b, ..] if (64..128).contains(&b) => "a carrier-grade NAT (100.64.0.0/10) address",
        [169, 254, ..] => "a link-local address",
        [192, 0, 0, _] => "an IETF protocol (192.0.0.0/24) address",
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => "a documentation address",
        [198, 18 | 19, ..] => "a benchmarking (198.18.0.0/15) address",
        [255, 255, 255, 255] => "the broadcast address",
        [224..=239, ..] => "a multicast address",
        [240..=255, ..] => "a reserved (240.0.0.0/4) address",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address in IPv6 clothing reaches the IPv4 host: judge the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 destination too.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_kind(Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32));
    }
    if s[0] == 0x2002 {
        return v4_kind(Ipv4Addr::from(((s[1] as u32) << 16) | s[2] as u32));
    }
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "an unspecified address",
        [0, 0, 0, 0, 0, 0, 0, 1] => "a loopback address",
        // Deprecated IPv4-compatible form ::a.b.c.d.
        [0, 0, 0, 0, 0, 0, _, _] => "an IPv4-compatible (::/96) address",
        // The next three reach whatever a translator or relay in between decides, by an IPv4
        // address we cannot judge from here (SIIT's ::ffff:0:a.b.c.d is only meaningful inside
        // the translating network, a local-use NAT64 prefix is the operator's own, and a Teredo
        // address hides its IPv4 ends), so none of them counts as public.
        [0, 0, 0, 0, 0xffff, 0, _, _] => "an IPv4-translated (SIIT, ::ffff:0:0:0/96) address",
        [0x64, 0xff9b, 1, ..] => "a local-use NAT64 (64:ff9b:1::/48) address",
        [0x2001, 0, ..] => "a Teredo (2001::/32) address",
        [0x2001, 2, 0, ..] => "a benchmarking (2001:2::/48) address",
        [0x100, 0, 0, 0, ..] => "a discard-only (100::/64) address",
        [0x2001, 0xdb8, ..] => "a documentation address",
        [0x3fff, b, ..] if b < 0x1000 => "a documentation (3fff::/20) address",
        [a, ..] if a & 0xfe00 == 0xfc00 => "a unique local (fc00::/7) address",
        [a, ..] if a & 0xffc0 == 0xfe80 => "a link-local address",
        [a, ..] if a & 0xffc0 == 0xfec0 => "a site-local address",
        [a, ..] if a & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    })
}

/// Why a destination was refused; its `Display` is the sentence stored in `statusInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardError {
    /// Every address of the destination is non-public and not allowed.
    Blocked { what: String },
    /// The host name has no addresses at all.
    NotFound { host: String },
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::Blocked { what } => write!(
                f,
                "Blocked: {what}; set ALLOW_LOCAL_NETWORK=true or add it to ALLOWED_CIDRS to allow it."
            ),
            GuardError::NotFound { host } => write!(f, "Could not resolve host \"{host}\"."),
        }
    }
}

impl std::error::Error for GuardError {}

/// Which non-public destinations are allowed anyway.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    pub allow_local_network: bool,
    pub allowed_cidrs: Vec<IpNet>,
}

impl Guard {
    /// The guard a dispatcher and the webhook API both apply: one rule, one message.
    pub fn from_config(config: &WorkerConfig) -> Self {
        Self {
            allow_local_network: config.allow_local_network,
            allowed_cidrs: config.allowed_cidrs.clone(),
        }
    }

    /// `None` if `ip` may be connected to, else why not (e.g. "a private address").
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow_local_network {
            return None;
        }
        let ip = canonical(ip);
        let kind = non_public_kind(ip)?;
        if self.allowed_cidrs.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        Some(kind)
    }

    /// Checks an IP-literal host before sending (a host name is checked by the resolver).
    pub fn check_url(&self, url: &url::Url) -> Result<(), GuardError> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        match self.refusal(ip) {
            None => Ok(()),
            Some(kind) => Err(GuardError::Blocked {
                what: format!("{ip} is {kind}"),
            }),
        }
    }

    /// Keeps the allowed addresses of `host`; an error if none remains, naming the first refusal.
    pub fn filter(
        &self,
        host: &str,
        addrs: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, GuardError> {
        if addrs.is_empty() {
            return Err(GuardError::NotFound {
                host: host.to_owned(),
            });
        }
        let mut first_refusal = None;
        let allowed: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match self.refusal(a.ip()) {
                None => true,
                Some(kind) => {
                    first_refusal.get_or_insert((a.ip(), kind));
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), first_refusal) {
            (true, Some((ip, kind))) => Err(GuardError::Blocked {
                what: format!("{host} resolves to {ip}, which is {kind}"),
            }),
            _ => Ok(allowed),
        }
    }
}

/// IPv4-mapped IPv6 addresses are matched against IPv4 allow-list entries as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// reqwest's resolver: tokio's resolver (getaddrinfo on the blocking pool, like hyper's default)
/// followed by [`Guard::filter`].
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: Arc<Guard>,
}

impl GuardedResolver {
    pub fn new(guard: Arc<Guard>) -> Self {
        Self { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // The port is replaced by the connector with the URL's; a lookup failure and an empty
            // answer both mean "no such host" to the user.
            let addrs = match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(it) => it.collect(),
                Err(_) => Vec::new(),
            };
            let allowed = guard.filter(&host, addrs)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn classifies_the_usual_suspects() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "::ffff:0:7f00:1",
            "::ffff:0:808:808",
            "64:ff9b:1::808:808",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "3fff::1",
        ] {
            assert!(non_public_kind(ip(s)).is_some(), "{s} should not be public");
        }
        for s in [
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
            "2001:4860::8888",
            "3fff:1000::1",
        ] {
            assert_eq!(non_public_kind(ip(s)), None, "{s} should be public");
        }
    }

    #[test]
    fn allow_list_and_switch_override() {
        let mut g = Guard::default();
        assert_eq!(g.refusal(ip("10.0.0.5")), Some("a private address"));
        g.allowed_cidrs = vec!["10.0.0.0/24".parse().unwrap_or_else(|_| IpNet::default())];
        assert_eq!(g.refusal(ip("10.0.0.5")), None);
        assert_eq!(g.refusal(ip("::ffff:10.0.0.5")), None);
        assert!(g.refusal(ip("10.0.1.5")).is_some());
        let open = Guard {
            allow_local_network: true,
            allowed_cidrs: vec![],
        };
        assert_eq!(open.refusal(ip("127.0.0.1")), None);
    }

    #[test]
    fn filter_keeps_public_addresses_and_explains_refusal() {
        let g = Guard::default();
        let mixed = vec![
            SocketAddr::new(ip("10.0.0.1"), 0),
            SocketAddr::new(ip("1.1.1.1"), 0),
        ];
        assert_eq!(g.filter("h", mixed).map(|v| v.len()), Ok(1));
        let private = vec![SocketAddr::new(ip("127.0.0.1"), 0)];
        let err = g.filter("localhost", private).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("Blocked: localhost resolves to 127.0.0.1, which is a loopback address; set ALLOW_LOCAL_NETWORK=true or add it to ALLOWED_CIDRS to allow it.")
        );
    }
}
