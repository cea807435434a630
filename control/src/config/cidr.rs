//! [`IpNet`]: an address range written as an address (`10.0.0.7`, `::1`) or in CIDR notation
//! (`10.0.0.0/8`, `fd00::/8`), for `rest_api_allowed_ips`. A leaf of the config module.

use std::net::IpAddr;

/// An address or a range of addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `addr` or `addr/prefix` (prefix up to 32 for IPv4, 128 for IPv6); the address
    /// is masked to its prefix. `None` for anything else.
    pub fn parse(text: &str) -> Option<IpNet> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // Digits only: `u8::from_str` would also take `+8`.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        if prefix > max {
            return None;
        }
        Some(IpNet {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// Whether `ip` is in the range. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a
    /// dual-stack socket reports an IPv4 client) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `addr` with every bit after the first `prefix` cleared.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & bits).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & bits).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn single_addresses_and_ranges() {
        let one = IpNet::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        assert!(one.contains(ip("::ffff:127.0.0.1")), "IPv4-mapped");
        let lan = IpNet::parse("10.1.2.3/8").unwrap();
        assert_eq!(lan.to_string(), "10.0.0.0/8");
        assert!(lan.contains(ip("10.255.0.9")));
        assert!(!lan.contains(ip("11.0.0.1")));
        let any4 = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(any4.contains(ip("203.0.113.5")));
        assert!(!any4.contains(ip("2001:db8::1")), "families never mix");
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12:3456::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!(IpNet::parse("::1").unwrap().contains(ip("::1")));
        assert!(IpNet::parse("::/0").unwrap().contains(ip("2001:db8::1")));
    }

    #[test]
    fn rejects_what_is_not_a_range() {
        for bad in [
            "",
            "localhost",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0/8",
            "10.0.0.0/8/8",
            " 10.0.0.1",
        ] {
            assert_eq!(IpNet::parse(bad), None, "{bad:?}");
        }
    }
}
