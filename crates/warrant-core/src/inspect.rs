//! Decoding a token into what a person needs to see: every block, its Datalog, who signed
//! it, its revocation id, and what the token permits in plain words.

use std::fmt::Write as _;

use biscuit_auth::{Biscuit, UnverifiedBiscuit};
use serde::Serialize;

use crate::authority::AuthorityFacts;
use crate::grant::{Actions, Condition, Grant, Op, Rule};
use crate::keys::HolderPublicKey;
use crate::token::{biscuit_error, TokenError, UNVERIFIED};

mod words;

pub use words::{describe, is_invisible};

/// What was learned about the signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum SignatureStatus {
    /// No key was given: the signatures were not checked.
    NotChecked,
    /// Every signature verifies up to the given root key.
    Valid,
    /// The chain does not verify; the reason.
    Invalid(String),
}

/// One block of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockInfo {
    /// 0 for the authority block.
    pub index: usize,
    /// `issuer`, `attenuation` or `third-party`.
    pub signed_by: String,
    /// The third-party key that signed it, if any.
    pub external_key: Option<String>,
    /// The revocation id (hex).
    pub revocation_id: String,
    /// The block's Datalog, one statement a line, control characters escaped (Biscuit
    /// prints strings unescaped, so its own printing could split a line or carry terminal
    /// escapes).
    pub datalog: String,
    /// The block's own expiry, if it has a warrant grant with one.
    pub expires_at: Option<String>,
    /// Plain-words summary lines.
    pub summary: Vec<String>,
    /// Its grant in one sentence ([`describe`]), if it has a warrant grant.
    pub description: Option<String>,
}

/// A decoded token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// The root key id the token names.
    pub root_key_id: Option<u32>,
    /// The signature check.
    pub signatures: SignatureStatus,
    /// The earliest expiry over all blocks.
    pub expires_at: Option<String>,
    /// The token id of a warrant token (32 hex digits), as revocation lists name it.
    pub token_id: Option<String>,
    /// The blocks, authority first (empty when they could not be decoded).
    pub blocks: Vec<BlockInfo>,
    /// Why the blocks could not be decoded, if they could not.
    pub decode_error: Option<String>,
}

/// Decodes raw token bytes; checks the signatures when `root` is given.
pub fn inspect(
    bytes: &[u8],
    root: Option<&biscuit_auth::PublicKey>,
) -> Result<Inspection, TokenError> {
    let signatures = match root {
        None => SignatureStatus::NotChecked,
        Some(k) => match Biscuit::from(bytes, *k) {
            Ok(_) => SignatureStatus::Valid,
            Err(e) => SignatureStatus::Invalid(biscuit_error(&e)),
        },
    };
    let token = match UnverifiedBiscuit::from(bytes) {
        Ok(t) => t,
        // With a key, the signature verdict is still worth reporting.
        Err(e) if root.is_some() => {
            return Ok(Inspection {
                root_key_id: None,
                signatures,
                expires_at: None,
                token_id: None,
                blocks: Vec::new(),
                decode_error: Some(biscuit_error(&e)),
            })
        }
        Err(e) => return Err(TokenError::Format(e)),
    };
    let external = token.external_public_keys();
    let revocation = token.revocation_identifiers();
    let data = crate::blocks::read_blocks(bytes).unwrap_or_default();
    let authority = AuthorityFacts::from_blocks(&data);
    let mut blocks = Vec::with_capacity(token.block_count());
    for index in 0..token.block_count() {
        let datalog = data
            .get(index)
            .map_or_else(|| "<unreadable block>".to_owned(), printed);
        let grant = crate::decompile::lift_block(&data, index).map(|b| b.grant());
        let external_key = external.get(index).cloned().flatten().map(|k| {
            HolderPublicKey::from_biscuit(&k).map_or_else(|| k.print(), |p| p.to_string())
        });
        let signed_by = if index == 0 {
            "issuer"
        } else if external_key.is_some() {
            "third-party"
        } else {
            "attenuation"
        };
        let mut summary = Vec::new();
        if index == 0 {
            summary.extend(authority_summary(&authority));
        }
        match &grant {
            Some(g) => summary.extend(grant_summary(g, index == 0)),
            None => summary.push("custom Datalog: no warrant grant in this block".to_owned()),
        }
        blocks.push(BlockInfo {
            index,
            signed_by: signed_by.to_owned(),
            external_key,
            revocation_id: revocation.get(index).map(hex::encode).unwrap_or_default(),
            expires_at: grant
                .as_ref()
                .and_then(|g| g.expires_at)
                .map(|t| t.to_string()),
            datalog,
            description: grant.as_ref().map(describe),
            summary,
        });
    }
    let expires_at = blocks
        .iter()
        .filter_map(|b| b.expires_at.as_deref())
        .filter_map(|t| t.parse::<crate::time::Timestamp>().ok())
        .min()
        .map(|t| t.to_string());
    Ok(Inspection {
        root_key_id: token.root_key_id(),
        signatures,
        expires_at,
        token_id: authority.token_id.clone(),
        blocks,
        decode_error: None,
    })
}

