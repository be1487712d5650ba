//! OAuth clients: registered in the configuration, or described by a Client ID Metadata
//! Document — a `client_id` that is an https URL whose JSON names the client and its
//! redirect URIs (draft-ietf-oauth-client-id-metadata-document, as MCP uses it).
//!
//! A metadata document is fetched with care, since anyone can make the issuer fetch one:
//! - only `https` URLs with a host and a path, no credentials, no fragment;
//! - the host's addresses must all be public (no loopback, private, link-local, shared or
//!   multicast address), and the connection goes to the address checked (no second DNS
//!   answer in between); no redirects are followed;
//! - [`FETCH_TIMEOUT`] for the whole fetch, at most [`MAX_DOCUMENT_BYTES`] of body;
//! - the document's `client_id` must be the URL exactly, its `redirect_uris` valid, its
//!   client public (`token_endpoint_auth_method` absent or `none`).
//!
//! Documents that pass are cached for [`CACHE_SECONDS`]. `dangerous_allow_private_client_metadata`
//! (tests) lifts the address rule and allows `http` for such addresses.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// The whole fetch of a metadata document, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest metadata document read.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// How long a fetched document is trusted.
pub const CACHE_SECONDS: u64 = 300;
/// Documents kept at once.
const CACHE_ENTRIES: usize = 1024;
/// The longest client name shown.
const MAX_NAME_CHARS: usize = 100;
/// Redirect URIs one client may list.
const MAX_REDIRECT_URIS: usize = 20;

/// A client the issuer knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Its id: a registered name, or its metadata document's URL.
    pub client_id: String,
    /// The name the consent page shows.
    pub name: String,
    /// Where codes may be sent, compared exactly.
    pub redirect_uris: Vec<String>,
}

/// Why a client cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Neither registered nor a metadata document URL.
    #[error("unknown client `{0}`: register it in `[[oauth.clients]]` or use an https URL of a client metadata document")]
    Unknown(String),
    /// A metadata document URL the issuer will not fetch.
    #[error("the client metadata document `{url}` cannot be fetched: {why}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The fetch failed (network, status, size, time).
    #[error("the client metadata document `{url}` could not be read: {why}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The document is not a valid client description.
    #[error("the client metadata document `{url}` is invalid: {why}")]
    Invalid {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// A registered client's redirect URI (configuration).
    #[error("{0}")]
    Config(String),
}

/// A redirect URI a client may register: absolute, no fragment; `https`, or `http` on a
/// loopback host (RFC 8252 native apps).
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri)
        .map_err(|_| format!("`{}` is not an absolute URL", uri.escape_debug()))?;
    if u.fragment().is_some() {
        return Err(format!(
            "`{uri}` has a fragment, which a redirect URI may not"
        ));
    }
    match u.scheme() {
        "https" if u.host().is_some() => Ok(()),
        "http" if is_loopback_redirect(uri) => Ok(()),
        _ => Err(format!(
            "`{uri}` must be an https URL, or http on a loopback host"
        )),
    }
}

/// Whether `uri` is an `http` redirect URI on a loopback host (a native app's: any local
/// program may listen there).
pub(crate) fn is_loopback_redirect(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && match u.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(a)) => a.is_loopback(),
                Some(url::Host::Ipv6(a)) => a.is_loopback(),
                None => false,
            }
    })
}

/// Whether `given` is the registered redirect URI `registered`: the same string, or for a
/// loopback one the same but for the port, which a native app picks when it starts (RFC
/// 8252 section 7.3).
pub(crate) fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    if !(is_loopback_redirect(registered) && is_loopback_redirect(given)) {
        return false;
    }
    match (url::Url::parse(registered), url::Url::parse(given)) {
        (Ok(mut r), Ok(mut g)) => {
            let _ = r.set_port(None);
            let _ = g.set_port(None);
            r == g
        }
        _ => false,
    }
}

/// A client name as the consent page may show it: printable, one line, bounded.
fn clean_name(name: &str) -> Option<String> {
    let n = name.trim();
    let ok = !n.is_empty()
        && n.chars().count() <= MAX_NAME_CHARS
        && !n
            .chars()
            .any(|c| c.is_control() || warrant_core::inspect::is_invisible(c));
    ok.then(|| n.to_owned())
}

