//! Where a webhook may be delivered. A URL is `https` (plain `http` only with
//! `--allow-private-webhooks`), and its host may not resolve to a private, loopback,
//! link-local, unspecified, multicast or otherwise non-public address unless that flag
//! is given: checked when an endpoint is created or changed, and again by the client's
//! resolver at every delivery, because DNS answers change.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use keyward_domain::Error;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The longest URL accepted.
pub const MAX_URL_CHARS: usize = 2000;

/// Whether an address is one the public internet routes to.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT; 198.18.0.0/15, benchmarking; 240.0.0.0/4, reserved.
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, 2001:db8::/32 documentation.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// Checks an endpoint's URL: its form, then where its host resolves now. The error names
/// the field `url`.
pub async fn check_url(text: &str, allow_private: bool) -> Result<String, Error> {
    let url = parse(text, allow_private)?;
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(found) => found.collect(),
        Err(_) => return Err(Error::invalid("url", format!("its host {host} does not resolve"))),
    };
    if addresses.is_empty() {
        return Err(Error::invalid("url", format!("its host {host} does not resolve")));
    }
    if !allow_private && let Some(private) = addresses.iter().find(|a| !is_public(a.ip())) {
        return Err(Error::invalid(
            "url",
            format!(
                "its host resolves to {}, a private, loopback, link-local or otherwise non-public address; \
                 keyward delivers only to public addresses (unless started with --allow-private-webhooks)",
                private.ip()
            ),
        ));
    }
    Ok(url.to_string())
}

/// The URL's form: absolute, `https` (or `http` when allowed), a host, no credentials.
pub fn parse(text: &str, allow_private: bool) -> Result<Url, Error> {
    let text = text.trim();
    if text.chars().count() > MAX_URL_CHARS {
        return Err(Error::invalid("url", format!("must be at most {MAX_URL_CHARS} characters")));
    }
    let url = Url::parse(text).map_err(|e| Error::invalid("url", format!("is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(Error::invalid("url", "must be https (plain http needs --allow-private-webhooks)")),
        other => return Err(Error::invalid("url", format!("must be https, not {other}"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid("url", "must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid("url", "must not carry a user name or password"));
    }
    Ok(url)
}

/// Before a delivery connects: an IP literal in the URL is checked here (the resolver
/// never sees one); a name is checked by [`CheckedResolver`].
pub fn check_literal(url: &Url, allow_private: bool) -> Result<(), String> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if allow_private || is_public(ip) { Ok(()) } else { Err(format!("refused: {ip} is not a public address")) }
}

/// The delivery client's resolver: the system's, refusing a name with any non-public
/// address unless private targets are allowed.
pub struct CheckedResolver {
    pub allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && let Some(private) = found.iter().find(|a| !is_public(a.ip())) {
                let refused = format!("refused: {host} resolves to {}, not a public address", private.ip());
                return Err(refused.into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_must_be_https_with_a_host_and_no_credentials() {
        assert!(parse("https://hooks.example.com/in", false).is_ok());
        assert!(parse("http://hooks.example.com/in", true).is_ok());
        for bad in ["http://hooks.example.com/", "ftp://x.example/", "not a url", "https://user:pw@x.example/"] {
            assert!(matches!(parse(bad, false), Err(Error::InvalidInput { ref field, .. }) if field == "url"), "{bad}");
        }
    }

    #[test]
    fn ip_literals_are_checked_before_connecting() {
        let url = Url::parse("https://127.0.0.1/x").unwrap();
        assert!(check_literal(&url, false).is_err());
        assert!(check_literal(&url, true).is_ok());
        assert!(check_literal(&Url::parse("https://[::1]/").unwrap(), false).is_err());
        assert!(check_literal(&Url::parse("https://1.1.1.1/").unwrap(), false).is_ok());
    }
}
