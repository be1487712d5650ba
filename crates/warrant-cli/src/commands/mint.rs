//! `warrant mint`: offline with the root key, or at an issuer after a device-key challenge.

use std::collections::BTreeMap;

use clap::ArgMatches;
use rand_core::OsRng;
use warrant_core::token::{mint, MintRequest};
use warrant_core::value::{AttrName, Value};
use warrant_issuer::api::{Challenge, ChallengeRequest, MintedToken, TokenRequest, Verification};

use crate::args::MintArgs;
use crate::error::{CliError, Outcome};
use crate::{grant_flags, io};

pub(crate) fn run(a: &MintArgs, sub: &ArgMatches) -> Result<Outcome, CliError> {
    let grant = grant_flags::grant(&a.grant, sub)?;
    let holder = a.holder.as_deref().map(io::holder_key).transpose()?;
    if let (Some(issuer), Some(device_key), Some(human)) = (&a.issuer, &a.device_key, &a.human) {
        if !a.human_attr.is_empty() {
            return Err(CliError::usage(
                "--human-attr is for offline minting: an issuer stamps the attributes it has verified",
            ));
        }
        let key = io::signing_key(device_key)?;
        let base = issuer.trim_end_matches('/');
        let challenge: Challenge = io::post(
            &format!("{base}/v1/challenges"),
            None,
            &ChallengeRequest {
                human: human.clone(),
            },
        )?;
        let body = TokenRequest {
            human: human.clone(),
            verification: Verification::DeviceKey {
                public_key: key.public().to_string(),
                signature: key.signature(challenge.sign.as_bytes()).to_hex(),
                nonce: challenge.nonce,
            },
            grant: grant.to_json(),
            role: a.role.clone(),
            holder: holder.map(|h| h.to_string()),
        };
        let minted: MintedToken = io::post(&format!("{base}/v1/tokens"), None, &body)?;
        io::out(minted.token)?;
        return Ok(Outcome::Ok);
    }
    let key_path = a.key.as_deref().ok_or_else(|| {
        CliError::usage("give --key (offline) or --issuer with --human and --device-key")
    })?;
    let key = io::signing_key(key_path)?;
    let mut human_attrs = BTreeMap::new();
    for spec in &a.human_attr {
        let (name, value) = spec.split_once('=').ok_or_else(|| {
            CliError::usage(format!("--human-attr `{spec}`: expected NAME=VALUE"))
        })?;
        let name: AttrName = name.parse()?;
        let value = Value::infer(value)
            .map_err(|e| CliError::usage(format!("--human-attr `{spec}`: {e}")))?;
        human_attrs.insert(name, value);
    }
    let mut req = MintRequest::offline(grant);
    req.human.clone_from(&a.human);
    req.human_attrs = human_attrs;
    req.holder = holder;
    let minted = mint(&key, req, super::now(), &mut OsRng)?;
    io::out(minted.token.to_base64()?)?;
    Ok(Outcome::Ok)
}
