//! Lifting a verified token back into grants, so it can be evaluated natively.
//!
//! A block is lifted only when its Datalog is, to the letter, what [`crate::compile`]
//! makes of the grant the block embeds (and, for the authority block, of the facts
//! [`crate::token::mint`] stamps). Biscuit prints strings without escaping them, so the
//! comparison is trusted only when no string in the token contains `"`: then the printed
//! text determines the Datalog uniquely. Anything else — raw Datalog, a block written by
//! another Biscuit library, an unexpected fact — is left to Biscuit's own evaluation.

use biscuit_auth::Biscuit;

use crate::compile::{print_term, render, CheckRole, CompileContext};
use crate::eval::HumanFacts;
use crate::grant::Grant;
use crate::token::{embedded_grant, AuthorityFacts, PROFILE_VERSION};

/// One block understood natively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiftedBlock {
    /// The grant the block's Datalog was compiled from.
    pub grant: Grant,
    /// The role of each check, in block order.
    pub roles: Vec<CheckRole>,
    /// The text of each check, in block order, as Biscuit prints it (without `;`).
    pub checks: Vec<String>,
    /// The holder a delegation block names (`holder(…)` before the grant).
    pub holder: Option<String>,
}

/// A token whose every block is in the warrant profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifted {
    /// The authority block's facts.
    pub authority: AuthorityFacts,
    /// The blocks, authority first.
    pub blocks: Vec<LiftedBlock>,
}

impl AuthorityFacts {
    /// The human facts the checks see (`human_verification`, `human_attr`).
    pub fn human_facts(&self) -> Option<HumanFacts> {
        self.verification.as_ref().map(|(method, at)| HumanFacts {
            method: method.clone(),
            verified_at: *at,
            attrs: self.human_attrs.clone(),
        })
    }

    /// The facts as Biscuit prints the authority block [`crate::token::mint`] makes, or
    /// `None` if a required fact is missing.
    pub fn render(&self) -> Option<String> {
        let mut out = String::new();
        let s = |v: &str| print_term(&biscuit_auth::builder::Term::Str(v.to_owned()));
        let d = |t: crate::time::Timestamp| t.to_string();
        out.push_str(&format!("warrant_profile({});\n", self.profile?));
        out.push_str(&format!("token_id({});\n", s(self.token_id.as_deref()?)));
        out.push_str(&format!("issuer({});\n", s(self.issuer.as_deref()?)));
        out.push_str(&format!("issued_at({});\n", d(self.issued_at?)));
        if let Some(h) = &self.human {
            out.push_str(&format!("human({});\n", s(h)));
        }
        let (method, at) = self.verification.as_ref()?;
        out.push_str(&format!("human_verification({}, {});\n", s(method), d(*at)));
        for (k, v) in &self.human_attrs {
            out.push_str(&format!(
                "human_attr({}, {});\n",
                s(k),
                print_term(&v.to_term())
            ));
        }
        if let Some(h) = &self.holder {
            out.push_str(&format!("holder({});\n", s(h)));
        }
        Some(out)
    }
}

/// Lifts one block's printed source: `prefix` is what must precede the compiled grant
/// (the authority facts, or nothing).
fn lift_block(source: &str, prefix: &str, ctx: CompileContext) -> Option<LiftedBlock> {
    let compiled = source.strip_prefix(prefix)?;
    let grant = embedded_grant(compiled)?;
    let (printed, roles) = render(&grant, ctx)?;
    if printed != compiled {
        return None;
    }
    let checks: Vec<String> = printed
        .lines()
        .skip(1)
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect();
    if checks.len() != roles.len() {
        return None;
    }
    Some(LiftedBlock {
        grant,
        roles,
        checks,
        holder: None,
    })
}

/// A delegation block: `holder("ed25519/…");` then a compiled grant.
fn lift_delegation(source: &str, ctx: CompileContext) -> Option<LiftedBlock> {
    let (first, _) = source.split_once('\n')?;
    let holders = crate::token::holder_facts(first);
    let [named] = holders.as_slice() else {
        return None;
    };
    let prefix = format!("{first}\n");
    if prefix
        != format!(
            "holder({});\n",
            print_term(&biscuit_auth::builder::Term::Str(named.clone()))
        )
    {
        return None;
    }
    let mut block = lift_block(source, &prefix, ctx)?;
    block.holder = Some(named.clone());
    Some(block)
}

