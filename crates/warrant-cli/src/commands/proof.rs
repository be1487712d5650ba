//! `warrant proof`

use rand_core::OsRng;
use warrant_core::dpop::create_proof;
use warrant_core::holder::{holder_chain, holder_links};
use warrant_core::keys::{HolderSigner as _, HolderSigningKey};
use warrant_core::token::decode_base64;

use crate::args::ProofArgs;
use crate::error::{CliError, Outcome};
use crate::io;

pub(crate) fn run(a: &ProofArgs) -> Result<Outcome, CliError> {
    let key = io::holder_signing_key(&a.key)?;
    let token = io::token(&a.token)?;
    let method = io::http_method(&a.method)?;
    if !a.dangerous_any_key {
        holder_check(&key, &token, &a.key.display().to_string())?;
    }
    let proof = create_proof(&key, method, &a.url, &token, super::now(), &mut OsRng)?;
    io::out(proof)?;
    Ok(Outcome::Ok)
}

/// A proof is only worth making with the key the token is bound to now: any other key's
/// proof is denied by every verifier.
fn holder_check(key: &HolderSigningKey, token: &str, key_file: &str) -> Result<(), CliError> {
    let bytes = decode_base64(token)?;
    let blocks = warrant_core::blocks::read_blocks(&bytes)
        .map_err(|e| CliError::usage(format!("the token's blocks cannot be read: {e}")))?;
    let chain = holder_chain(&holder_links(&blocks))?;
    let public = key.holder_key();
    match chain.last() {
        None => Err(CliError::usage(
            "the token is not bound to a holder, so a DPoP proof does not go with it: \
             mint it with --holder to bind it to an agent key",
        )),
        Some(holder) if *holder == public => Ok(()),
        Some(holder) if chain.contains(&public) => Err(CliError::usage(format!(
            "--key `{key_file}` (`{public}`) was a holder of this token, but it has been \
             delegated on: its current holder is `{holder}`, whose key must make the proof"
        ))),
        Some(holder) => Err(CliError::usage(format!(
            "--key `{key_file}` is `{public}`, not the token's holder `{holder}`: make the \
             proof with the holder's key (or, to see a verifier deny it, add --dangerous-any-key)"
        ))),
    }
}
