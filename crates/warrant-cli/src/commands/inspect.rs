//! `warrant inspect`

use warrant_core::inspect::{inspect, Inspection, SignatureStatus};
use warrant_core::keys::KeyId;
use warrant_core::token::decode_base64;

use crate::args::InspectArgs;
use crate::error::{CliError, Outcome};
use crate::io;

pub(crate) fn run(a: &InspectArgs) -> Result<Outcome, CliError> {
    let bytes = decode_base64(&io::token(&a.token)?)?;
    let root = match (&a.keys.public_key, &a.keys.keys) {
        (Some(k), _) => Some(io::public_key(k)?),
        (None, Some(path)) => {
            let set = io::key_set(path)?;
            let kid = warrant_core::token::decode_unverified_bytes(&bytes)
                .ok()
                .and_then(|t| t.root_key_id());
            let key = match kid {
                Some(k) => set.get(KeyId(k)).copied(),
                None if set.keys.len() == 1 => set.keys.first().map(|e| e.public_key),
                None => None,
            };
            Some(key.ok_or_else(|| {
                CliError::denied(format!("no key in `{path}` for the token's key id"))
            })?)
        }
        (None, None) => None,
    };
    let root = root.map(|k| k.to_biscuit()).transpose()?;
    let report = inspect(&bytes, root.as_ref())?;
    if a.json {
        io::out(serde_json::to_string_pretty(&report)?)?;
    } else {
        io::out(render(&report).trim_end())?;
    }
    Ok(match report.signatures {
        SignatureStatus::Invalid(_) => Outcome::Denied,
        _ => Outcome::Ok,
    })
}

fn render(r: &Inspection) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "signatures: {}",
        match &r.signatures {
            SignatureStatus::NotChecked =>
                "not checked (give --public-key or --keys to check them)".to_owned(),
            SignatureStatus::Valid => "valid".to_owned(),
            SignatureStatus::Invalid(why) => format!("INVALID: {why}"),
        }
    );
    if let Some(k) = r.root_key_id {
        let _ = writeln!(s, "root key id: {k}");
    }
    if let Some(t) = &r.expires_at {
        let _ = writeln!(s, "expires at: {t}");
    }
    if let Some(e) = &r.decode_error {
        let _ = writeln!(s, "blocks: could not be decoded: {e}");
    }
    for b in &r.blocks {
        let who = match &b.external_key {
            Some(k) => format!("third party {k}"),
            None => b.signed_by.clone(),
        };
        let _ = writeln!(s, "\nblock {} (signed by {who})", b.index);
        let _ = writeln!(s, "  revocation id: {}", b.revocation_id);
        if let Some(d) = &b.description {
            let _ = writeln!(s, "  in words: {d}");
        }
        for line in &b.summary {
            let _ = writeln!(s, "  - {line}");
        }
        let _ = writeln!(s, "  datalog:");
        for line in b.datalog.lines() {
            let _ = writeln!(s, "    {line}");
        }
    }
    s
}
