//! `warrant revoke`

use warrant_core::token::decode_unverified;
use warrant_issuer::api::{RevocationRequest, Revoked};

use crate::args::{RevokeArgs, TokenArgs};
use crate::error::{CliError, Outcome};
use crate::io;

pub(crate) fn run(a: &RevokeArgs) -> Result<Outcome, CliError> {
    let (kind, value) = if a.token.is_some() || a.token_file.is_some() {
        let text = io::token(&TokenArgs {
            token: a.token.clone(),
            token_file: a.token_file.clone(),
        })?;
        let token = decode_unverified(&text)?;
        let id = warrant_core::token::unverified_authority(&token)
            .token_id
            .ok_or_else(|| {
                CliError::usage("the token has no token id: revoke it by --revocation-id")
            })?;
        ("token_id", id)
    } else if let Some(id) = &a.token_id {
        ("token_id", hex_id(id, 16, "--token-id", "a token id is 32 hex digits, as `warrant inspect` shows it (or give the token with --token)")?)
    } else if let Some(id) = &a.revocation_id {
        (
            "revocation_id",
            hex_id(
                id,
                64,
                "--revocation-id",
                "a revocation id is 128 hex digits, as `warrant inspect` shows it for each block",
            )?,
        )
    } else if let Some(h) = &a.holder {
        ("holder", io::holder_key(h)?.to_string())
    } else if let Some(id) = &a.admin_credential {
        ("admin_credential", id.clone())
    } else {
        return Err(CliError::usage(
            "say what to revoke: --token, --token-file, --token-id, --revocation-id, --holder or --admin-credential",
        ));
    };
    let base = a.admin.issuer.trim_end_matches('/');
    let token = io::admin_token(&a.admin.admin_token)?;
    let body = RevocationRequest {
        kind: kind.to_owned(),
        value: value.clone(),
        human: None,
        verification: None,
    };
    match io::post(&format!("{base}/v1/revocations"), Some(&token), &body)? {
        Revoked::AdminCredential(_) => {
            io::out(format_args!("revoked admin credential `{value}`"))?;
        }
        Revoked::Feed(entry) => {
            io::out(format_args!(
                "revoked {kind} `{value}` (feed cursor {})",
                entry.cursor
            ))?;
        }
    }
    Ok(Outcome::Ok)
}

/// An id of `bytes` bytes in hex, lower-cased; anything else is refused before it reaches
/// the issuer (a revocation that matches nothing would look like success).
fn hex_id(text: &str, bytes: usize, flag: &str, form: &str) -> Result<String, CliError> {
    let t = text.trim();
    if t.len() == bytes * 2 && t.bytes().all(|c| c.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(CliError::usage(format!("{flag} `{t}`: {form}")))
    }
}
