//! Who may see what (SPEC §6.3): probes and metrics are open; `/status` and the page are
//! open on a loopback address and need the bearer token anywhere else.

use std::net::SocketAddr;

use super::config::Token;

/// The answer of the access rule for a protected route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Serve the route.
    Allow,
    /// `401`: a token is set and the request does not carry it.
    Unauthorized,
    /// `403`: a non-loopback address and no token to protect it with.
    Forbidden,
}

/// The body of the `403`, word for word from SPEC §6.3.
pub(crate) const FORBIDDEN: &str =
    r#"{"error":"set OPS_TOKEN to serve /status on a non-loopback address"}"#;
/// The body of the `401`.
pub(crate) const UNAUTHORIZED: &str =
    r#"{"error":"this route needs the header Authorization: Bearer <OPS_TOKEN>"}"#;

/// The rule for one endpoint, fixed when it binds.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    loopback: bool,
    token: Option<Token>,
}

impl Access {
    /// The rule for an endpoint bound to `addr` (`::ffff:127.0.0.1` counts as loopback).
    pub(crate) fn new(addr: SocketAddr, token: Option<Token>) -> Self {
        Self {
            loopback: addr.ip().to_canonical().is_loopback(),
            token,
        }
    }

    /// Whether a request with this `Authorization` header may see `/status` and `/`.
    pub(crate) fn protected(&self, authorization: Option<&[u8]>) -> Verdict {
        if self.loopback {
            return Verdict::Allow;
        }
        let Some(token) = &self.token else {
            return Verdict::Forbidden;
        };
        match authorization.and_then(bearer) {
            Some(candidate) if token.matches(candidate) => Verdict::Allow,
            _ => Verdict::Unauthorized,
        }
    }
}

/// The credentials of `Bearer <token>` (the scheme in any case, RFC 7235).
pub(crate) fn bearer(header: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = header.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef";

    fn access(addr: &str, token: Option<&str>) -> Access {
        Access::new(addr.parse().unwrap(), token.map(Token::new))
    }

    #[test]
    fn loopback_addresses_are_open_with_or_without_a_token() {
        for addr in [
            "127.0.0.1:9090",
            "127.0.0.2:9090",
            "[::1]:9090",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert_eq!(access(addr, None).protected(None), Verdict::Allow, "{addr}");
            assert_eq!(
                access(addr, Some(TOKEN)).protected(None),
                Verdict::Allow,
                "{addr}"
            );
        }
    }

    #[test]
    fn other_addresses_without_a_token_are_forbidden() {
        for addr in [
            "0.0.0.0:9090",
            "[::]:9090",
            "10.1.2.3:9090",
            "[2001:db8::1]:80",
        ] {
            let rule = access(addr, None);
            assert_eq!(rule.protected(None), Verdict::Forbidden, "{addr}");
            let header = format!("Bearer {TOKEN}");
            assert_eq!(rule.protected(Some(header.as_bytes())), Verdict::Forbidden);
        }
    }

    #[test]
    fn other_addresses_with_a_token_need_the_bearer() {
        let rule = access("0.0.0.0:9090", Some(TOKEN));
        assert_eq!(rule.protected(None), Verdict::Unauthorized);
        for wrong in [
            "",
            "Bearer",
            "Bearer ",
            "Basic 0123456789abcdef",
            "Bearer 0123456789abcdeX",
        ] {
            assert_eq!(
                rule.protected(Some(wrong.as_bytes())),
                Verdict::Unauthorized,
                "{wrong}"
            );
        }
        for right in [
            "Bearer 0123456789abcdef",
            "bearer 0123456789abcdef",
            "BEARER  0123456789abcdef ",
        ] {
            assert_eq!(
                rule.protected(Some(right.as_bytes())),
                Verdict::Allow,
                "{right}"
            );
        }
    }
}
