// Adversarial Datalog blocks against the evaluation budget (warrant_core::budget), shared
// by the fuzz target `adversarial_block` and by warrant-core's integration tests
// (crates/warrant-core/tests/it/budget.rs: the seed replay and the property test).
//
// An input becomes one Datalog block appended to a minted warrant token: read as Datalog
// text when it starts like text, otherwise driven through a small generator (facts with
// large terms, checks with joins, closures, arrays, regexes, string growth, rules). Then:
// when the budget refuses, its error names a block that exists; when it accepts, Biscuit
// evaluates the token (with the request facts the verifier adds) within the time bound.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit, BlockBuilder};
use warrant_core::blocks::read_blocks;
use warrant_core::budget::{check, Budget};
use warrant_core::grant::Grant;
use warrant_core::keys::{KeyId, SigningKey};
use warrant_core::request::RequestFacts;
use warrant_core::time::Timestamp;
use warrant_core::token::{mint, MintRequest};
use warrant_core::value::Value;

/// A token's size limit.
pub(crate) const MAX_TOKEN_BYTES: usize = 64 * 1024;

const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

/// What became of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Not Datalog, or too large for a token.
    Skipped,
    /// The budget refused it.
    Refused,
    /// The budget accepted it and Biscuit evaluated it in this time.
    Evaluated(Duration),
}

fn minted() -> &'static Biscuit {
    static T: OnceLock<Biscuit> = OnceLock::new();
    T.get_or_init(|| {
        let key = SigningKey::from_secret_bytes(&[5u8; 32], Some(KeyId(1))).expect("key");
        let grant = Grant::from_json_str(
            r#"{ "audience": ["support-api"], "ttl": "10m",
              "allow": [
                { "resources": ["tickets/123/*"], "actions": ["read"],
                  "when": [ { "attr": "ticket.status", "eq": "open" } ] },
                { "resources": ["orders/*"], "actions": ["refund"],
                  "when": [ { "attr": "amount", "lt": 5000 } ] } ],
              "deny": [ { "resources": ["customers/*/payment_card"], "actions": ["*"] } ] }"#,
        )
        .expect("grant");
        mint(
            &key,
            MintRequest::offline(grant),
            NOW,
            &mut rand_core::OsRng,
        )
        .expect("mint")
        .token
    })
}

fn request() -> RequestFacts {
    let mut r = RequestFacts::new("tickets/123/email_address", "read", NOW);
    r.audience = Some("support-api".to_owned());
    r.attrs
        .insert("ticket.status".to_owned(), Value::String("open".to_owned()));
    r.attrs.insert("amount".to_owned(), Value::Integer(12));
    r.attrs.insert("placed_at".to_owned(), Value::Date(NOW));
    r
}

/// Biscuit's evaluation as the verifier runs it (with limits that never stop it early, so
/// the time measured is the whole work): how long it took.
pub(crate) fn evaluate(token: &Biscuit) -> Duration {
    let (src, params) = request().datalog();
    let start = Instant::now();
    let builder = AuthorizerBuilder::new()
        .set_limits(AuthorizerLimits {
            max_facts: 1_000_000,
            max_iterations: 1_000,
            max_time: Duration::from_secs(600),
        })
        .code_with_params(&src, params, HashMap::new())
        .and_then(|b| b.policy("allow if true"));
    if let Ok(b) = builder {
        if let Ok(mut a) = b.build(token) {
            let _ = a.authorize();
        }
    }
    start.elapsed()
}

/// The Datalog text an input stands for.
pub(crate) fn datalog(data: &[u8]) -> Option<String> {
    match data.first() {
        None => None,
        Some(b) if b.is_ascii_alphabetic() || b.is_ascii_whitespace() || *b == b'/' => {
            std::str::from_utf8(data).ok().map(str::to_owned)
        }
        Some(_) => Some(Gen { data, at: 1 }.block()),
    }
}

/// Runs one input; panics when the budget accepts a block that takes `bound` or more to
/// evaluate, or refuses one naming a block that does not exist.
pub(crate) fn run(data: &[u8], bound: Duration) -> Outcome {
    let Some(text) = datalog(data) else {
        return Outcome::Skipped;
    };
    if text.len() > MAX_TOKEN_BYTES {
        return Outcome::Skipped;
    }
    let Ok(block) = BlockBuilder::new().code(&text) else {
        return Outcome::Skipped;
    };
    let Ok(token) = minted().append(block) else {
        return Outcome::Skipped;
    };
    let Ok(bytes) = token.to_vec() else {
        return Outcome::Skipped;
    };
    if bytes.len() > MAX_TOKEN_BYTES {
        return Outcome::Skipped;
    }
    let blocks = read_blocks(&bytes).expect("a token's own bytes read back");
    match check(&blocks, &Budget::DEFAULT) {
        Err(e) => {
            assert!(
                e.block < blocks.len(),
                "{e} names a block out of {}",
                blocks.len()
            );
            assert!(!e.reason.is_empty() && !e.to_string().contains('\n'), "{e}");
            Outcome::Refused
        }
        Ok(cost) => {
            let took = evaluate(&token);
            assert!(
                took < bound,
                "accepted (cost {cost:?}) but took {took:?}, more than {bound:?}:\n{text}"
            );
            Outcome::Evaluated(took)
        }
    }
}

