//! The WebAuthn relying party: the issuer's `public_url` (see crate::passkeys for the
//! ceremonies). Its host is the RP id (or `passkey_rp_id`, a parent domain of it) and its
//! origin the only origin accepted. Browsers allow WebAuthn only on `https://` origins and
//! `http://localhost`, never with an IP address as RP id: an explicit `passkey_rp_id` that
//! cannot work is an error at startup; without one, an issuer whose `public_url` cannot
//! carry passkeys runs with them off and says why on every passkey endpoint.

use webauthn_rs::prelude::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::error::ApiError;

/// The relying party, or why passkeys are off.
#[derive(Debug)]
pub(crate) struct Passkeys {
    webauthn: Result<Webauthn, String>,
}

impl Passkeys {
    /// The relying party for `public_url`, with `rp_id` when set: an error when `rp_id` is
    /// set but cannot work with `public_url`; passkeys off (with the reason) when it is not
    /// set and `public_url` cannot carry them.
    pub(crate) fn from_config(public_url: &str, rp_id: Option<&str>) -> Result<Self, String> {
        let origin = Url::parse(public_url)
            .map_err(|e| format!("`public_url` `{public_url}` is not a URL: {e}"))?;
        let host = origin.domain().map(str::to_owned);
        let localhost = host
            .as_deref()
            .is_some_and(|h| h == "localhost" || h.ends_with(".localhost"));
        let secure = origin.scheme() == "https" || (origin.scheme() == "http" && localhost);
        let why_not = match (&host, secure) {
            (None, _) => Some(format!(
                "passkeys need `public_url` to name a host, not an address (`{public_url}`): use https://<host> or http://localhost:<port>"
            )),
            (Some(_), false) => Some(format!(
                "passkeys need `public_url` to be https:// (or http://localhost): browsers refuse WebAuthn on `{public_url}`"
            )),
            (Some(_), true) => None,
        };
        let Some(host) = host.filter(|_| why_not.is_none()) else {
            let why = why_not.unwrap_or_default();
            return match rp_id {
                Some(id) => Err(format!("`passkey_rp_id` `{id}`: {why}")),
                None => Ok(Self { webauthn: Err(why) }),
            };
        };
        let id = rp_id.unwrap_or(&host);
        if host != id && !host.ends_with(&format!(".{id}")) {
            return Err(format!(
                "`passkey_rp_id` `{id}` is neither the host of `public_url` (`{host}`) nor a parent domain of it"
            ));
        }
        let webauthn = WebauthnBuilder::new(id, &origin)
            .and_then(|b| b.rp_name("warrant").build())
            .map_err(|e| format!("passkeys for `{public_url}` as `{id}`: {e}"))?;
        Ok(Self {
            webauthn: Ok(webauthn),
        })
    }

    /// The relying party, or a 503 saying why passkeys are off.
    pub(crate) fn on(&self) -> Result<&Webauthn, ApiError> {
        self.webauthn
            .as_ref()
            .map_err(|why| ApiError::Unavailable(format!("passkeys are off: {why}")))
    }
}