fn check_redirects(uris: &[String]) -> Result<(), String> {
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "`redirect_uris` must list at least one and at most {MAX_REDIRECT_URIS} URIs"
        ));
    }
    uris.iter().try_for_each(|u| check_redirect_uri(u))
}

impl Client {
    /// A client registered in the configuration.
    pub(crate) fn registered(
        client_id: String,
        name: Option<String>,
        redirect_uris: Vec<String>,
    ) -> Result<Self, String> {
        if client_id.starts_with("https://") || client_id.starts_with("http://") {
            return Err(
                "a registered `client_id` is a name, not a URL (URLs are metadata documents)"
                    .into(),
            );
        }
        if clean_name(&client_id).is_none() || client_id.contains(' ') {
            return Err(format!("`client_id` `{}` must be 1 to {MAX_NAME_CHARS} printable characters without spaces", client_id.escape_debug()));
        }
        check_redirects(&redirect_uris)?;
        let name = match name {
            Some(n) => clean_name(&n).ok_or_else(|| {
                format!("`name` must be 1 to {MAX_NAME_CHARS} printable characters")
            })?,
            None => client_id.clone(),
        };
        Ok(Self {
            client_id,
            name,
            redirect_uris,
        })
    }

    /// The host codes are sent to, as the consent page shows it.
    pub fn redirect_host(uri: &str) -> String {
        url::Url::parse(uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Whether `ip` is an address on the public internet.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [b0, b1, b2, _] = a.octets();
            !(a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_documentation()
                || a.is_multicast()
                || b0 == 0
                || (b0 == 100 && (64..128).contains(&b1))
                || (b0 == 198 && (18..20).contains(&b1))
                || (b0 == 192 && b1 == 0 && b2 == 0)
                || b0 >= 240)
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = a.segments();
            let embedded = |hi: u16, lo: u16| {
                let [h1, h2] = hi.to_be_bytes();
                let [l1, l2] = lo.to_be_bytes();
                std::net::Ipv4Addr::new(h1, h2, l1, l2)
            };
            // IPv4-compatible (::a.b.c.d) and 6to4 (2002:aabb:ccdd::/48) addresses reach the
            // IPv4 address they carry: public only if it is.
            if seg[..6] == [0; 6] && !a.is_loopback() && !a.is_unspecified() {
                return is_public(IpAddr::V4(embedded(seg[6], seg[7])));
            }
            if seg[0] == 0x2002 {
                return is_public(IpAddr::V4(embedded(seg[1], seg[2])));
            }
            let first = seg[0];
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || (first == 0x2001 && seg[1] == 0)
                || (first == 0x2001 && a.segments()[1] == 0x0db8)
                || (first == 0x64 && a.segments()[1] == 0xff9b))
        }
    }
}

/// The document as fetched.
#[derive(Debug, Deserialize)]
struct Document {
    client_id: Option<String>,
    client_name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
}

/// Known clients: the registered ones, and metadata documents fetched lately.
#[derive(Debug)]
pub struct Clients {
    registered: Vec<Client>,
    dangerous_allow_private: bool,
    cache: quick_cache::sync::Cache<String, (Client, Instant)>,
}

impl Clients {
    /// The `registered` clients (`[[oauth.clients]]`); with `dangerous_allow_private`,
    /// documents may be fetched from loopback and private addresses, over http too.
    pub(crate) fn new(registered: Vec<Client>, dangerous_allow_private: bool) -> Self {
        Self {
            registered,
            dangerous_allow_private,
            cache: quick_cache::sync::Cache::new(CACHE_ENTRIES),
        }
    }

    /// The client `client_id`: registered, cached, or fetched now.
    pub async fn client(&self, client_id: &str) -> Result<Client, ClientError> {
        if let Some(c) = self.registered.iter().find(|c| c.client_id == client_id) {
            return Ok(c.clone());
        }
        if !(client_id.starts_with("https://") || client_id.starts_with("http://")) {
            return Err(ClientError::Unknown(client_id.escape_debug().to_string()));
        }
        if let Some((c, at)) = self.cache.get(client_id) {
            if at.elapsed() < Duration::from_secs(CACHE_SECONDS) {
                return Ok(c);
            }
        }
        let client = self.fetch(client_id).await?;
        self.cache
            .insert(client_id.to_owned(), (client.clone(), Instant::now()));
        Ok(client)
    }