/// Just enough of Biscuit's protobuf to see each block's block-level `trusting` scopes,
/// which Biscuit's printing leaves out (unknown fields are skipped).
mod wire {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Token {
        #[prost(message, optional, tag = "2")]
        pub authority: Option<Signed>,
        #[prost(message, repeated, tag = "3")]
        pub blocks: Vec<Signed>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Signed {
        #[prost(bytes = "vec", tag = "1")]
        pub block: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Block {
        #[prost(message, repeated, tag = "7")]
        pub scope: Vec<Scope>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Scope {}
}

/// Whether no block of the serialized token declares block-level scopes.
fn no_block_scopes(bytes: &[u8], count: usize) -> bool {
    use prost::Message as _;
    let Ok(token) = wire::Token::decode(bytes) else {
        return false;
    };
    let blocks: Vec<&wire::Signed> = token.authority.iter().chain(token.blocks.iter()).collect();
    blocks.len() == count
        && blocks.iter().all(|b| {
            wire::Block::decode(b.block.as_slice()).is_ok_and(|block| block.scope.is_empty())
        })
}

/// Lifts a verified token (`bytes` are the bytes it was verified from), or `None` if any
/// block is outside the profile.
pub fn lift(token: &Biscuit, bytes: &[u8]) -> Option<Lifted> {
    let count = token.block_count();
    if !no_block_scopes(bytes, count) {
        return None;
    }
    for i in 0..count {
        if token.block_symbols(i).ok()?.iter().any(|s| s.contains('"')) {
            return None;
        }
    }
    let source0 = token.print_block_source(0).ok()?;
    let authority = AuthorityFacts::read(&source0);
    if authority.profile != Some(PROFILE_VERSION) {
        return None;
    }
    let prefix = authority.render()?;
    let ctx = CompileContext {
        human_verified_at: authority.verification.as_ref().map(|(_, at)| *at),
    };
    let mut blocks = Vec::with_capacity(count);
    blocks.push(lift_block(&source0, &prefix, ctx)?);
    if blocks[0].grant.allow.is_empty() {
        return None;
    }
    for i in 1..count {
        let source = token.print_block_source(i).ok()?;
        let block = if source.starts_with("holder(") {
            lift_delegation(&source, ctx)?
        } else {
            lift_block(&source, "", ctx)?
        };
        blocks.push(block);
    }
    Some(Lifted { authority, blocks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyId, PublicKey, SigningKey};
    use crate::time::Timestamp;
    use crate::token::{attenuate, decode_unverified, encode, mint, MintRequest};
    use crate::value::Value;

    const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

    fn verified(text: &str, key: &SigningKey) -> (Biscuit, Vec<u8>) {
        let bytes = crate::token::decode_base64(text).unwrap();
        (
            Biscuit::from(&bytes, key.public().to_biscuit().unwrap()).unwrap(),
            bytes,
        )
    }

    fn lift_text(text: &str, key: &SigningKey) -> Option<Lifted> {
        let (t, b) = verified(text, key);
        lift(&t, &b)
    }

    fn lift_token(t: &Biscuit) -> Option<Lifted> {
        lift(t, &t.to_vec().unwrap())
    }

    fn minted(grant: &str, key: &SigningKey) -> String {
        let mut req = MintRequest::offline(Grant::from_json_str(grant).unwrap());
        req.human = Some("alice".into());
        req.human_attrs
            .insert("kyc".parse().unwrap(), Value::Bool(true));
        req.holder = Some(SigningKey::generate(&mut rand_core::OsRng, None).public());
        mint(key, req, NOW, &mut rand_core::OsRng)
            .unwrap()
            .token
            .to_base64()
            .unwrap()
    }

    #[test]
    fn warrant_tokens_lift() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let text = minted(
            r#"{"audience": ["api"], "allow": [{"resources": ["a/*"], "actions": ["read", "write"],
                "when": [{"attr": "n", "in": [1, 2]}]}], "deny": [{"resources": ["a/x"], "actions": ["*"]}]}"#,
            &key,
        );
        let lifted = lift_text(&text, &key).expect("a minted token lifts");
        assert_eq!(lifted.authority.human.as_deref(), Some("alice"));
        assert_eq!(lifted.blocks[0].roles.len(), 4);
        assert!(lifted.blocks[0].checks[3].starts_with("reject if"));
        let narrower = Grant::from_json_str(
            r#"{"ttl": "1m", "allow": [{"resources": ["a/b"], "actions": ["read"]}]}"#,
        )
        .unwrap();
        let child = attenuate(
            &decode_unverified(&text).unwrap(),
            narrower,
            NOW,
            &mut rand_core::OsRng,
        )
        .unwrap();
        let lifted = lift_text(&encode(&child), &key).expect("an attenuated token lifts");
        assert_eq!(lifted.blocks.len(), 2);
    }

