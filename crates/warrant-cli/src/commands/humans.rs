//! `warrant humans add`, `warrant humans invite`

use std::path::Path;

use serde_json::Map;
use warrant_core::value::{AttrName, Value};
use warrant_issuer::api::{HumanRequest, HumanSaved, Invite};

use crate::args::{HumanAddArgs, HumanInviteArgs};
use crate::error::{CliError, Outcome};
use crate::io;

pub(crate) fn invite(a: &HumanInviteArgs) -> Result<Outcome, CliError> {
    let base = a.admin.issuer.trim_end_matches('/');
    let token = io::admin_token(&a.admin.admin_token)?;
    let id = url_segment(&a.id);
    let made: Invite = io::post_empty(&format!("{base}/v1/humans/{id}/invites"), Some(&token))?;
    io::out(format!(
        "{}\n(for `{}` to open: it enrols one passkey, once, until {})",
        made.url, made.human, made.expires_at
    ))?;
    Ok(Outcome::Ok)
}

/// `text` as one path segment (its bytes percent-encoded but for unreserved characters).
fn url_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn add(a: &HumanAddArgs) -> Result<Outcome, CliError> {
    let device_keys = a
        .device_key
        .iter()
        .map(|k| device_key(k).map(|k| k.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut attrs = Map::new();
    for spec in &a.attr {
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--attr `{spec}`: expected NAME=VALUE")))?;
        let name: AttrName = name
            .parse()
            .map_err(|e| CliError::usage(format!("--attr `{spec}`: {e}")))?;
        let value =
            Value::infer(value).map_err(|e| CliError::usage(format!("--attr `{spec}`: {e}")))?;
        attrs.insert(name.to_string(), value.to_json());
    }
    let body = HumanRequest {
        id: a.id.clone(),
        display_name: a.display_name.clone(),
        roles: a.role.clone(),
        attrs,
        device_keys: device_keys.clone(),
    };
    let base = a.admin.issuer.trim_end_matches('/');
    let token = io::admin_token(&a.admin.admin_token)?;
    let _: HumanSaved = io::post(&format!("{base}/v1/humans"), Some(&token), &body)?;
    io::out(format_args!(
        "enrolled human `{}` (roles: {}; device keys: {})",
        a.id,
        if a.role.is_empty() {
            "none".to_owned()
        } else {
            a.role.join(", ")
        },
        if device_keys.is_empty() {
            "none".to_owned()
        } else {
            device_keys.join(", ")
        },
    ))?;
    Ok(Outcome::Ok)
}

/// `ed25519/…`, or a key file: a private key made with `warrant keygen` gives its public
/// half (only the public key is sent).
fn device_key(text: &str) -> Result<warrant_core::keys::PublicKey, CliError> {
    if text.starts_with("ed25519/") {
        return io::public_key(text);
    }
    let path = Path::new(text);
    if !path.is_file() {
        return Err(CliError::usage(format!(
            "--device-key `{text}` is neither a public key (`ed25519/` and 64 hex digits) nor a key file"
        )));
    }
    let contents = io::read_file(path)?;
    match contents.trim().parse() {
        Ok(k) => Ok(k),
        Err(_) => io::signing_key(path).map(|k| k.public()),
    }
}
