//! `warrant request` (an agent asks a human for a token, and collects it) and `warrant
//! approve` (the human decides, with a device key).

use clap::ArgMatches;
use rand_core::OsRng;
use warrant_core::keys::HolderSigningKey;
use warrant_issuer::api::{
    CapabilityRequest, Challenge, ChallengeRequest, Decided, Decision, RequestCreated,
    RequestHuman, RequestState, Verification,
};

use crate::args::{ApproveArgs, DeciderArgs, GrantArgs, RequestArgs};
use crate::error::{CliError, Outcome};
use crate::{grant_flags, io};
use warrant_core::grant::Grant;

/// The longest `--wait` polls between two asks, whatever the issuer says.
const MAX_POLL_SECONDS: u64 = 10;

/// Whether any grant flag was given.
fn has_grant(g: &GrantArgs) -> bool {
    g.grant.is_some()
        || !g.allow.is_empty()
        || !g.deny.is_empty()
        || !g.when.is_empty()
        || g.ttl.is_some()
        || !g.audience.is_empty()
}

/// A DPoP proof by `key` for `method` on `url`, with no access token.
fn proof(key: &HolderSigningKey, method: &str, url: &str) -> Result<String, CliError> {
    warrant_core::dpop::create_proof(key, method, url, "", super::now(), &mut OsRng)
        .map_err(|e| CliError::usage(format!("cannot make a DPoP proof for `{url}`: {e}")))
}

fn read<T: serde::de::DeserializeOwned>(url: &str, text: &str) -> Result<T, CliError> {
    serde_json::from_str(text).map_err(|e| {
        CliError::usage(format!(
            "`{url}` answered with JSON this `warrant` cannot read ({e}): is it a warrant issuer of the same version?"
        ))
    })
}

pub(crate) fn ask(a: &RequestArgs, sub: &ArgMatches) -> Result<Outcome, CliError> {
    let key = io::holder_signing_key(&a.key)?;
    let base = a.issuer.trim_end_matches('/');
    let id = match &a.collect {
        Some(id) => id.clone(),
        None => {
            if !has_grant(&a.grant) {
                return Err(CliError::usage(
                    "say what to ask for: --grant FILE or --allow ACTION:RESOURCE",
                ));
            }
            let grant = grant_flags::grant(&a.grant, sub)?;
            let url = format!("{base}/v1/requests");
            let body = CapabilityRequest {
                human: a.human.clone().unwrap_or_default(),
                reason: a.reason.clone().unwrap_or_default(),
                grant: grant.to_json(),
                role: a.role.clone(),
            };
            let (_, _, text) =
                io::with_proof("POST", &url, &proof(&key, "POST", &url)?, Some(&body))?;
            let made: RequestCreated = read(&url, &text)?;
            if !a.wait {
                // Its id is the URL's last part, for --collect.
                io::out(&made.approve_url)?;
                return Ok(Outcome::Ok);
            }
            // The human must see where to approve; standard output keeps the token alone.
            eprintln!(
                "warrant: waiting until {} for `{}` to approve at {}",
                made.expires_at, body.human, made.approve_url
            );
            made.id
        }
    };
    let url = format!("{base}/v1/requests/{id}");
    loop {
        let (status, retry_after, text) =
            io::with_proof::<()>("GET", &url, &proof(&key, "GET", &url)?, None)?;
        let state: RequestState = read(&url, &text)?;
        if let Some(token) = state.token {
            io::out(token.token)?;
            return Ok(Outcome::Ok);
        }
        if status != 202 || !a.wait {
            io::out(format!("{} until {}", state.status, state.expires_at))?;
            return Ok(Outcome::Ok);
        }
        let after = retry_after.unwrap_or(2).clamp(1, MAX_POLL_SECONDS);
        std::thread::sleep(std::time::Duration::from_secs(after));
    }
}

pub(crate) fn approve(a: &ApproveArgs, sub: &ArgMatches) -> Result<Outcome, CliError> {
    let narrowed = has_grant(&a.grant)
        .then(|| grant_flags::grant(&a.grant, sub))
        .transpose()?;
    decide(&a.decider, Some(narrowed))
}

/// Approves (`Some`, with the grant narrowed or not) or denies (`None`) as `a` says.
pub(crate) fn decide(a: &DeciderArgs, approve: Option<Option<Grant>>) -> Result<Outcome, CliError> {
    // The request's id, or its whole approve URL.
    let id = a.id.trim().rsplit('/').next().unwrap_or_default();
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::usage(format!(
            "`{}` is not a request id: give the 32 hex digits at the end of the approve URL (or the URL)",
            a.id.escape_debug()
        )));
    }
    let key = io::signing_key(&a.device_key)?;
    let base = a.issuer.trim_end_matches('/');
    let human = match &a.human {
        Some(h) => h.clone(),
        None => {
            let url = format!("{base}/v1/requests/{id}/human");
            read::<RequestHuman>(&url, &io::get(&url, None)?)?.human
        }
    };
    let challenge: Challenge = io::post(
        &format!("{base}/v1/challenges"),
        None,
        &ChallengeRequest {
            human: human.clone(),
        },
    )?;
    let what = if approve.is_some() { "approve" } else { "deny" };
    let body = Decision {
        human,
        verification: Verification::DeviceKey {
            public_key: key.public().to_string(),
            signature: key.signature(challenge.sign.as_bytes()).to_hex(),
            nonce: challenge.nonce,
        },
        grant: approve.flatten().map(|g| g.to_json()),
    };
    let decided: Decided = io::post(&format!("{base}/v1/requests/{id}/{what}"), None, &body)?;
    let mut out = decided.status;
    if let Some(e) = decided.token_expires_at {
        out.push_str(&format!(": the agent's token will expire at {e}"));
    }
    out.push_str(&format!("\n  {}", decided.description));
    io::out(out)?;
    Ok(Outcome::Ok)
}
