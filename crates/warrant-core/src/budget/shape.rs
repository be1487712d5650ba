//! The structural pass: counts, sizes and regexes of a token's blocks, each against its
//! limit, before any cost is estimated.

use std::collections::HashSet;

use biscuit_auth::builder::{Binary, MapKey, Op, Rule, Term};

use super::{refuse, Budget, BudgetError, MAX_REQUEST_STRING_BYTES};
use crate::blocks::BlockData;

/// What the structural pass learns: the largest term, and the regexes it validated.
pub(super) struct Shape {
    /// The largest term of the token, or a request string.
    pub(super) variable_bytes: u64,
    /// The most elements of a term of the token (request values are scalars or strings).
    pub(super) variable_elements: u64,
}

/// The structural pass over one token: running counts, and the regexes already compiled.
struct Pass<'a> {
    budget: &'a Budget,
    facts: usize,
    rules: usize,
    checks: usize,
    regexes: HashSet<&'a str>,
    largest: u64,
    most_elements: u64,
}

impl Shape {
    pub(super) fn read(blocks: &[BlockData], budget: &Budget) -> Result<Self, BudgetError> {
        let mut pass = Pass {
            budget,
            facts: 0,
            rules: 0,
            checks: 0,
            regexes: HashSet::new(),
            largest: 0,
            most_elements: 1,
        };
        for (b, block) in blocks.iter().enumerate() {
            pass.block(b, block)?;
        }
        Ok(Shape {
            variable_bytes: pass.largest.max(MAX_REQUEST_STRING_BYTES as u64),
            variable_elements: pass.most_elements,
        })
    }
}

/// Every query of a block (rules, then each body of each check), with its name in
/// refusals.
fn queries(block: &BlockData) -> impl Iterator<Item = (String, &Rule)> {
    let rules = block
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("rule {i}"), r));
    let checks = block.checks.iter().enumerate().flat_map(|(i, c)| {
        c.queries.iter().enumerate().map(move |(j, q)| {
            let what = if j == 0 {
                format!("check {i}")
            } else {
                format!("check {i} (body {j})")
            };
            (what, q)
        })
    });
    rules.chain(checks)
}

impl<'a> Pass<'a> {
    fn block(&mut self, b: usize, block: &'a BlockData) -> Result<(), BudgetError> {
        self.counts(b, block)?;
        let mut terms: Vec<&Term> = Vec::new();
        for fact in &block.facts {
            terms.extend(&fact.predicate.terms);
        }
        for (what, rule) in queries(block) {
            self.query(b, &what, rule, &mut terms)?;
        }
        for t in terms {
            let size = term_size(t);
            if size > self.budget.max_term_bytes as u64 {
                return Err(refuse(
                    b,
                    format!(
                        "a term of size {size} is larger than the {} allowed",
                        self.budget.max_term_bytes
                    ),
                ));
            }
            self.largest = self.largest.max(size);
            self.most_elements = self.most_elements.max(elements(t));
        }
        Ok(())
    }

    /// The token's facts, rules and check bodies so far, block `b` included.
    fn counts(&mut self, b: usize, block: &BlockData) -> Result<(), BudgetError> {
        let budget = self.budget;
        self.facts = self.facts.saturating_add(block.facts.len());
        self.rules = self.rules.saturating_add(block.rules.len());
        self.checks = self
            .checks
            .saturating_add(block.checks.iter().map(|c| c.queries.len()).sum());
        for (count, limit, what) in [
            (self.facts, budget.max_facts, "facts"),
            (self.rules, budget.max_rules, "rules"),
            (self.checks, budget.max_checks, "check bodies"),
        ] {
            if count > limit {
                return Err(refuse(
                    b,
                    format!("the token has {count} {what}, more than the {limit} allowed"),
                ));
            }
        }
        Ok(())
    }

    /// One query's predicates and expressions; its terms and literals go to `terms`.
    fn query(
        &mut self,
        b: usize,
        what: &str,
        rule: &'a Rule,
        terms: &mut Vec<&'a Term>,
    ) -> Result<(), BudgetError> {
        let budget = self.budget;
        if rule.body.len() > budget.max_predicates {
            return Err(refuse(
                b,
                format!(
                    "{what} has {} predicates, more than the {} allowed",
                    rule.body.len(),
                    budget.max_predicates
                ),
            ));
        }
        terms.extend(&rule.head.terms);
        for p in &rule.body {
            terms.extend(&p.terms);
        }
        for e in &rule.expressions {
            let ops = count_ops(&e.ops);
            if ops > budget.max_expression_ops {
                return Err(refuse(
                    b,
                    format!(
                        "{what} has an expression of {ops} ops, more than the {} allowed",
                        budget.max_expression_ops
                    ),
                ));
            }
            let depth = closure_depth(&e.ops);
            if depth > budget.max_closure_depth {
                return Err(refuse(
                    b,
                    format!(
                        "{what} nests closures {depth} deep, more than the {} allowed",
                        budget.max_closure_depth
                    ),
                ));
            }
            literals(&e.ops, terms);
            regex_patterns(&e.ops, &mut |pattern| match pattern {
                None => Err(refuse(
                    b,
                    format!("{what} matches a regex that is not a string literal"),
                )),
                Some(p) => self.regex(b, what, p),
            })?;
        }
        Ok(())
    }

