//! Tokens, who is asking, and from which address.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::ConnectInfo;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum_extra::extract::CookieJar;
use ipnet::IpNet;
use lectern_app::passwords::token_hash;
use lectern_app::Actor;
use lectern_store::{Role, Session, SessionKind, User};
use std::net::{IpAddr, SocketAddr};
use subtle::ConstantTimeEq;

/// The name of the web pages' session cookie.
pub const SESSION_COOKIE: &str = "lectern_session";
/// The header a page's script sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer …`: a script, which a browser never sends on
    /// its own, so no CSRF check is needed.
    Bearer,
    /// The HttpOnly session cookie, which the browser attaches to any
    /// request: changes need the session's CSRF token as well.
    Cookie,
}

/// The signed-in caller, from a Bearer token or the session cookie.
#[derive(Debug, Clone)]
pub struct Caller {
    pub session: Session,
    pub token_hash: String,
    pub via: Credential,
}

impl Caller {
    pub fn user(&self) -> &User {
        &self.session.user
    }

    pub fn is_admin(&self) -> bool {
        self.user().role == Role::Admin
    }

    /// The caller as the use cases and their events name them.
    pub fn actor(&self, address: Option<IpAddr>) -> Actor {
        let user = self.user();
        Actor::User {
            id: user.id.0,
            username: user.username.clone(),
            admin: self.is_admin(),
            address: address.map(|a| a.to_string()),
        }
    }

    /// Compares in constant time (`subtle`), so the token cannot be guessed
    /// byte by byte.
    pub fn csrf_matches(&self, given: &str) -> bool {
        let expected = self.session.csrf_token.as_bytes();
        given.as_bytes().ct_eq(expected).into()
    }

    /// The caller behind this request, if any; `Ok(None)` when the request
    /// carries no credential or a dead one.
    pub async fn find(parts: &Parts, state: &AppState) -> Result<Option<Self>, ApiError> {
        let Some((token, via)) = credential(&parts.headers) else {
            return Ok(None);
        };
        let token_hash = token_hash(&token);
        let Some(session) = state.store.session(&token_hash).await? else {
            return Ok(None);
        };
        // A cookie holds only a web session: an API token pasted into a
        // cookie would skip the CSRF token the page never had.
        if via == Credential::Cookie && session.kind != SessionKind::Web {
            return Ok(None);
        }
        Ok(Some(Caller {
            session,
            token_hash,
            via,
        }))
    }
}

/// The Bearer token wins over the cookie: a script's request says exactly
/// who it is.
fn credential(headers: &HeaderMap) -> Option<(String, Credential)> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(token) = bearer {
        return Some((token.to_owned(), Credential::Bearer));
    }
    CookieJar::from_headers(headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| (t, Credential::Cookie))
}

/// Requests that change something and ride on the cookie must show they
/// come from Lectern's own pages: the session's CSRF token in a header (a
/// form carries it in a field instead, see `pages::CsrfForm`), and no
/// foreign `Origin`.
fn check_cookie_request(parts: &Parts, caller: &Caller) -> Result<(), ApiError> {
    if caller.via != Credential::Cookie || parts.method.is_safe() {
        return Ok(());
    }
    if !same_origin(&parts.headers) {
        return Err(ApiError::CsrfRejected);
    }
    let given = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !caller.csrf_matches(given) {
        return Err(ApiError::CsrfRejected);
    }
    Ok(())
}

/// False when the browser says the request comes from another site.
/// Browsers send `Origin` on every cross-site POST, PUT and DELETE.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    origin_host.is_some() && origin_host == host
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // The audit middleware may have looked the session up already.
        let caller = match parts.extensions.get::<Caller>() {
            Some(found) => found.clone(),
            None => Caller::find(parts, state)
                .await?
                .ok_or(ApiError::Unauthorized)?,
        };
        check_cookie_request(parts, &caller)?;
        Ok(caller)
    }
}

/// A signed-in administrator, as the use cases name them; anyone else
/// signed in gets 403 before the body is read (the use cases ask the same
/// rule again: `lectern_app::access`).
pub struct Admin(pub Actor);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let actor = caller.actor(request_address(parts, state));
        lectern_app::access::require_admin(&actor)?;
        Ok(Admin(actor))
    }
}

/// The client's address of a request, when the server runs with peer
/// addresses (it always does outside unit tests).
pub fn request_address(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    let trusted = &state.options.trusted_proxies;
    Some(client_address(peer.0.ip(), &parts.headers, trusted))
}

/// The client behind a request: the peer, or, when the peer is a trusted
/// proxy, the address it says it forwarded for (`X-Forwarded-For`, read
/// from the right: each trusted hop vouches for the one before it). An
/// untrusted peer's header is ignored, so nobody can pick their own
/// address to dodge the sign-in limits.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    // A dual-stack socket gives IPv4 peers as `::ffff:a.b.c.d`.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Trusted proxies from the configuration: addresses (`192.0.2.1`) or
/// ranges (`10.0.0.0/8`, `fd00::/8`).
pub fn parse_trusted_proxies<S: AsRef<str>>(list: &[S]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|item| {
            let text = item.as_ref().trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))
        })
        .collect()
}

/// The client's address (see [`client_address`]), for handlers.
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| ApiError::Internal("the server runs without peer addresses".into()))?;
        let trusted = &state.options.trusted_proxies;
        Ok(ClientAddress(client_address(peer, &parts.headers, trusted)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_forwarded_address_counts_only_from_a_trusted_proxy() {
        let trusted = parse_trusted_proxies(&["10.0.0.0/8", "192.0.2.1"]).unwrap();
        let header = forwarded(&["203.0.113.5"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &header, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("192.0.2.1"), &header, &trusted),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_address(ip("192.0.2.1"), &header, &[]),
            ip("192.0.2.1"),
            "none by default"
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), &HeaderMap::new(), &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn forwarded_hops_are_read_from_the_right_up_to_the_first_untrusted_one() {
        let trusted = parse_trusted_proxies(&["10.0.0.0/8"]).unwrap();
        // The client made up the first entry; the proxies appended the rest.
        let header = forwarded(&["1.1.1.1, 203.0.113.5", "10.0.0.2"]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &header, &trusted),
            ip("203.0.113.5")
        );
        let garbage = forwarded(&["203.0.113.5, not-an-address"]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &garbage, &trusted),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn trusted_proxies_must_be_addresses_or_ranges() {
        assert_eq!(
            parse_trusted_proxies(&["::1", "fd00::/8"]).unwrap().len(),
            2
        );
        let err = parse_trusted_proxies(&["proxy.example"]).unwrap_err();
        assert!(err.contains("proxy.example"), "{err}");
        assert!(parse_trusted_proxies(&["10.0.0.0/33"]).is_err());
    }
}
