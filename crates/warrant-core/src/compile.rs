//! Compilation of a [`Grant`] to Biscuit Datalog.
//!
//! The output is fixed by the token profile (`docs/token-profile.md`). Every user value
//! reaches Datalog as a parameter, never spliced into source text, so no value can
//! inject Datalog; resource wildcards become escaped regular expressions.

use std::collections::HashMap;

use biscuit_auth::builder::{BlockBuilder, Term};

use crate::grant::{Actions, Condition, Grant, GrantError, HumanRequirement, Op, Rule};
use crate::pattern::PatternTest;
use crate::time::Timestamp;
use crate::value::Value;

/// Predicates a raw Datalog escape hatch may not define: the request facts the verifier
/// supplies and the authority facts the issuer stamps.
pub const RESERVED_PREDICATES: [&str; 15] = [
    "time",
    "resource",
    "action",
    "audience",
    "attr",
    "attr_age",
    "warrant_profile",
    "warrant_grant",
    "token_id",
    "issuer",
    "issued_at",
    "human",
    "human_verification",
    "human_attr",
    "holder",
];

/// What each check of a compiled block stands for, in block order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckRole {
    /// `check if time($t), $t <= …`
    Expiry(Timestamp),
    /// `check if time($t), $t >= …`
    NotBefore(Timestamp),
    /// `check if audience($aud), … .contains($aud)`
    Audience,
    /// `check if <allow rule 0> or <allow rule 1> or …`
    Allow,
    /// `reject if <deny rule i>`
    Deny(usize),
    /// A check from the raw Datalog escape hatch.
    Raw,
}

/// Facts from the authority block that compilation depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileContext {
    /// When the delegating human was verified (`human_verification`'s date): `max_age`
    /// on a rule becomes a fixed deadline from it.
    pub human_verified_at: Option<Timestamp>,
}

/// Why a grant could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The grant is invalid.
    #[error("{0}")]
    Grant(#[from] GrantError),
    /// Biscuit refused the generated Datalog (a bug in warrant if it happens).
    #[error("could not build the Datalog block: {0}")]
    Biscuit(String),
}

/// Datalog text in two forms at once: `src` with `{pN}` parameters for Biscuit's builder,
/// and `out` exactly as Biscuit prints the resulting block (values printed in place).
#[derive(Debug, Default, Clone)]
struct Dual {
    src: String,
    out: String,
}

impl Dual {
    fn text(s: &str) -> Self {
        Self {
            src: s.to_owned(),
            out: s.to_owned(),
        }
    }

    fn push(&mut self, other: &Dual) {
        self.src.push_str(&other.src);
        self.out.push_str(&other.out);
    }

    fn push_text(&mut self, s: &str) {
        self.src.push_str(s);
        self.out.push_str(s);
    }

    fn join(items: &[Dual], sep: &str) -> Self {
        let mut d = Dual::default();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                d.push_text(sep);
            }
            d.push(item);
        }
        d
    }
}

/// Builds [`Dual`] text from literal pieces and values.
macro_rules! dual {
    ($e:expr; $($piece:expr),* $(,)?) => {{
        let mut d = Dual::default();
        $( Piece::from($piece).append(&mut d, $e); )*
        d
    }};
}

enum Piece<'a> {
    Text(&'a str),
    Value(Term),
    Dual(&'a Dual),
}

impl<'a> From<&'a str> for Piece<'a> {
    fn from(s: &'a str) -> Self {
        Piece::Text(s)
    }
}

impl From<Term> for Piece<'_> {
    fn from(t: Term) -> Self {
        Piece::Value(t)
    }
}

impl<'a> From<&'a Dual> for Piece<'a> {
    fn from(d: &'a Dual) -> Self {
        Piece::Dual(d)
    }
}

impl Piece<'_> {
    fn append(self, d: &mut Dual, e: &mut Emitter) {
        match self {
            Piece::Text(s) => d.push_text(s),
            Piece::Dual(x) => d.push(x),
            Piece::Value(t) => {
                d.out.push_str(&print_term(&t));
                let name = format!("p{}", e.params.len());
                d.src.push('{');
                d.src.push_str(&name);
                d.src.push('}');
                e.params.insert(name, t);
            }
        }
    }
}