    /// A regex pattern: short enough, within the number of distinct regexes, and compiled
    /// within the size limit.
    fn regex(&mut self, b: usize, what: &str, p: &'a str) -> Result<(), BudgetError> {
        let budget = self.budget;
        if p.len() > budget.max_regex_bytes {
            return Err(refuse(
                b,
                format!(
                    "{what} has a regex of {} bytes, more than the {} allowed",
                    p.len(),
                    budget.max_regex_bytes
                ),
            ));
        }
        if self.regexes.contains(p) {
            return Ok(());
        }
        if self.regexes.len() >= budget.max_regexes {
            return Err(refuse(
                b,
                format!(
                    "the token has more than the {} regexes allowed",
                    budget.max_regexes
                ),
            ));
        }
        regex::RegexBuilder::new(p)
            .size_limit(budget.regex_size_limit)
            .dfa_size_limit(budget.regex_size_limit)
            .build()
            .map_err(|_| {
                refuse(
                    b,
                    format!(
                        "{what} has a regex that does not compile within {} bytes",
                        budget.regex_size_limit
                    ),
                )
            })?;
        self.regexes.insert(p);
        Ok(())
    }
}

/// The size of a term: bytes of a string, one plus the sizes of a collection's elements.
pub(super) fn term_size(t: &Term) -> u64 {
    let sum = |it: &mut dyn Iterator<Item = u64>| it.fold(1u64, u64::saturating_add);
    match t {
        Term::Str(s) => (s.len() as u64).max(1),
        Term::Bytes(b) => (b.len() as u64).max(1),
        Term::Array(a) => sum(&mut a.iter().map(term_size)),
        Term::Set(s) => sum(&mut s.iter().map(term_size)),
        Term::Map(m) => sum(&mut m.iter().map(|(k, v)| {
            let k = match k {
                MapKey::Str(s) => (s.len() as u64).max(1),
                MapKey::Integer(_) | MapKey::Parameter(_) => 1,
            };
            k.saturating_add(term_size(v))
        })),
        Term::Variable(_)
        | Term::Integer(_)
        | Term::Date(_)
        | Term::Bool(_)
        | Term::Parameter(_)
        | Term::Null => 1,
    }
}

fn count_ops(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| match op {
            Op::Closure(_, body) => count_ops(body).saturating_add(1),
            _ => 1,
        })
        .fold(0, usize::saturating_add)
}

fn closure_depth(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| match op {
            Op::Closure(_, body) => closure_depth(body).saturating_add(1),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

fn literals<'a>(ops: &'a [Op], out: &mut Vec<&'a Term>) {
    for op in ops {
        match op {
            Op::Value(t) => out.push(t),
            Op::Closure(_, body) => literals(body, out),
            Op::Unary(_) | Op::Binary(_) => {}
        }
    }
}

/// Calls `f` with the pattern of every `.matches` in `ops`: `Some` when it is a string
/// literal (in postfix order, the op just before the `.matches`), `None` otherwise.
fn regex_patterns<'a, E>(
    ops: &'a [Op],
    f: &mut impl FnMut(Option<&'a str>) -> Result<(), E>,
) -> Result<(), E> {
    let mut previous: Option<&'a Op> = None;
    for op in ops {
        match op {
            Op::Binary(Binary::Regex) => match previous {
                Some(Op::Value(Term::Str(p))) => f(Some(p))?,
                _ => f(None)?,
            },
            Op::Closure(_, body) => regex_patterns(body, f)?,
            Op::Value(_) | Op::Unary(_) | Op::Binary(_) => {}
        }
        previous = Some(op);
    }
    Ok(())
}

/// Elements of a term, nested ones included (one for a scalar or a string).
pub(super) fn elements(t: &Term) -> u64 {
    let sum = |it: &mut dyn Iterator<Item = u64>| it.fold(1u64, u64::saturating_add);
    match t {
        Term::Array(a) => sum(&mut a.iter().map(elements)),
        Term::Set(s) => sum(&mut s.iter().map(elements)),
        Term::Map(m) => sum(&mut m.values().map(|v| elements(v).saturating_add(1))),
        _ => 1,
    }
}