    #[test]
    fn delegated_tokens_lift_with_their_holders() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let agent = SigningKey::generate(&mut rand_core::OsRng, None);
        let sub = SigningKey::generate(&mut rand_core::OsRng, None);
        let mut req = MintRequest::offline(
            Grant::from_json_str(r#"{"allow": [{"resources": ["a/*"], "actions": ["read"]}]}"#)
                .unwrap(),
        );
        req.holder = Some(agent.public());
        let text = mint(&key, req, NOW, &mut rand_core::OsRng)
            .unwrap()
            .token
            .to_base64()
            .unwrap();
        let token = decode_unverified(&text).unwrap();
        let narrower =
            Grant::from_json_str(r#"{"allow": [{"resources": ["a/b"], "actions": ["read"]}]}"#)
                .unwrap();
        // Only the current holder can delegate.
        let e = crate::token::delegate(
            &token,
            &sub,
            sub.public(),
            Grant::default(),
            NOW,
            &mut rand_core::OsRng,
        )
        .unwrap_err();
        assert!(
            matches!(e, crate::token::DelegateError::NotHolder { .. }),
            "{e}"
        );
        let child = crate::token::delegate(
            &token,
            &agent,
            sub.public(),
            narrower,
            NOW,
            &mut rand_core::OsRng,
        )
        .unwrap();
        let lifted = lift_text(&encode(&child), &key).expect("a delegated token lifts");
        assert_eq!(lifted.blocks[1].holder, Some(sub.public().to_string()));
        assert_eq!(lifted.blocks[1].grant.allow.len(), 1);
        // An empty narrowing is fine too: the block then only names the holder.
        let bare = crate::token::delegate(
            &token,
            &agent,
            sub.public(),
            Grant::default(),
            NOW,
            &mut rand_core::OsRng,
        )
        .unwrap();
        assert!(lift_text(&encode(&bare), &key).is_some());
        let (verified_child, _) = verified(&encode(&child), &key);
        assert_eq!(
            verified_child
                .block_external_key(1)
                .unwrap()
                .map(|k| PublicKey::from_biscuit(&k).unwrap()),
            Some(agent.public())
        );
    }

    #[test]
    fn blocks_outside_the_profile_do_not_lift() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let text = minted(
            r#"{"allow": [{"resources": ["a"], "actions": ["read"]}]}"#,
            &key,
        );
        let (token, _) = verified(&text, &key);
        assert!(lift_token(&token).is_some());
        // A block from another Biscuit library.
        let foreign = token
            .append(
                biscuit_auth::BlockBuilder::new()
                    .code("check if time($t), $t <= 2030-01-01T00:00:00Z;")
                    .unwrap(),
            )
            .unwrap();
        assert!(lift_token(&foreign).is_none());
        // A block whose embedded grant lies about its Datalog.
        let g = Grant::from_json_str(r#"{"allow": [{"resources": ["a"], "actions": ["read"]}]}"#)
            .unwrap();
        let (mut lying, _) = crate::compile::compile(&g, CompileContext::default()).unwrap();
        lying.checks.clear();
        lying = lying.code("check if false;").unwrap();
        assert!(lift_token(&token.append(lying).unwrap()).is_none());
        // The same Datalog as a compiled grant, but trusting every earlier block: Biscuit
        // does not print block-level scopes, so only the wire format shows it.
        let (scoped, _) = crate::compile::compile(&g, CompileContext::default()).unwrap();
        let scoped = scoped.scope(biscuit_auth::builder::Scope::Previous);
        let appended = token.append(scoped).unwrap();
        assert_eq!(
            appended.print_block_source(1).unwrap(),
            render(&g, CompileContext::default()).unwrap().0
        );
        assert!(lift_token(&appended).is_none());
        // Raw Datalog.
        let raw = minted(
            r#"{"allow": [{"resources": ["a"], "actions": ["read"]}], "datalog": "check if true;"}"#,
            &key,
        );
        assert!(lift_text(&raw, &key).is_none());
        // A string with a quote anywhere in the token.
        let quoted = minted(
            r#"{"allow": [{"resources": ["a"], "actions": ["read"], "when": [{"attr": "x", "eq": "say \"hi\""}]}]}"#,
            &key,
        );
        assert!(lift_text(&quoted, &key).is_none());
        // A token that is not a warrant token.
        let plain = biscuit_auth::Biscuit::builder()
            .code("right(\"a\");")
            .unwrap()
            .build(key.key_pair())
            .unwrap();
        assert!(lift_token(&plain).is_none());
    }
}