/// A term as Biscuit prints it.
pub(crate) fn print_term(t: &Term) -> String {
    match t {
        Term::Str(s) => format!("\"{s}\""),
        Term::Integer(i) => i.to_string(),
        Term::Date(d) => Timestamp::from_unix(*d).to_string(),
        Term::Bool(b) => b.to_string(),
        Term::Bytes(b) => format!("hex:{}", hex::encode(b)),
        Term::Array(items) => format!(
            "[{}]",
            items.iter().map(print_term).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

struct Emitter {
    params: HashMap<String, Term>,
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Term {
    Term::Array(items.into_iter().map(|s| Term::Str(s.to_owned())).collect())
}

/// A compiled grant: the builder source with parameters, the printed block, check roles.
struct Emitted {
    src: String,
    params: HashMap<String, Term>,
    printed: String,
    roles: Vec<CheckRole>,
}

fn emit(grant: &Grant, ctx: CompileContext) -> Result<Emitted, GrantError> {
    if grant.ttl.is_some() {
        return Err(GrantError::new(
            "ttl",
            "must be resolved to `expires_at` before compiling",
        ));
    }
    let mut e = Emitter {
        params: HashMap::new(),
    };
    let mut block = Dual::default();
    let mut roles = Vec::new();
    let grant_json = grant.to_json().to_string();
    block.push(&dual!(&mut e; "warrant_grant(", Term::Bytes(grant_json.into_bytes()), ");\n"));
    if let Some(t) = grant.expires_at {
        block.push(&dual!(&mut e; "check if time($t), $t <= ", Term::Date(t.unix()), ";\n"));
        roles.push(CheckRole::Expiry(t));
    }
    if let Some(t) = grant.not_before {
        block.push(&dual!(&mut e; "check if time($t), $t >= ", Term::Date(t.unix()), ";\n"));
        roles.push(CheckRole::NotBefore(t));
    }
    if !grant.audience.is_empty() {
        let list = strings(grant.audience.iter().map(|a| a.as_str()));
        block.push(&dual!(&mut e; "check if audience($aud), ", list, ".contains($aud);\n"));
        roles.push(CheckRole::Audience);
    }
    if !grant.allow.is_empty() {
        let mut bodies = Vec::with_capacity(grant.allow.len());
        for (i, rule) in grant.allow.iter().enumerate() {
            bodies.push(rule_body(&mut e, rule, ctx, &format!("allow[{i}]"))?);
        }
        let body = Dual::join(&bodies, " or ");
        block.push(&dual!(&mut e; "check if ", &body, ";\n"));
        roles.push(CheckRole::Allow);
    }
    for (i, rule) in grant.deny.iter().enumerate() {
        let body = rule_body(&mut e, rule, ctx, &format!("deny[{i}]"))?;
        block.push(&dual!(&mut e; "reject if ", &body, ";\n"));
        roles.push(CheckRole::Deny(i));
    }
    Ok(Emitted {
        src: block.src,
        params: e.params,
        printed: block.out,
        roles,
    })
}

/// The Datalog block for `grant` (whose `ttl` must already be resolved to `expires_at`),
/// with the role of each check.
pub fn compile(
    grant: &Grant,
    ctx: CompileContext,
) -> Result<(BlockBuilder, Vec<CheckRole>), CompileError> {
    let Emitted {
        src,
        params,
        mut roles,
        ..
    } = emit(grant, ctx)?;
    let mut block = BlockBuilder::new()
        .code_with_params(&src, params, HashMap::new())
        .map_err(|err| CompileError::Biscuit(err.to_string()))?;
    if let Some(raw) = &grant.datalog {
        let raw_block = parse_raw(raw)?;
        roles.extend(raw_block.checks.iter().map(|_| CheckRole::Raw));
        block = block.merge(raw_block);
    }
    Ok((block, roles))
}

/// The block [`compile`] makes for `grant`, printed exactly as Biscuit prints it, with the
/// role of each check; `None` for a grant with raw Datalog, whose printing only Biscuit
/// knows. Cheap: no Datalog is parsed.
///
/// A verifier that finds this text equal to a token block's printed source (and no
/// string in the token containing `"`, so the printing is unambiguous) knows the block is
/// exactly this grant and may evaluate it natively.
pub fn render(grant: &Grant, ctx: CompileContext) -> Option<(String, Vec<CheckRole>)> {
    if grant.datalog.is_some() {
        return None;
    }
    emit(grant, ctx).ok().map(|e| (e.printed, e.roles))
}

/// A rule body: predicates first, then expressions (the order Biscuit prints them in).
fn rule_body(
    e: &mut Emitter,
    rule: &Rule,
    ctx: CompileContext,
    path: &str,
) -> Result<Dual, GrantError> {
    let mut preds = vec![Dual::text("resource($r)"), Dual::text("action($a)")];
    let mut exprs = Vec::new();
    let tests: Vec<Dual> = rule
        .resources
        .iter()
        .map(|pat| match pat.test() {
            PatternTest::Any => Dual::text("$r != \"\""),
            PatternTest::Equals(s) => dual!(e; "$r == ", Term::Str(s)),
            PatternTest::Below(prefix) => dual!(e;
                "$r.starts_with(", Term::Str(prefix.clone()), ") && $r != ", Term::Str(prefix)),
            PatternTest::Regex(re) => dual!(e; "$r.matches(", Term::Str(re), ")"),
        })
        .collect();
    exprs.push(if tests.len() == 1 {
        Dual::join(&tests, "")
    } else {
        let wrapped: Vec<Dual> = tests.iter().map(|t| dual!(e; "(", t, ")")).collect();
        Dual::join(&wrapped, " || ")
    });
    if let Actions::Listed(actions) = &rule.actions {
        let list = strings(actions.iter().map(|a| a.as_str()));
        exprs.push(dual!(e; list, ".contains($a)"));
    }
    for (i, c) in rule.when.iter().enumerate() {
        condition(e, c, i, &mut preds, &mut exprs);
    }
    if let Some(h) = &rule.human {
        human(e, h, ctx, path, &mut preds, &mut exprs)?;
    }
    preds.extend(exprs);
    Ok(Dual::join(&preds, ", "))
}

fn condition(
    e: &mut Emitter,
    c: &Condition,
    i: usize,
    preds: &mut Vec<Dual>,
    exprs: &mut Vec<Dual>,
) {
    let v = format!("$v{i}");
    let name = Term::Str(c.attr.as_str().to_owned());
    if let Op::Within(span) = &c.op {
        preds.push(dual!(e; "attr_age(", name, ", ", v.as_str(), ")"));
        let limit = Term::Integer(i64::try_from(span.seconds()).unwrap_or(i64::MAX));
        exprs.push(dual!(e; v.as_str(), " <= ", limit));
        return;
    }
    preds.push(dual!(e; "attr(", name, ", ", v.as_str(), ")"));
    if let Some(t) = c.op.expected_type() {
        exprs.push(dual!(e; v.as_str(), ".type() == ", Term::Str(t.name().to_owned())));
    }
    let cmp = |e: &mut Emitter, op: &str, val: &Value| dual!(e; v.as_str(), op, val.to_term());
    let test = match &c.op {
        Op::Eq(x) => cmp(e, " == ", x),
        Op::Ne(x) => cmp(e, " != ", x),
        Op::Lt(x) => cmp(e, " < ", x),
        Op::Le(x) => cmp(e, " <= ", x),
        Op::Gt(x) => cmp(e, " > ", x),
        Op::Ge(x) => cmp(e, " >= ", x),
        Op::In(xs) => {
            let list = Term::Array(xs.iter().map(Value::to_term).collect());
            dual!(e; list, ".contains(", v.as_str(), ")")
        }
        Op::Prefix(s) => dual!(e; v.as_str(), ".starts_with(", Term::Str(s.clone()), ")"),
        Op::Present | Op::Within(_) => return,
    };
    exprs.push(test);
}

fn human(
    e: &mut Emitter,
    h: &HumanRequirement,
    ctx: CompileContext,
    path: &str,
    preds: &mut Vec<Dual>,
    exprs: &mut Vec<Dual>,
) -> Result<(), GrantError> {
    preds.push(Dual::text("human_verification($hm, $hat)"));
    let methods = strings(h.methods.iter().map(|m| m.as_str()));
    exprs.push(dual!(e; methods, ".contains($hm)"));
    if let Some(max_age) = h.max_age {
        let at = ctx.human_verified_at.ok_or_else(|| {
            GrantError::new(
                format!("{path}.human.max_age"),
                "the token records no human verification time to measure it from",
            )
        })?;
        preds.push(Dual::text("time($ht)"));
        exprs.push(dual!(e; "$ht <= ", Term::Date(at.plus(max_age).unix())));
    }
    for (i, (name, value)) in h.attrs.iter().enumerate() {
        let var = format!("$ha{i}");
        preds.push(
            dual!(e; "human_attr(", Term::Str(name.as_str().to_owned()), ", ", var.as_str(), ")"),
        );
        exprs.push(
            dual!(e; var.as_str(), ".type() == ", Term::Str(value.value_type().name().to_owned())),
        );
        exprs.push(dual!(e; var.as_str(), " == ", value.to_term()));
    }
    Ok(())
}

fn parse_raw(raw: &str) -> Result<BlockBuilder, GrantError> {
    BlockBuilder::new().code(raw).map_err(|err| {
        GrantError::new(
            "datalog",
            format!("invalid Datalog: {}", one_line(&err.to_string())),
        )
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks the raw Datalog escape hatch: it must parse, and may not define a reserved
/// predicate (a request fact or an authority fact).
pub(crate) fn check_raw_datalog(raw: &str) -> Result<(), GrantError> {
    let block = parse_raw(raw)?;
    let heads = block
        .facts
        .iter()
        .map(|f| &f.predicate.name)
        .chain(block.rules.iter().map(|r| &r.head.name));
    for name in heads {
        if RESERVED_PREDICATES.contains(&name.as_str()) {
            return Err(GrantError::new(
                "datalog",
                format!("may not define `{name}`: it is reserved for the verifier and the issuer"),
            ));
        }
    }
    if !block.scopes.is_empty() {
        return Err(GrantError::new(
            "datalog",
            "block-level `trusting` annotations are not allowed; put them on each rule or check",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyId, SigningKey};
    use crate::token::{attenuate, decode_unverified, mint, MintRequest, Verification};

    const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

    fn grants() -> Vec<Grant> {
        [
            r#"{"audience": ["support-api", "billing"], "expires_at": "2026-11-30T10:10:00Z",
                "not_before": "2026-11-30T09:00:00Z",
                "allow": [
                  {"resources": ["tickets/123/customer_name", "tickets/123/email_address"], "actions": ["read", "list"],
                   "when": [{"attr": "ticket.status", "in": ["open", "pending"]}, {"attr": "n", "ne": 3}]},
                  {"resources": ["orders/*/order_status"], "actions": ["update"],
                   "when": [{"attr": "order.placed_at", "within": "24h"}, {"attr": "ok", "eq": true},
                            {"attr": "d", "ge": "2026-01-01T00:00:00Z"}, {"attr": "note", "prefix": "ref-"}]},
                  {"resources": ["orders/*", "*", "a/*/**"], "actions": ["*"],
                   "when": [{"attr": "amount", "lt": 5000}, {"attr": "reason", "present": true}],
                   "human": {"methods": ["passkey", "oidc"], "max_age": "5m", "attrs": {"kyc": true, "level": 2}}}],
                "deny": [{"resources": ["customers/*/payment_card"], "actions": ["*"]},
                         {"resources": ["x"], "actions": ["delete", "purge"], "when": [{"attr": "k", "le": 1}]}]}"#,
            r#"{"expires_at": "2026-11-30T10:05:00Z"}"#,
            r#"{"deny": [{"resources": ["**"], "actions": ["write"]}]}"#,
        ]
        .iter()
        .map(|t| Grant::from_json_str(t).unwrap())
        .collect()
    }

    fn ctx() -> CompileContext {
        CompileContext {
            human_verified_at: Some(NOW),
        }
    }

    #[test]
    fn render_is_what_biscuit_prints() {
        for g in grants() {
            let (block, roles) = compile(&g, ctx()).unwrap();
            let (printed, rendered_roles) = render(&g, ctx()).unwrap();
            assert_eq!(printed, block.to_string());
            assert_eq!(roles, rendered_roles);
        }
    }

    #[test]
    fn render_matches_real_tokens() {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let mut gs = grants();
        let authority = gs.remove(0);
        let mut req = MintRequest::offline(authority.clone());
        req.verification = Some(Verification {
            method: crate::grant::Method::Passkey,
            at: NOW,
        });
        let minted = mint(&key, req, NOW, &mut rand_core::OsRng).unwrap();
        let (printed, _) = render(&authority, ctx()).unwrap();
        let source = minted.token.print_block_source(0).unwrap();
        assert!(source.ends_with(&printed), "{source}\n---\n{printed}");
        let mut token = decode_unverified(&minted.token.to_base64().unwrap()).unwrap();
        for (i, g) in gs.into_iter().enumerate() {
            token = attenuate(&token, g.clone(), NOW, &mut rand_core::OsRng).unwrap();
            assert_eq!(
                token.print_block_source(i + 1).unwrap(),
                render(&g, ctx()).unwrap().0
            );
        }
    }

    #[test]
    fn raw_datalog_is_not_rendered() {
        let g = Grant::from_json_str(r#"{"datalog": "check if true;"}"#).unwrap();
        assert!(render(&g, ctx()).is_none());
        let (_, roles) = compile(&g, ctx()).unwrap();
        assert_eq!(roles, vec![CheckRole::Raw]);
    }

    #[test]
    fn max_age_needs_a_verification_time() {
        let g = Grant::from_json_str(
            r#"{"allow": [{"resources": ["a"], "actions": ["read"], "human": {"max_age": "5m"}}]}"#,
        )
        .unwrap();
        let e = compile(&g, CompileContext::default()).unwrap_err();
        assert!(e.to_string().starts_with("allow[0].human.max_age:"));
    }

    #[test]
    fn values_cannot_inject_datalog() {
        let g = Grant::from_json_str(
            r#"{"allow": [{"resources": ["a"], "actions": ["read"],
                "when": [{"attr": "x", "eq": "\"), true; check if false or (\""}]}]}"#,
        )
        .unwrap();
        let (block, roles) = compile(&g, ctx()).unwrap();
        assert_eq!(block.checks.len(), 1);
        assert_eq!(roles, vec![CheckRole::Allow]);
    }
}
