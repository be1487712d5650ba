//! Recognition memoised per grant: a block whose checks (its expiry and not-before
//! aside) were recognised before is not decompiled and compiled again, and its
//! [`LiftedBlock`] shares the memo's copy of the grant (without its times) with every
//! other block recognised from the same entry.
//!
//! A token's blocks differ from another token's with the same grant only in their
//! leading expiry and not-before checks (the dates of a `ttl`). Everything else the
//! recognition of a block reads is the key: every later check, term for term, and, when
//! those checks hold a date (a human `max_age`), the human verification time it is
//! measured from. A hit is an exact comparison of the stored key with the block's, never
//! of a hash alone; the leading time checks are read on every block and must be exactly
//! the compiled form. Facts, rules, scopes and the block's position are checked outside
//! the memo, on every block.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use biscuit_auth::builder::{Binary, Check, CheckKind, Expression, Op as DOp, Rule as Query, Term};

use super::LiftedBlock;
use crate::compile::{self, CheckRole, CompileContext};
use crate::grant::Grant;
use crate::time::Timestamp;

/// How many recognised grants a [`GrantMemo`] keeps by default (each about the size of
/// its block's checks, a few KiB at most).
pub const GRANT_MEMO_ENTRIES: usize = 1024;

/// What recognition made of a block's checks after its leading time checks.
#[derive(Debug)]
struct Entry {
    /// The key: the checks after the leading time checks.
    checks: Vec<Check>,
    /// The human verification time, when the checks hold a date.
    verified_at: Option<Option<Timestamp>>,
    /// The grant, without expiry and not-before: the very copy every block recognised
    /// from this entry shares.
    grant: Arc<Grant>,
    /// The role of each keyed check.
    roles: Vec<CheckRole>,
}

/// A bounded memo of recognised grants, for one verifier (never global). Safe to share
/// between threads.
#[derive(Debug)]
pub struct GrantMemo {
    entries: Mutex<HashMap<u64, Arc<Entry>>>,
    capacity: usize,
    hasher: RandomState,
    hits: AtomicU64,
    /// Tests: every key hashes alike, so only the exact comparison tells them apart.
    #[cfg(test)]
    collide: bool,
}

impl Default for GrantMemo {
    fn default() -> Self {
        Self::new(GRANT_MEMO_ENTRIES)
    }
}

impl GrantMemo {
    /// A memo of at most `capacity` grants (0: nothing is remembered).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            hasher: RandomState::new(),
            hits: AtomicU64::new(0),
            #[cfg(test)]
            collide: false,
        }
    }

    /// How many blocks were recognised from the memo.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// How many grants it holds.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn hash(&self, checks: &[Check], verified_at: Option<Option<Timestamp>>) -> u64 {
        #[cfg(test)]
        if self.collide {
            return 0;
        }
        let mut h = self.hasher.build_hasher();
        hash_checks(checks, &mut h);
        verified_at.hash(&mut h);
        h.finish()
    }

    fn get(&self, hash: u64) -> Option<Arc<Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&hash)
            .cloned()
    }

    fn insert(&self, hash: u64, entry: Entry) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.capacity && !map.contains_key(&hash) {
            // Full: forget one grant (which one matters little; a forgotten grant is
            // recognised again on its next sight).
            if let Some(k) = map.keys().next().copied() {
                map.remove(&k);
            }
        }
        map.insert(hash, Arc::new(entry));
    }
}

/// Recognises a block's checks (rules and scopes are the caller's to refuse), through
/// `memo` when it has seen the same checks before.
pub(super) fn lift_checks_memo(
    checks: &[Check],
    ctx: CompileContext,
    memo: Option<&GrantMemo>,
) -> Option<LiftedBlock> {
    let Some(memo) = memo else {
        return super::lift_checks(checks, ctx);
    };
    let (times, rest) = time_prefix(checks);
    let verified_at = has_date(rest).then_some(ctx.human_verified_at);
    let hash = memo.hash(rest, verified_at);
    if let Some(e) = memo.get(hash) {
        if e.checks == rest && e.verified_at == verified_at {
            memo.hits.fetch_add(1, Ordering::Relaxed);
            let mut roles = Vec::with_capacity(times.count() + e.roles.len());
            roles.extend(times.roles());
            roles.extend(e.roles.iter().cloned());
            return Some(LiftedBlock::with_timeless(
                Arc::clone(&e.grant),
                times.expires_at,
                times.not_before,
                roles,
                ctx,
            ));
        }
    }
    let (lifted, mut compiled) = super::lift_checks_compiled(checks, ctx)?;
    // Remembered only when the full recognition read the leading checks as exactly
    // these times and nothing else as a time.
    let prefix = times.count();
    if lifted.expires_at() == times.expires_at
        && lifted.not_before() == times.not_before
        && lifted.roles.get(..prefix) == Some(times.roles().as_slice())
    {
        // The key: the compilation of the grant after its times, which is `rest` term
        // for term (that is how the block was recognised), moved rather than copied.
        compiled.drain(..prefix);
        memo.insert(
            hash,
            Entry {
                checks: compiled,
                verified_at,
                grant: Arc::clone(lifted.timeless()),
                roles: lifted.roles.get(prefix..).unwrap_or_default().to_vec(),
            },
        );
    }
    Some(lifted)
}

/// The leading expiry and not-before checks of a block.
#[derive(Debug, Default)]
struct Times {
    expires_at: Option<Timestamp>,
    not_before: Option<Timestamp>,
}

impl Times {
    fn count(&self) -> usize {
        usize::from(self.expires_at.is_some()) + usize::from(self.not_before.is_some())
    }

    fn roles(&self) -> Vec<CheckRole> {
        self.expires_at
            .map(CheckRole::Expiry)
            .into_iter()
            .chain(self.not_before.map(CheckRole::NotBefore))
            .collect()
    }
}

