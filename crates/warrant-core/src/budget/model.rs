//! The cost model: the combinations, derived facts and cost of every rule and check (see
//! the module documentation of [`crate::budget`]).

use std::collections::HashMap;

use biscuit_auth::builder::{Binary, Expression, Op, Predicate, Rule, Term, Unary};

use super::shape::{elements, term_size, Shape};
use super::{
    refuse, Budget, BudgetError, Cost, BYTES_PER_UNIT, COMBINATION_COST, FACT_COST,
    MAX_REQUEST_ATTRS, SCAN_COST,
};
use crate::blocks::BlockData;

/// A predicate's key: name and arity.
type Key = (String, usize);

/// The request predicates the verifier adds, with their arity.
const REQUEST_SINGLE: [&str; 4] = ["time", "resource", "action", "audience"];
const REQUEST_ATTRS: [&str; 2] = ["attr", "attr_age"];

/// The derived facts a rule may add under one key: its head, how many, and the block of
/// the rule (every fact it derives has that block among its origins).
struct Derived<'a> {
    head: &'a [Term],
    count: u64,
    block: usize,
}

/// The blocks whose facts a query may read. A query with no `trusting` scope, in a block
/// with none, reads the authority block's facts, its own block's and the verifier's
/// (Biscuit's default); any scope is costed as reading every block.
#[derive(Clone, Copy)]
enum Trusted {
    Default(usize),
    All,
}

impl Trusted {
    fn of(blocks: &[BlockData], block: usize, rule: &Rule) -> Self {
        let block_scopes = blocks.get(block).map_or(&[][..], |b| b.scopes.as_slice());
        if rule.scopes.is_empty() && block_scopes.is_empty() {
            Self::Default(block)
        } else {
            Self::All
        }
    }

    fn reads(self, origin: usize) -> bool {
        match self {
            Self::Default(b) => origin == 0 || origin == b,
            Self::All => true,
        }
    }
}

pub(super) struct Model<'a> {
    budget: &'a Budget,
    /// The token's facts by name and arity, each with its block.
    facts: HashMap<Key, Vec<(usize, &'a [Term])>>,
    derived: HashMap<Key, Vec<Derived<'a>>>,
    token_facts: u64,
    derived_facts: u64,
    variable_bytes: u64,
    variable_elements: u64,
    total: u64,
    rules_cost: u64,
    iterations: u64,
    /// The facts a scan goes through: while costing rules, as many as could ever be
    /// derived; then the visible facts.
    scanned: u64,
    max_combinations: u64,
}

fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

fn add(a: u64, b: u64) -> u64 {
    a.saturating_add(b)
}

fn units(bytes: u64) -> u64 {
    add(1, bytes / BYTES_PER_UNIT)
}

/// Whether a fact's (or a rule head's) terms could match a body predicate's terms: their
/// constants are equal wherever both have one.
fn compatible(pred: &[Term], fact: &[Term]) -> bool {
    pred.len() == fact.len()
        && pred.iter().zip(fact).all(|(p, f)| {
            matches!(p, Term::Variable(_)) || matches!(f, Term::Variable(_)) || p == f
        })
}

