//! How a case of the warrant test vectors is written: a token's steps and its requests,
//! each with the decision it must get.

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::recipe::Step;

/// When every token is minted.
pub(crate) const NOW: &str = "2026-11-30T10:00:00Z";
/// When requests are made unless a case says otherwise.
pub(crate) const LATER: &str = "2026-11-30T10:01:00Z";

/// One token, as a case writes it.
pub(crate) struct Case {
    /// Unique in the file.
    pub name: &'static str,
    /// What the token exercises.
    pub description: &'static str,
    /// How it is made (their `rng` labels are filled in by the generator).
    pub steps: Vec<Step>,
    /// What is asked of it.
    pub requests: Vec<Req>,
}

/// What a case revokes, resolved against the token when it is made.
pub(crate) enum Revoke {
    /// The token, by its token id.
    TokenId,
    /// A block, by its revocation id.
    Block(usize),
    /// Every token bound to the named key.
    Holder(&'static str),
}

/// The decision a case expects.
pub(crate) enum Want {
    /// None given yet: the generator refuses the case.
    Unset,
    /// Allowed, for this holder (a key name), with these claims' expiry.
    Allowed {
        holder: Option<&'static str>,
        expires_at: Option<&'static str>,
    },
    /// Denied with this kind, naming this block and attribute.
    Denied {
        kind: &'static str,
        block: Option<usize>,
        attribute: Option<&'static str>,
    },
}

/// One request, as a case writes it.
pub(crate) struct Req {
    /// Unique for the token.
    pub name: &'static str,
    /// The request facts.
    pub resource: &'static str,
    /// The action.
    pub action: &'static str,
    /// The request time (RFC 3339).
    pub time: &'static str,
    /// The audience checked, if any.
    pub audience: Option<&'static str>,
    /// Attributes, grant-format values.
    pub attrs: BTreeMap<String, J>,
    /// The name of the key that signs the request's DPoP proof, if it carries one.
    pub proof: Option<&'static str>,
    /// Whether the verifier accepts bearer tokens.
    pub allow_bearer: bool,
    /// What the verifier has revoked.
    pub revoke: Vec<Revoke>,
    /// The decision it must get.
    pub want: Want,
}

/// `action` on `resource` at [`LATER`], no audience, bearer tokens accepted.
pub(crate) fn req(name: &'static str, action: &'static str, resource: &'static str) -> Req {
    Req {
        name,
        resource,
        action,
        time: LATER,
        audience: None,
        attrs: BTreeMap::new(),
        proof: None,
        allow_bearer: true,
        revoke: Vec::new(),
        want: Want::Unset,
    }
}

impl Req {
    pub(crate) fn at(mut self, time: &'static str) -> Self {
        self.time = time;
        self
    }

    pub(crate) fn aud(mut self, audience: &'static str) -> Self {
        self.audience = Some(audience);
        self
    }

    pub(crate) fn attr(mut self, name: &str, v: J) -> Self {
        self.attrs.insert(name.to_owned(), v);
        self
    }

    /// A DPoP proof by `signer`, for `GET https://api.example/<resource>` at the request time.
    pub(crate) fn proof(mut self, signer: &'static str) -> Self {
        self.proof = Some(signer);
        self
    }

    pub(crate) fn refuse_bearer(mut self) -> Self {
        self.allow_bearer = false;
        self
    }

    pub(crate) fn revoke(mut self, r: Revoke) -> Self {
        self.revoke.push(r);
        self
    }

    pub(crate) fn allowed(
        mut self,
        holder: Option<&'static str>,
        expires_at: &'static str,
    ) -> Self {
        self.want = Want::Allowed {
            holder,
            expires_at: Some(expires_at),
        };
        self
    }

    /// Allowed, with no expiry in the claims.
    pub(crate) fn allowed_without_expiry(mut self, holder: Option<&'static str>) -> Self {
        self.want = Want::Allowed {
            holder,
            expires_at: None,
        };
        self
    }

    pub(crate) fn denied(mut self, kind: &'static str, block: Option<usize>) -> Self {
        self.want = Want::Denied {
            kind,
            block,
            attribute: None,
        };
        self
    }

    /// The denial names `attribute`.
    pub(crate) fn blaming(mut self, name: &'static str) -> Self {
        if let Want::Denied { attribute, .. } = &mut self.want {
            *attribute = Some(name);
        }
        self
    }
}

/// An offline mint by `issuer` at [`NOW`]: a bearer token with no human named.
pub(crate) fn offline(grant: J) -> Step {
    Step::Mint {
        key: "issuer".into(),
        at: NOW.into(),
        rng: String::new(),
        grant,
        holder: None,
        human: None,
        verification: None,
        human_attrs: BTreeMap::new(),
        issuer: "offline".into(),
    }
}

/// An offline mint by `key`, bound to `holder` when one is given.
pub(crate) fn minted_by(key: &str, holder: Option<&str>, grant: J) -> Step {
    let mut step = offline(grant);
    if let Step::Mint {
        key: k, holder: h, ..
    } = &mut step
    {
        *k = key.to_owned();
        *h = holder.map(str::to_owned);
    }
    step
}

pub(crate) fn attenuate(at: &str, grant: J) -> Step {
    Step::Attenuate {
        at: at.into(),
        rng: String::new(),
        grant,
    }
}

pub(crate) fn delegate(at: &str, from: &str, to: &str, grant: J) -> Step {
    Step::Delegate {
        at: at.into(),
        rng: String::new(),
        from: from.into(),
        to: to.into(),
        grant,
    }
}

pub(crate) fn datalog(code: &str) -> Step {
    Step::AppendDatalog {
        rng: String::new(),
        code: code.into(),
    }
}