/// A Datalog block generated from bytes.
struct Gen<'a> {
    data: &'a [u8],
    at: usize,
}

const NAMES: [&str; 6] = ["big", "n", "m", "blob", "f", "d1"];
const PATTERNS: [&str; 8] = [
    "^tickets/[0-9]+/[a-z_]+$",
    "(a|aa)*b",
    "^(a+)+$",
    "[a-z]{1,100}[0-9]{1,100}",
    "(((a{10}){10}){10})",
    "(((a{100}){100}){100})",
    "\\\\w+@\\\\w+",
    "x*y*z*",
];

impl Gen<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn below(&mut self, n: u8) -> u8 {
        self.byte() % n.max(1)
    }

    /// A size from 0 to about 16 000, small ones likelier.
    fn size(&mut self) -> usize {
        let b = usize::from(self.byte());
        b * b / 4
    }

    fn name(&mut self) -> &'static str {
        NAMES[usize::from(self.below(NAMES.len() as u8))]
    }

    fn array(&mut self) -> String {
        let n = self.size().min(2000);
        let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("[{}]", items.join(", "))
    }

    fn constant(&mut self) -> String {
        match self.below(6) {
            0 => self.byte().to_string(),
            1 => format!("\"s{}\"", self.byte()),
            2 => format!("\"{}\"", "x".repeat(self.size())),
            3 => format!("hex:{}", "ab".repeat(self.size().min(8000))),
            4 => self.array(),
            _ => "2026-11-30T10:00:00Z".to_owned(),
        }
    }

    fn term(&mut self) -> String {
        if self.below(3) == 0 {
            self.constant()
        } else {
            format!("${}", char::from(b'a' + self.below(4)))
        }
    }

    fn predicate(&mut self) -> String {
        match self.below(8) {
            0 => "resource($r)".to_owned(),
            1 => "time($t)".to_owned(),
            2 => format!(
                "attr(${}, ${})",
                char::from(b'k' + self.below(3)),
                char::from(b'a' + self.below(4))
            ),
            _ => {
                let name = self.name();
                let arity = 1 + self.below(2);
                let terms: Vec<String> = (0..arity).map(|_| self.term()).collect();
                format!("{name}({})", terms.join(", "))
            }
        }
    }

    fn expression(&mut self, depth: u8) -> String {
        match self.below(if depth < 3 { 9 } else { 6 }) {
            0 => format!(
                "${} == {}",
                char::from(b'a' + self.below(4)),
                self.constant()
            ),
            1 => format!("${} + ${} == ${}", 'a', 'b', 'c'),
            2 => format!("$r.matches(\"{}\")", PATTERNS[usize::from(self.below(8))]),
            3 => "$r.starts_with(\"tickets/\")".to_owned(),
            4 => {
                let n = self.below(12);
                let parts: Vec<&str> = (0..=n).map(|_| "\"abcdefgh\"").collect();
                format!("({}).length() > 3", parts.join(" + "))
            }
            5 => format!("{}.contains({})", self.array(), self.byte()),
            _ => {
                let var = char::from(b'u' + depth);
                let kind = if self.below(2) == 0 { "any" } else { "all" };
                let inner = self.expression(depth + 1);
                let arr = self.array();
                format!("{arr}.{kind}(${var} -> ${var} >= 0 && {inner})")
            }
        }
    }

    fn body(&mut self) -> String {
        let n = self.below(5);
        let mut parts: Vec<String> = (0..n).map(|_| self.predicate()).collect();
        if self.below(2) == 0 {
            parts.push("resource($r)".to_owned());
        }
        let bound = parts.join(", ");
        let mut exprs = Vec::new();
        for _ in 0..self.below(3) {
            exprs.push(self.expression(0));
        }
        // Biscuit refuses a variable that no predicate binds: bind each one.
        let used = exprs.join(" ");
        for v in ['a', 'b', 'c', 'd', 'k', 'l', 'm', 'r', 't'] {
            let var = format!("${v}");
            if used.contains(&var) && !bound.contains(&var) {
                parts.push(match v {
                    'r' => "resource($r)".to_owned(),
                    't' => "time($t)".to_owned(),
                    _ => format!("{}({var})", self.name()),
                });
            }
        }
        parts.extend(exprs);
        if parts.is_empty() {
            parts.push("true".to_owned());
        }
        parts.join(", ")
    }

    fn block(&mut self) -> String {
        let mut out = String::new();
        for _ in 0..self.below(4) {
            let name = self.name();
            let count = self.size().min(3000);
            let kind = self.below(3);
            for i in 0..count {
                let _ = match kind {
                    0 => write!(out, "{name}({i}); "),
                    1 => write!(out, "{name}({i}, \"v{i}\"); "),
                    _ => write!(out, "{name}(\"s{i}\"); "),
                };
            }
        }
        for _ in 0..self.below(4) {
            let c = self.constant();
            let name = self.name();
            let _ = write!(out, "{name}({c}); ");
        }
        for _ in 0..self.below(3) {
            let head = ["d1", "d2", "copy"][usize::from(self.below(3))];
            let body = self.body();
            let _ = write!(out, "{head}($r) <- resource($r), {body}; ");
        }
        for _ in 0..=self.below(4) {
            let kind = ["check if", "check all", "reject if"][usize::from(self.below(3))];
            let body = self.body();
            let _ = write!(out, "{kind} {body}; ");
        }
        out
    }
}