    /// The URL's host and port, and the addresses to connect to (checked).
    async fn target(&self, url: &str) -> Result<(url::Url, Vec<SocketAddr>), ClientError> {
        let refused = |why: &str| ClientError::Refused {
            url: url.escape_debug().to_string(),
            why: why.to_owned(),
        };
        let u = url::Url::parse(url).map_err(|_| refused("it is not a URL"))?;
        if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
            return Err(refused(
                "a client id URL has no fragment and no credentials",
            ));
        }
        if u.path() == "/" || u.path().is_empty() {
            return Err(refused("a client id URL must have a path"));
        }
        let host = u
            .host_str()
            .ok_or_else(|| refused("it has no host"))?
            .to_owned();
        let port = u
            .port_or_known_default()
            .ok_or_else(|| refused("it has no port"))?;
        if !self.dangerous_allow_private {
            if u.scheme() != "https" {
                return Err(refused("it must be an https URL"));
            }
            if port != 443 {
                return Err(refused("it must use https's port, 443"));
            }
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addrs: Vec<SocketAddr> = tokio::time::timeout(
            FETCH_TIMEOUT,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        .map_err(|_| refused("its host did not resolve in time"))?
        .map_err(|_| refused("its host does not resolve"))?
        .collect();
        if addrs.is_empty() {
            return Err(refused("its host does not resolve"));
        }
        let all_public = addrs.iter().all(|a| is_public(a.ip()));
        match (u.scheme(), all_public, self.dangerous_allow_private) {
            ("https", true, _) => {}
            ("https" | "http", false, true) => {}
            ("http", true, _) => return Err(refused("it must be an https URL")),
            (_, false, false) => {
                return Err(refused(
                    "its host has a loopback, private or otherwise non-public address",
                ))
            }
            _ => return Err(refused("it must be an https URL")),
        }
        Ok((u, addrs))
    }

    /// Fetches and checks the document at `url`.
    async fn fetch(&self, url: &str) -> Result<Client, ClientError> {
        let (u, addrs) = self.target(url).await?;
        let failed = |why: String| ClientError::Fetch {
            url: url.escape_debug().to_string(),
            why,
        };
        let slow = || failed(format!("no answer within {}s", FETCH_TIMEOUT.as_secs()));
        let http_error = |e: reqwest::Error| {
            if e.is_timeout() {
                slow()
            } else {
                failed(e.to_string())
            }
        };
        let host = u.host_str().unwrap_or_default().to_owned();
        // Pinned to the addresses checked: no second resolution.
        let http = reqwest::Client::builder()
            // A proxy would resolve the host itself: nothing checked would be pinned.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| failed(format!("client: {e}")))?;
        let body = tokio::time::timeout(FETCH_TIMEOUT, async {
            let mut res = http
                .get(u.as_str())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(http_error)?;
            if !res.status().is_success() {
                return Err(failed(format!("it answered {}", res.status().as_u16())));
            }
            if res
                .content_length()
                .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
            {
                return Err(failed(format!(
                    "it is larger than {MAX_DOCUMENT_BYTES} bytes"
                )));
            }
            let mut body = Vec::new();
            while let Some(chunk) = res.chunk().await.map_err(http_error)? {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_DOCUMENT_BYTES {
                    return Err(failed(format!(
                        "it is larger than {MAX_DOCUMENT_BYTES} bytes"
                    )));
                }
            }
            Ok(body)
        })
        .await
        .map_err(|_| slow())??;
        parse_document(url, &body)
    }
}

/// The client a fetched document describes, checked.
fn parse_document(url: &str, body: &[u8]) -> Result<Client, ClientError> {
    let invalid = |why: String| ClientError::Invalid {
        url: url.escape_debug().to_string(),
        why,
    };
    let doc: Document = serde_json::from_slice(body)
        .map_err(|_| invalid("it is not a JSON object with string members".into()))?;
    match doc.client_id.as_deref() {
        Some(id) if id == url => {}
        Some(id) => {
            return Err(invalid(format!(
                "its `client_id` is `{}`, not the URL it was fetched from",
                id.escape_debug()
            )))
        }
        None => return Err(invalid("it has no `client_id`".into())),
    }
    if let Some(m) = doc
        .token_endpoint_auth_method
        .as_deref()
        .filter(|m| *m != "none")
    {
        return Err(invalid(format!(
            "`token_endpoint_auth_method` is `{}`: only public clients (`none`) are supported",
            m.escape_debug()
        )));
    }
    let redirect_uris = doc
        .redirect_uris
        .ok_or_else(|| invalid("it has no `redirect_uris`".into()))?;
    check_redirects(&redirect_uris).map_err(invalid)?;
    let name = match doc.client_name.as_deref() {
        Some(n) => clean_name(n).ok_or_else(|| {
            invalid(format!(
                "`client_name` must be 1 to {MAX_NAME_CHARS} printable characters"
            ))
        })?,
        None => Client::redirect_host(url),
    };
    Ok(Client {
        client_id: url.to_owned(),
        name,
        redirect_uris,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "ff02::1",
            "198.18.0.1",
            "192.0.0.8",
            "::127.0.0.1",
            "::10.0.0.1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "fec0::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:2800:220:1:248:1893:25c8:1946",
            "2002:5db8:d822::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_http() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:7777/callback",
            "http://localhost/cb",
            "http://[::1]:9/cb",
        ] {
            check_redirect_uri(ok).unwrap();
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#x",
            "javascript:alert(1)",
            "cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_redirects_match_on_any_port_and_nothing_else_does() {
        let r = "http://127.0.0.1:7777/callback";
        assert!(redirect_matches(r, r));
        assert!(redirect_matches(r, "http://127.0.0.1:51234/callback"));
        assert!(redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:9/callback"
        ));
        for other in [
            "http://127.0.0.1:7777/other",
            "http://127.0.0.2.example:7777/callback",
            "https://127.0.0.1:7777/callback",
            "http://localhost:7777/callback",
            "http://127.0.0.1:7777/callback?x=1",
        ] {
            assert!(!redirect_matches(r, other), "{other}");
        }
        let https = "https://app.example/cb";
        assert!(!redirect_matches(https, "https://app.example:8443/cb"));
    }

    #[test]
    fn a_document_must_name_itself_and_a_public_client() {
        let url = "https://app.example/client.json";
        let doc = |extra: &str| {
            format!(r#"{{"client_id":"{url}","redirect_uris":["https://app.example/cb"]{extra}}}"#)
        };
        let c = parse_document(url, doc(r#","client_name":"App""#).as_bytes()).unwrap();
        assert_eq!((c.name.as_str(), c.redirect_uris.len()), ("App", 1));
        assert_eq!(
            parse_document(url, doc("").as_bytes()).unwrap().name,
            "app.example"
        );
        let e = parse_document("https://other.example/c.json", doc("").as_bytes()).unwrap_err();
        assert!(
            e.to_string().contains("not the URL it was fetched from"),
            "{e}"
        );
        let e = parse_document(
            url,
            doc(r#","token_endpoint_auth_method":"private_key_jwt""#).as_bytes(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("only public clients"), "{e}");
        let e = parse_document(url, doc(r#","client_name":"a\u0000b""#).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("client_name"), "{e}");
        let e = parse_document(url, b"[]").unwrap_err();
        assert!(e.to_string().contains("not a JSON object"), "{e}");
    }

    #[tokio::test]
    async fn private_and_plain_http_documents_are_not_fetched() {
        let clients = Clients::new(Vec::new(), false);
        for (url, says) in [
            ("https://127.0.0.1/client.json", "non-public address"),
            ("http://127.0.0.1:9/client.json", "https URL"),
            ("http://127.0.0.1/client.json", "https"),
            ("https://app.example:8443/client.json", "port, 443"),
            ("https://localhost/client.json", "non-public address"),
            ("https://user:pw@app.example/c.json", "no credentials"),
            ("https://app.example/", "must have a path"),
            ("unregistered", "unknown client"),
        ] {
            let e = clients.client(url).await.unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
    }
}