/// Splits `checks` after its leading expiry check, then not-before check, each exactly
/// as [`compile::compile_checks`] writes it (compared with a compiled one, term for term).
fn time_prefix(checks: &[Check]) -> (Times, &[Check]) {
    let mut times = Times::default();
    let mut rest = checks;
    if let Some((first, tail)) = rest.split_first() {
        if let Some(at) = time_check(first, Binary::LessOrEqual) {
            times.expires_at = Some(at);
            rest = tail;
        }
    }
    if let Some((first, tail)) = rest.split_first() {
        if let Some(at) = time_check(first, Binary::GreaterOrEqual) {
            times.not_before = Some(at);
            rest = tail;
        }
    }
    (times, rest)
}

/// The date of `check if time($t), $t <op> <date>` in exactly its compiled form.
fn time_check(check: &Check, op: Binary) -> Option<Timestamp> {
    let [q] = check.queries.as_slice() else {
        return None;
    };
    let [e] = q.expressions.as_slice() else {
        return None;
    };
    let [_, DOp::Value(Term::Date(d)), DOp::Binary(o)] = e.ops.as_slice() else {
        return None;
    };
    if *o != op {
        return None;
    }
    let at = Timestamp::from_unix(*d);
    // `compile_checks` of a grant with only this time is exactly this one check, which
    // is the template of `op` with this date.
    same_but_date(check, template(op)?).then_some(at)
}

/// [`compile::time_check`] at time 0 for `op` (`<=`: expiry, `>=`: not-before). The
/// check at any other time is this one with that date as the middle operand of its one
/// expression: nothing else it writes depends on the time.
fn template(op: Binary) -> Option<&'static Check> {
    static TEMPLATES: OnceLock<[Check; 2]> = OnceLock::new();
    let [expiry, not_before] = TEMPLATES.get_or_init(|| {
        let at = Timestamp::from_unix(0);
        [
            compile::time_check(at, Binary::LessOrEqual),
            compile::time_check(at, Binary::GreaterOrEqual),
        ]
    });
    match op {
        Binary::LessOrEqual => Some(expiry),
        Binary::GreaterOrEqual => Some(not_before),
        _ => None,
    }
}

/// Whether `check` is `template` term for term, but for the date of their one query's
/// one expression (`<operand> <date> <operator>`), which may differ. Every field is
/// named, so a field Biscuit adds is a compile error here, never left uncompared.
fn same_but_date(check: &Check, template: &Check) -> bool {
    let (
        Check { queries, kind },
        Check {
            queries: t_queries,
            kind: t_kind,
        },
    ) = (check, template);
    let ([q], [t]) = (queries.as_slice(), t_queries.as_slice()) else {
        return false;
    };
    let Query {
        head,
        body,
        expressions,
        parameters,
        scopes,
        scope_parameters,
    } = q;
    let ([Expression { ops }], [Expression { ops: t_ops }]) =
        (expressions.as_slice(), t.expressions.as_slice())
    else {
        return false;
    };
    let (
        [operand, DOp::Value(Term::Date(_)), operator],
        [t_operand, DOp::Value(Term::Date(_)), t_operator],
    ) = (ops.as_slice(), t_ops.as_slice())
    else {
        return false;
    };
    kind == t_kind
        && *head == t.head
        && *body == t.body
        && *parameters == t.parameters
        && *scopes == t.scopes
        && *scope_parameters == t.scope_parameters
        && operand == t_operand
        && operator == t_operator
}

/// Whether any check holds a date.
fn has_date(checks: &[Check]) -> bool {
    fn term(t: &Term) -> bool {
        match t {
            Term::Date(_) => true,
            Term::Array(items) => items.iter().any(term),
            Term::Set(items) => items.iter().any(term),
            Term::Map(m) => m.values().any(term),
            _ => false,
        }
    }
    fn ops(o: &[DOp]) -> bool {
        o.iter().any(|op| match op {
            DOp::Value(t) => term(t),
            DOp::Closure(_, inner) => ops(inner),
            DOp::Unary(_) | DOp::Binary(_) => false,
        })
    }
    checks.iter().flat_map(|c| &c.queries).any(|q| {
        std::iter::once(&q.head)
            .chain(&q.body)
            .any(|p| p.terms.iter().any(term))
            || q.expressions.iter().any(|e| ops(&e.ops))
    })
}

/// Feeds every check's structure to `h` (what it leaves out, a rule's parameters, only
/// makes more keys share a hash: a hit compares the whole checks).
fn hash_checks<H: Hasher>(checks: &[Check], h: &mut H) {
    fn ops<H: Hasher>(o: &[DOp], h: &mut H) {
        o.len().hash(h);
        for op in o {
            match op {
                DOp::Value(t) => (0u8, t).hash(h),
                DOp::Unary(u) => (1u8, u).hash(h),
                DOp::Binary(b) => (2u8, b).hash(h),
                DOp::Closure(params, inner) => {
                    (3u8, params).hash(h);
                    ops(inner, h);
                }
            }
        }
    }
    fn query<H: Hasher>(q: &Query, h: &mut H) {
        q.head.hash(h);
        q.body.hash(h);
        q.expressions.len().hash(h);
        for e in &q.expressions {
            ops(&e.ops, h);
        }
        q.scopes.hash(h);
    }
    checks.len().hash(h);
    for c in checks {
        let kind: u8 = match c.kind {
            CheckKind::One => 0,
            CheckKind::All => 1,
            CheckKind::Reject => 2,
        };
        kind.hash(h);
        c.queries.len().hash(h);
        for q in &c.queries {
            query(q, h);
        }
    }
}

#[cfg(test)]
mod tests;