impl<'a> Model<'a> {
    pub(super) fn new(blocks: &'a [BlockData], budget: &'a Budget, shape: &Shape) -> Self {
        let mut facts: HashMap<Key, Vec<(usize, &'a [Term])>> = HashMap::new();
        let mut token_facts = 0u64;
        for (b, block) in blocks.iter().enumerate() {
            for fact in &block.facts {
                let p = &fact.predicate;
                facts
                    .entry((p.name.clone(), p.terms.len()))
                    .or_default()
                    .push((b, p.terms.as_slice()));
                token_facts = add(token_facts, 1);
            }
        }
        Model {
            budget,
            facts,
            derived: HashMap::new(),
            token_facts,
            derived_facts: 0,
            variable_bytes: shape.variable_bytes,
            variable_elements: shape.variable_elements,
            total: 0,
            rules_cost: 0,
            iterations: 1,
            scanned: 0,
            max_combinations: 0,
        }
    }

    /// Facts visible to evaluation: the token's, the request's, the derived ones.
    fn visible(&self) -> u64 {
        let request = (REQUEST_SINGLE.len() + REQUEST_ATTRS.len() * MAX_REQUEST_ATTRS) as u64;
        add(add(self.token_facts, request), self.derived_facts)
    }

    fn candidates(&self, pred: &Predicate, trusted: Trusted) -> u64 {
        let key = (pred.name.clone(), pred.terms.len());
        let written = self.facts.get(&key).map_or(0, |fs| {
            fs.iter()
                .filter(|(b, f)| trusted.reads(*b) && compatible(&pred.terms, f))
                .count()
        }) as u64;
        let derived = self.derived.get(&key).map_or(0, |ds| {
            ds.iter()
                .filter(|d| trusted.reads(d.block) && compatible(&pred.terms, d.head))
                .map(|d| d.count)
                .fold(0, add)
        });
        let name = pred.name.as_str();
        let request = if pred.terms.len() == 1 && REQUEST_SINGLE.contains(&name) {
            1
        } else if pred.terms.len() == 2 && REQUEST_ATTRS.contains(&name) {
            match pred.terms.first() {
                Some(Term::Variable(_)) | None => MAX_REQUEST_ATTRS as u64,
                Some(_) => 1,
            }
        } else {
            0
        };
        add(add(written, derived), request)
    }

    /// The combinations and cost of one query, or the reason it is refused.
    fn query(&self, rule: &Rule, trusted: Trusted, what: &str) -> Result<(u64, u64), String> {
        let n = self.scanned;
        let mut prefix = 1u64;
        let mut cost = 0u64;
        for p in &rule.body {
            let size: u64 = p.terms.iter().map(term_size).fold(0, add);
            cost = add(cost, mul(mul(prefix, n), add(SCAN_COST, units(size))));
            prefix = mul(prefix, self.candidates(p, trusted));
            let bindings = mul(p.terms.len() as u64, self.variable_bytes);
            cost = add(cost, mul(prefix, add(COMBINATION_COST, units(bindings))));
        }
        let combinations = prefix;
        if combinations > self.budget.max_combinations {
            return Err(format!(
                "{what} could bind {combinations} combinations of facts, more than the {} allowed",
                self.budget.max_combinations
            ));
        }
        let mut per = 1u64;
        let mut inserts = 0u64;
        for e in &rule.expressions {
            let (c, i) = self.expression(e, what)?;
            per = add(per, c);
            inserts = add(inserts, i);
        }
        per = add(per, mul(inserts, inserts));
        cost = add(cost, mul(combinations, per));
        Ok((combinations, cost))
    }

    /// The cost of one evaluation of `e`, and how many strings it may insert into the
    /// temporary symbol table.
    fn expression(&self, e: &Expression, what: &str) -> Result<(u64, u64), String> {
        let bound = value_bound(&e.ops, self.variable_bytes);
        if bound > self.budget.max_value_bytes {
            return Err(format!(
                "{what} has an expression whose values could reach {bound} bytes, more than \
                 the {} allowed",
                self.budget.max_value_bytes
            ));
        }
        let mut cost = Walk {
            bound,
            elements: element_bound(&e.ops, self.variable_elements),
            variable_bytes: self.variable_bytes,
            regex_cost: self.budget.regex_cost,
            cost: 0,
            inserts: 0,
        };
        cost.ops(&e.ops, 1);
        Ok((cost.cost, cost.inserts))
    }

    pub(super) fn rules(&mut self, blocks: &'a [BlockData]) -> Result<(), BudgetError> {
        let all: Vec<(usize, usize, &'a Rule)> = blocks
            .iter()
            .enumerate()
            .flat_map(|(b, block)| block.rules.iter().enumerate().map(move |(i, r)| (b, i, r)))
            .collect();
        self.scanned = add(self.visible(), self.budget.max_derived_facts);
        let key = |p: &Predicate| (p.name.clone(), p.terms.len());
        // Kahn's algorithm on "rule r reads the head of rule s".
        let reads = |r: &Rule, s: &Rule| r.body.iter().any(|p| key(p) == key(&s.head));
        let mut depth: Vec<Option<u64>> = vec![None; all.len()];
        let mut done = 0usize;
        while done < all.len() {
            let mut progressed = false;
            for (idx, &(b, i, rule)) in all.iter().enumerate() {
                if depth.get(idx).copied().flatten().is_some() {
                    continue;
                }
                let mut d = 1u64;
                let mut ready = true;
                for (jdx, &(_, _, other)) in all.iter().enumerate() {
                    if reads(rule, other) {
                        match depth.get(jdx).copied().flatten() {
                            Some(od) if jdx != idx => d = d.max(add(od, 1)),
                            _ => ready = false,
                        }
                    }
                }
                if !ready {
                    continue;
                }
                let what = format!("rule {i}");
                let trusted = Trusted::of(blocks, b, rule);
                let (combinations, cost) =
                    self.query(rule, trusted, &what).map_err(|r| refuse(b, r))?;
                let head_size: u64 = rule.head.terms.iter().map(term_size).fold(0, add);
                let head_bytes = mul(rule.head.terms.len() as u64, self.variable_bytes);
                let cost = add(
                    cost,
                    mul(
                        combinations,
                        add(FACT_COST, units(head_size.max(head_bytes))),
                    ),
                );
                self.max_combinations = self.max_combinations.max(combinations);
                self.derived_facts = add(self.derived_facts, combinations);
                if self.derived_facts > self.budget.max_derived_facts {
                    return Err(refuse(
                        b,
                        format!(
                            "{what} could derive {} facts in all, more than the {} allowed",
                            self.derived_facts, self.budget.max_derived_facts
                        ),
                    ));
                }
                self.derived
                    .entry(key(&rule.head))
                    .or_default()
                    .push(Derived {
                        head: &rule.head.terms,
                        count: combinations,
                        block: b,
                    });
                self.rules_cost = add(self.rules_cost, cost);
                self.iterations = self.iterations.max(add(d, 1));
                self.total_check(b)?;
                if let Some(slot) = depth.get_mut(idx) {
                    *slot = Some(d);
                }
                done = done.saturating_add(1);
                progressed = true;
            }
            if !progressed {
                let stuck = all
                    .iter()
                    .zip(&depth)
                    .find(|(_, d)| d.is_none())
                    .map(|((b, i, _), _)| (*b, *i));
                let (b, i) = stuck.unwrap_or((0, 0));
                return Err(refuse(
                    b,
                    format!("rule {i} is recursive (its head is reachable from its body)"),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn checks(&mut self, blocks: &'a [BlockData]) -> Result<(), BudgetError> {
        self.scanned = self.visible();
        for (b, block) in blocks.iter().enumerate() {
            for (i, check) in block.checks.iter().enumerate() {
                for (j, q) in check.queries.iter().enumerate() {
                    let what = if j == 0 {
                        format!("check {i}")
                    } else {
                        format!("check {i} (body {j})")
                    };
                    let trusted = Trusted::of(blocks, b, q);
                    let (combinations, cost) =
                        self.query(q, trusted, &what).map_err(|r| refuse(b, r))?;
                    self.max_combinations = self.max_combinations.max(combinations);
                    self.total = add(self.total, cost);
                    self.total_check(b)?;
                }
            }
        }
        // The authorizer's policy: one predicate over every visible fact.
        self.total = add(self.total, self.visible());
        self.total_check(blocks.len().saturating_sub(1))
    }

    fn grand_total(&self) -> u64 {
        add(self.total, mul(self.rules_cost, self.iterations))
    }

    fn total_check(&self, block: usize) -> Result<(), BudgetError> {
        let total = self.grand_total();
        if total > self.budget.max_cost {
            return Err(refuse(
                block,
                format!(
                    "the token's estimated evaluation cost reaches {total}, more than the {} allowed",
                    self.budget.max_cost
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn cost(&self) -> Cost {
        Cost {
            total: self.grand_total(),
            visible_facts: self.visible(),
            derived_facts: self.derived_facts,
            max_combinations: self.max_combinations,
        }
    }
}

/// `B`: the sum of the sizes of every literal and variable of an expression.
fn value_bound(ops: &[Op], variable_bytes: u64) -> u64 {
    ops.iter()
        .map(|op| match op {
            Op::Value(Term::Variable(_)) => variable_bytes,
            Op::Value(t) => term_size(t),
            Op::Closure(_, body) => value_bound(body, variable_bytes),
            Op::Unary(_) | Op::Binary(_) => 0,
        })
        .fold(1, add)
}

/// `L`: the most elements a collection handled by an expression may have, the sum of the
/// element counts of its literals and variables (a union adds its operands' elements).
fn element_bound(ops: &[Op], variable_elements: u64) -> u64 {
    ops.iter()
        .map(|op| match op {
            Op::Value(Term::Variable(_)) => variable_elements,
            Op::Value(t) => elements(t),
            Op::Closure(_, body) => element_bound(body, variable_elements),
            Op::Unary(_) | Op::Binary(_) => 0,
        })
        .fold(1, add)
}

/// The size of ops as Biscuit clones them (a closure's body at each iteration).
fn ops_size(ops: &[Op]) -> u64 {
    ops.iter()
        .map(|op| match op {
            Op::Value(t) => units(term_size(t)),
            Op::Closure(_, body) => add(1, ops_size(body)),
            Op::Unary(_) | Op::Binary(_) => 1,
        })
        .fold(0, add)
}

struct Walk {
    bound: u64,
    elements: u64,
    variable_bytes: u64,
    regex_cost: u64,
    cost: u64,
    inserts: u64,
}

impl Walk {
    fn ops(&mut self, ops: &[Op], times: u64) {
        let per_op = units(self.bound);
        for op in ops {
            let one = match op {
                Op::Value(Term::Variable(_)) => units(self.variable_bytes),
                Op::Value(t) => units(term_size(t)),
                Op::Unary(Unary::TypeOf) => {
                    self.inserts = add(self.inserts, times);
                    per_op
                }
                Op::Unary(_) => per_op,
                Op::Binary(Binary::Regex) => add(self.regex_cost, per_op),
                Op::Binary(Binary::Add) => {
                    self.inserts = add(self.inserts, times);
                    per_op
                }
                Op::Binary(_) => per_op,
                Op::Closure(params, body) => {
                    let runs = if params.is_empty() { 1 } else { self.elements };
                    let body_size = add(1, ops_size(body));
                    // Pushing the closure, then a clone of the body and of the bound
                    // variables at every run, then the body itself.
                    let setup = add(body_size, mul(runs, add(body_size, per_op)));
                    self.ops(body, mul(times, runs));
                    setup
                }
            };
            self.cost = add(self.cost, mul(times, one));
        }
    }
}
