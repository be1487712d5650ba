//! `warrant agent keygen`, `warrant agents register`

use rand_core::OsRng;
use warrant_core::keys::{HolderAlgorithm, HolderSigningKey};
use warrant_issuer::api::{Agent, AgentChallengeRequest, AgentRequest, Challenge};

use crate::args::{AgentAlg, AgentKeygenArgs, AgentRegisterArgs};
use crate::error::{CliError, Outcome};
use crate::io;

pub(crate) fn keygen(a: &AgentKeygenArgs) -> Result<Outcome, CliError> {
    let algorithm = match a.alg {
        AgentAlg::Ed25519 => HolderAlgorithm::Ed25519,
        AgentAlg::Es256 => HolderAlgorithm::P256,
    };
    let key = HolderSigningKey::generate(algorithm, &mut OsRng);
    io::write_private(&a.out, &key.to_pem()?)?;
    let public = key.public();
    io::out(public)?;
    io::out(format_args!("jwk-thumbprint: {}", public.jwk_thumbprint()))?;
    Ok(Outcome::Ok)
}

/// `warrant agents register`: asks the issuer for a challenge for the agent's public key,
/// signs it with the agent's key, and registers the agent with the signature.
pub(crate) fn register(a: &AgentRegisterArgs) -> Result<Outcome, CliError> {
    let key = io::holder_signing_key(&a.key)?;
    let public = key.public().to_string();
    let name = match &a.name {
        Some(n) => n.clone(),
        None => a
            .key
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CliError::usage("give the agent a name with --name"))?,
    };
    let base = a.admin.issuer.trim_end_matches('/');
    let token = io::admin_token(&a.admin.admin_token)?;
    let challenge: Challenge = io::post(
        &format!("{base}/v1/agents/challenges"),
        None,
        &AgentChallengeRequest {
            public_key: public.clone(),
        },
    )?;
    let body = AgentRequest {
        name,
        public_key: public.clone(),
        signature: key.signature(challenge.sign.as_bytes()).to_hex(),
        nonce: challenge.nonce,
        owner: a.owner.clone(),
    };
    let agent: Agent = io::post(&format!("{base}/v1/agents"), Some(&token), &body)?;
    io::out(format_args!(
        "registered agent `{}` ({public}) as `{}`",
        agent.name, agent.id
    ))?;
    Ok(Outcome::Ok)
}
