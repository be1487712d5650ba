//! Generates the warrant test vectors: makes the tokens and proofs of the cases (with
//! `recipe.rs`, from the fixed seed), asks the verifier for every decision, and refuses
//! to produce vectors where the verifier disagrees with a case.
//!
//! Shared by the `vectors` example and warrant-verifier's tests. The calls into the
//! verifier's configuration and request API are kept in [`verifier_for`] and
//! [`request_for`].

use std::collections::BTreeSet;

use serde_json::{json, Value as J};
use warrant_core::token::PROFILE_VERSION;
use warrant_verifier::{Decision, KeyId, KeySet, Request, RevocationSet, Verifier};

use super::cases::{all_cases, KEYS, SEED};
use super::recipe::{
    build_token, ctx, describe_token, make_proof, timestamp, value, Expect, Fail, KeyEntry, Keys,
    Manifest, ProofVector, RequestVector, RevocationVector, Step, TokenVector, VerifierVector,
    FORMAT,
};
use super::spec::{Case, Revoke, Want};

/// The biscuit-auth release the workspace pins (`=6.0.0`), which printed the blocks.
pub(crate) const BISCUIT_AUTH: &str = "6.0.0";

/// The key set the verifier trusts: `issuer` under key id 1.
fn trusted_key_set(keys: &Keys) -> Result<J, Fail> {
    let set = KeySet::single(KeyId(1), keys.ed25519("issuer")?.public());
    serde_json::to_value(set).map_err(ctx("key set"))
}

/// The verifier of one request: the one place the verifier is configured.
pub(crate) fn verifier_for(key_set: &J, options: &VerifierVector) -> Result<Verifier, Fail> {
    let keys = KeySet::from_json(&key_set.to_string()).map_err(ctx("key set"))?;
    let builder = Verifier::builder(keys);
    let verifier = if options.allow_bearer {
        builder.dangerous_accept_bearer().build()
    } else {
        builder.build()
    };
    let feed = json!({ "entries": options.revocations });
    let revocations = RevocationSet::from_json(&feed.to_string()).map_err(ctx("revocations"))?;
    verifier.set_revocations(revocations);
    Ok(verifier)
}

/// The verifier's request for a request vector.
pub(crate) fn request_for(r: &RequestVector) -> Result<Request, Fail> {
    let mut request = Request::new(r.resource.clone(), r.action.clone(), timestamp(&r.time)?);
    for (name, v) in &r.attrs {
        request = request.with_attr(name.clone(), value(name, v)?);
    }
    if let Some(a) = &r.audience {
        request = request.with_audience(a.clone());
    }
    if let Some(p) = &r.proof {
        request = request.with_proof(p.dpop.clone(), p.method.clone(), p.url.clone());
    }
    Ok(request)
}

/// What a fresh verifier (so no proof was seen before) decides for `r` on `token`.
pub(crate) fn decide(key_set: &J, token: &str, r: &RequestVector) -> Result<Expect, Fail> {
    let decision: Decision = verifier_for(key_set, &r.verifier)?.verify(token, &request_for(r)?);
    if let Some(c) = decision.claims() {
        return Ok(Expect::Allowed {
            holder: c.holder.clone(),
            expires_at: c.expires_at.clone(),
        });
    }
    let d = decision
        .denial()
        .ok_or_else(|| "a decision is either allowed or denied".to_owned())?;
    let kind = serde_json::to_value(d.kind).map_err(ctx("denial kind"))?;
    Ok(Expect::Denied {
        kind: kind.as_str().unwrap_or_default().to_owned(),
        block: d.block,
        attribute: d.attribute().map(str::to_owned),
    })
}
/// Names each step's random stream after the token and the step.
fn label_steps(token: &str, steps: &mut [Step]) {
    for (i, step) in steps.iter_mut().enumerate() {
        let label = format!("token/{token}/step/{i}");
        match step {
            Step::Mint { rng, .. }
            | Step::Attenuate { rng, .. }
            | Step::Delegate { rng, .. }
            | Step::AppendDatalog { rng, .. } => *rng = label,
        }
    }
}

