//! `warrant verify`

use warrant_core::time::Timestamp;
use warrant_verifier::{Decision, DenialKind, Request, RequestError, Verifier};

use crate::args::VerifyArgs;
use crate::error::{CliError, Outcome};
use crate::io;

pub(crate) fn run(a: &VerifyArgs) -> Result<Outcome, CliError> {
    let mut builder = match (&a.keys.public_key, &a.keys.keys) {
        (Some(k), _) => Verifier::dangerous_any_key_id(io::public_key(k)?),
        (None, Some(source)) => Verifier::builder(io::key_set(source)?),
        (None, None) => {
            return Err(CliError::usage(
                "give --public-key or --keys: the issuer's public key is needed to verify",
            ))
        }
    };
    if a.allow_bearer {
        builder = builder.dangerous_accept_bearer();
    }
    let verifier = builder.build();
    if let Some(source) = &a.revocations {
        verifier.set_revocations(io::revocations(source)?);
    }
    let at = match &a.at {
        Some(t) => t
            .parse::<Timestamp>()
            .map_err(|e| CliError::usage(format!("--at: {e}")))?,
        None => super::now(),
    };
    let mut req = Request::try_new(&a.resource, &a.action, at).map_err(|e| match e {
        RequestError::Action(e) => CliError::usage(format!("--action: {e}")),
        e => CliError::usage(format!("--resource: {e}")),
    })?;
    if let Some(aud) = &a.audience {
        req = req.with_audience(aud);
    }
    for spec in &a.attr {
        let (name, value) = split(spec, "--attr")?;
        req = req
            .try_with_attr_text(name, value)
            .map_err(|e| attr_error("--attr", spec, e, Some((name, value))))?;
    }
    for spec in &a.attr_json {
        let (name, value) = split(spec, "--attr-json")?;
        let json: serde_json::Value = serde_json::from_str(value).map_err(|e| {
            CliError::usage(format!("--attr-json `{spec}`: the value is not JSON: {e}"))
        })?;
        req = req
            .try_with_attr_json(name, &json)
            .map_err(|e| attr_error("--attr-json", spec, e, None))?;
    }
    if let (Some(proof), Some(method), Some(url)) = (&a.proof, &a.method, &a.url) {
        req = req.with_proof(proof.trim(), io::http_method(method)?, url);
    }
    let decision = verifier.verify(&io::token(&a.token)?, &req);
    if let Decision::Denied(d) = &decision {
        if d.kind == DenialKind::Malformed {
            return Err(CliError::usage(d.message().to_owned()));
        }
    }
    if a.json {
        io::out(serde_json::to_string_pretty(&decision)?)?;
    } else {
        match &decision {
            Decision::Allowed(_) => io::out("allowed")?,
            Decision::Denied(d) => io::out(format_args!("denied: {}", d.message()))?,
            // A kind of decision this CLI does not know is not an allowance.
            _ => io::out("denied")?,
        }
    }
    Ok(if decision.is_allowed() {
        Outcome::Ok
    } else {
        Outcome::Denied
    })
}

/// An attribute the request refused, named by its flag. A number that is not an integer
/// (`amount=20000.0`) says how to send text instead, when `text` is given.
fn attr_error(flag: &str, spec: &str, e: RequestError, text: Option<(&str, &str)>) -> CliError {
    match (e, text) {
        (RequestError::AttrValue { source, .. }, Some((name, value))) => CliError::usage(format!(
            "{flag} `{spec}`: {source}; to send text, use --attr-json '{name}=\"{value}\"'"
        )),
        (RequestError::AttrValue { source, .. }, None) => {
            CliError::usage(format!("{flag} `{spec}`: {source}"))
        }
        (e, _) => CliError::usage(format!("{flag} `{spec}`: {e}")),
    }
}

fn split<'a>(spec: &'a str, flag: &str) -> Result<(&'a str, &'a str), CliError> {
    spec.split_once('=')
        .ok_or_else(|| CliError::usage(format!("{flag} `{spec}`: expected NAME=VALUE")))
}
