//! `warrant revoke`

use serde_json::json;
use warrant_core::token::decode_unverified;

use crate::args::RevokeArgs;
use crate::error::{CliError, Outcome};
use crate::io;

pub fn run(a: &RevokeArgs) -> Result<Outcome, CliError> {
    let (kind, value) = if let Some(t) = &a.token {
        let token = decode_unverified(&io::token_text(t)?)?;
        let id = warrant_core::token::unverified_authority(&token)
            .token_id
            .ok_or_else(|| {
                CliError::usage("the token has no token id: revoke it by --revocation-id")
            })?;
        ("token_id", id)
    } else if let Some(id) = &a.token_id {
        ("token_id", id.clone())
    } else if let Some(id) = &a.revocation_id {
        ("revocation_id", id.clone())
    } else if let Some(h) = &a.holder {
        ("holder", h.clone())
    } else if let Some(id) = &a.admin_credential {
        ("admin_credential", id.clone())
    } else {
        return Err(CliError::usage(
            "say what to revoke: --token, --token-id, --revocation-id, --holder or --admin-credential",
        ));
    };
    let base = a.admin.issuer.trim_end_matches('/');
    let token = io::admin_token(&a.admin.admin_token)?;
    let answer = io::post(
        &format!("{base}/v1/revocations"),
        Some(&token),
        &json!({ "kind": kind, "value": value }),
    )?;
    if kind == "admin_credential" {
        io::out(format_args!("revoked admin credential `{value}`"))?;
    } else {
        io::out(format_args!(
            "revoked {kind} `{value}` (feed cursor {})",
            answer["cursor"]
        ))?;
    }
    Ok(Outcome::Ok)
}