fn revocation(keys: &Keys, token: &TokenVector, r: &Revoke) -> Result<RevocationVector, Fail> {
    let (kind, value) = match r {
        Revoke::TokenId => ("token_id", token.token_id.clone()),
        Revoke::Block(i) => (
            "revocation_id",
            token
                .blocks
                .get(*i)
                .map(|b| b.revocation_id.clone())
                .ok_or_else(|| format!("token `{}` has no block {i}", token.name))?,
        ),
        Revoke::Holder(name) => ("holder", keys.get(name)?.public().to_string()),
    };
    Ok(RevocationVector {
        kind: kind.to_owned(),
        value,
    })
}

fn want(keys: &Keys, w: &Want) -> Result<Expect, Fail> {
    Ok(match w {
        Want::Unset => return Err("the case gives no decision".to_owned()),
        Want::Allowed { holder, expires_at } => Expect::Allowed {
            holder: holder
                .map(|h| keys.get(h).map(|k| k.public().to_string()))
                .transpose()?,
            expires_at: expires_at.map(str::to_owned),
        },
        Want::Denied {
            kind,
            block,
            attribute,
        } => Expect::Denied {
            kind: (*kind).to_owned(),
            block: *block,
            attribute: attribute.map(str::to_owned),
        },
    })
}

fn build_case(keys: &Keys, key_set: &J, case: Case) -> Result<TokenVector, Fail> {
    let Case {
        name,
        description,
        mut steps,
        requests,
    } = case;
    label_steps(name, &mut steps);
    let token = build_token(keys, &steps).map_err(ctx(format!("token `{name}`")))?;
    let (token_id, blocks) = describe_token(&token).map_err(ctx(format!("token `{name}`")))?;
    let mut out = TokenVector {
        name: name.to_owned(),
        description: description.to_owned(),
        steps,
        token,
        token_id,
        blocks,
        requests: Vec::new(),
    };
    let mut seen = BTreeSet::new();
    for q in requests {
        let at = format!("token `{name}`, request `{}`", q.name);
        if !seen.insert(q.name) {
            return Err(format!("{at}: the name is used twice"));
        }
        let proof = match q.proof {
            Some(signer) => {
                let url = format!("https://api.example/{}", q.resource);
                let rng = format!("proof/{name}/{}", q.name);
                let dpop = make_proof(keys, &out.token, signer, "GET", &url, q.time, &rng)
                    .map_err(ctx(&at))?;
                Some(ProofVector {
                    signer: signer.to_owned(),
                    method: "GET".into(),
                    url,
                    rng,
                    dpop,
                })
            }
            None => None,
        };
        let revocations = q
            .revoke
            .iter()
            .map(|r| revocation(keys, &out, r))
            .collect::<Result<_, _>>()
            .map_err(ctx(&at))?;
        let expected = want(keys, &q.want).map_err(ctx(&at))?;
        let mut vector = RequestVector {
            name: q.name.to_owned(),
            resource: q.resource.to_owned(),
            action: q.action.to_owned(),
            time: q.time.to_owned(),
            audience: q.audience.map(str::to_owned),
            attrs: q.attrs,
            proof,
            verifier: VerifierVector {
                allow_bearer: q.allow_bearer,
                revocations,
            },
            expect: expected.clone(),
        };
        let decided = decide(key_set, &out.token, &vector).map_err(ctx(&at))?;
        if decided != expected {
            return Err(format!(
                "{at}: the verifier decides {decided:?}, the case expects {expected:?}"
            ));
        }
        vector.expect = decided;
        out.requests.push(vector);
    }
    Ok(out)
}

/// Makes every token, proof and decision of the vectors from [`SEED`], checking each
/// decision against its case.
pub(crate) fn generate() -> Result<Manifest, Fail> {
    let entries: Vec<KeyEntry> = KEYS
        .iter()
        .map(|(name, id, algorithm)| ((*name).to_owned(), *id, *algorithm))
        .collect();
    let keys = Keys::derive(SEED, &entries)?;
    let key_set = trusted_key_set(&keys)?;
    let mut tokens = Vec::new();
    let mut names = BTreeSet::new();
    for case in all_cases(&keys)? {
        if !names.insert(case.name) {
            return Err(format!("token `{}`: the name is used twice", case.name));
        }
        tokens.push(build_case(&keys, &key_set, case)?);
    }
    Ok(Manifest {
        format: FORMAT.to_owned(),
        profile: PROFILE_VERSION,
        biscuit_auth: BISCUIT_AUTH.to_owned(),
        seed: hex::encode(SEED),
        keys: keys.vectors(&entries)?,
        key_set,
        tokens,
    })
}