/// A block's statements, one a line, each printed by Biscuit with control characters
/// escaped.
fn printed(block: &crate::blocks::BlockData) -> String {
    let mut out = String::new();
    let mut line = |stmt: String| {
        out.push_str(&crate::eval::Shown(&stmt).to_string());
        out.push_str(";\n");
    };
    if !block.scopes.is_empty() {
        let scopes: Vec<String> = block.scopes.iter().map(ToString::to_string).collect();
        line(format!("trusting {}", scopes.join(", ")));
    }
    block.facts.iter().for_each(|f| line(f.to_string()));
    block.rules.iter().for_each(|r| line(r.to_string()));
    block.checks.iter().for_each(|c| line(c.to_string()));
    out
}

fn authority_summary(a: &AuthorityFacts) -> Vec<String> {
    let mut out = Vec::new();
    if a.profile.is_none() {
        return out;
    }
    let mut line = String::from("issued");
    if let Some(i) = &a.issuer {
        let _ = write!(line, " by `{i}`");
    }
    if let Some(t) = a.issued_at {
        let _ = write!(line, " at {t}");
    }
    if let Some(id) = &a.token_id {
        let _ = write!(line, ", token id `{id}`");
    }
    out.push(line);
    let who = a
        .human
        .as_deref()
        .map_or("an unnamed human".to_owned(), |h| format!("human `{h}`"));
    match &a.verification {
        Some((m, _)) if m == UNVERIFIED => out.push(format!(
            "on behalf of {who}, not verified by an issuer (minted offline): rules that require a verification method deny it"
        )),
        Some((m, t)) => out.push(format!("on behalf of {who}, verified by `{m}` at {t}")),
        None => out.push(format!("on behalf of {who}")),
    }
    for (k, v) in &a.human_attrs {
        out.push(format!("the issuer vouches that the human's `{k}` is {v}"));
    }
    match &a.holder {
        Some(h) => out.push(format!("bound to holder key `{h}`")),
        None => out.push("not bound to a holder: a bearer token".to_owned()),
    }
    out
}

/// Plain-words lines describing a grant.
pub fn grant_summary(g: &Grant, authority: bool) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t) = g.expires_at {
        out.push(format!("expires at {t}"));
    }
    if let Some(t) = g.not_before {
        out.push(format!("not valid before {t}"));
    }
    if g.audience.is_empty() {
        if authority {
            out.push("valid for any audience".to_owned());
        }
    } else {
        let list = g
            .audience
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(format!("only for audience {list}"));
    }
    if g.allow.is_empty() && !authority {
        out.push("keeps the earlier allow rules".to_owned());
    }
    let verb = if authority { "allows" } else { "narrows to" };
    for (i, r) in g.allow.iter().enumerate() {
        out.push(format!("allow[{i}] {verb} {}", rule_words(r)));
    }
    for (i, r) in g.deny.iter().enumerate() {
        out.push(format!("deny[{i}] forbids {}", rule_words(r)));
    }
    if g.datalog.is_some() {
        out.push("adds raw Datalog (shown above)".to_owned());
    }
    out
}

fn rule_words(r: &Rule) -> String {
    let actions = match &r.actions {
        Actions::Any => "every action".to_owned(),
        Actions::Listed(l) => l
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let resources = r
        .resources
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut s = format!("{actions} on {resources}");
    if !r.when.is_empty() {
        let conds = r
            .when
            .iter()
            .map(condition_words)
            .collect::<Vec<_>>()
            .join(" and ");
        let _ = write!(s, " when {conds}");
    }
    if let Some(h) = &r.human {
        let methods = h
            .methods
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        let _ = write!(s, ", if the human was verified by {methods}");
        if let Some(a) = h.max_age {
            let _ = write!(s, " at most {a} before the request");
        }
        for (k, v) in &h.attrs {
            let _ = write!(s, " and the issuer vouches `{k}` is {v}");
        }
    }
    s
}

fn condition_words(c: &Condition) -> String {
    let a = &c.attr;
    match &c.op {
        Op::Eq(v) => format!("`{a}` is {v}"),
        Op::Ne(v) => format!("`{a}` is present and not {v}"),
        Op::Lt(v) => format!("`{a}` < {v}"),
        Op::Le(v) => format!("`{a}` <= {v}"),
        Op::Gt(v) => format!("`{a}` > {v}"),
        Op::Ge(v) => format!("`{a}` >= {v}"),
        Op::In(vs) => format!(
            "`{a}` is one of {}",
            vs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Op::Present => format!("`{a}` is present"),
        Op::Prefix(p) => format!("`{a}` starts with {p:?}"),
        Op::Within(s) => format!("`{a}` is no older than {s}"),
    }
}
