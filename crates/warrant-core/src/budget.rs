//! A static evaluation budget: every token verifies within a small fixed CPU budget and
//! bounded memory, whatever Datalog its blocks contain.
//!
//! Biscuit checks its time limit only between two iterations of its rule engine, so one
//! query (a join, a closure over a large array, a regex compiled at every evaluation) runs
//! to its end however long it takes. [`check`] bounds the work *before* evaluating: it
//! reads the blocks as data ([`crate::blocks`]) and computes a conservative upper bound of
//! what Biscuit 6 will do with them, refusing the token when the bound is over
//! [`Budget`]. It is pure: no I/O, no clock.
//!
//! # Cost model
//!
//! The unit of cost is one expression op on small values (about 5 to 10 ns in release on
//! the reference machine). Work on a value costs one unit more per [`BYTES_PER_UNIT`]
//! bytes of the value; scanning a fact costs [`SCAN_COST`], binding a combination of facts
//! [`COMBINATION_COST`], a fact derived by a rule [`FACT_COST`].
//!
//! - **Visible facts** `N`: every fact of every block (scoping is ignored, which only
//!   makes the bound larger), the request facts the verifier adds (`time`, `resource`,
//!   `action`, `audience`: one each; `attr` and `attr_age`: [`MAX_REQUEST_ATTRS`] each),
//!   and every fact the token's rules could derive.
//! - **Candidates** of a body predicate: the facts with its name and arity whose constant
//!   terms equal the predicate's constants, among those the query may read (request
//!   predicates: one for `time`, `resource`, `action`, `audience`; one for
//!   `attr`/`attr_age` with a constant name, [`MAX_REQUEST_ATTRS`] otherwise; rule heads:
//!   the rule's combinations). A query with no `trusting` scope, in a block with none,
//!   reads only the facts of the authority block, of its own block and of the verifier,
//!   and those derived by rules of these blocks (Biscuit's default scope: a fact derived
//!   by a rule of block `r` has `r` among its origins); a query with any scope is costed
//!   as reading every block.
//! - **A query** (each body of a check, `check if`, `check all`, `reject if`, and each rule)
//!   with predicates `p1..pn`: Biscuit scans all `N` visible facts for `p1`, then for each
//!   match all `N` again for `p2`, and so on. Its combinations are `C = c1 × … × cn`, its
//!   cost `Σi (c1 × … × ci-1) × N × (SCAN + 1 + size(pi)/U) + Σi (c1 × … × ci) ×
//!   (COMBINATION + 1 + bindings/U) + C × (1 + expressions + I²)`, where `I` counts the ops that may insert a new string
//!   into Biscuit's per-combination temporary symbol table (string `+`, `.type()`), whose
//!   insertion is a linear search. A rule also pays `C × (1 + size(head)/U)` for the facts
//!   it builds, plus [`FACT_COST`] each.
//! - **An expression** costs the sum of its ops. Every value an expression handles is at
//!   most `B` bytes, the sum of the sizes of all its literals and variables (a variable is
//!   at most the largest term of the token, or [`MAX_REQUEST_STRING_BYTES`]): no op makes
//!   a value larger than its operands together, and closures return booleans. An op costs
//!   `1 + B/U`; a literal or variable `1 + size/U`. A closure with a parameter (`.any`,
//!   `.all`) runs its body at most `L` times, `L` the sum of the element counts of the
//!   expression's literals and variables (no op makes a collection larger than that),
//!   and Biscuit clones the body each time; nested closures multiply. A regex (`.matches`)
//!   costs [`Budget::regex_cost`] (Biscuit compiles it at every evaluation); its pattern
//!   must be a string literal (a regex from a variable is refused), at most
//!   [`Budget::max_regex_bytes`], and must compile under [`Budget::regex_size_limit`].
//! - **Rules**: Biscuit runs them to a fixpoint. A rule set is accepted only when it is not
//!   recursive (no head is reachable from itself through rule bodies); rules are costed in
//!   dependency order, each adding its combinations to the candidates of its head, and
//!   the rules run `depth + 1` times (the longest chain of rules, plus the iteration that
//!   finds nothing new). The facts they derive are bounded by
//!   [`Budget::max_derived_facts`].
//! - **The authorizer** adds the request facts and one policy with one predicate (`N`).
//!
//! Memory follows from the same bound: derived facts are bounded, every value built
//! during evaluation is at most `B` (bounded by [`Budget::max_value_bytes`]), and each
//! byte allocated is paid for by the cost of the op that allocated it.
//!
//! # Calibration
//!
//! `Budget::DEFAULT` was calibrated in release mode on the 2-core shared machine with the
//! `calibrate` test below (`cargo test --release -p warrant-core budget::tests::calibrate
//! -- --ignored --nocapture`): for each family of blocks (a join of two, a join of three,
//! one closure over a large array, nested closures, string concatenation in closures,
//! distinct regexes, a regex per combination, two chained rules, many facts) it finds the
//! largest block the budget accepts and times Biscuit on it (median of 5, the verifier's
//! request facts). Measured: the worst accepted block evaluated in 1.3 ms (many facts, a
//! join of 49 × 49), the others between 0.2 and 1.2 ms; `check` itself took 0.2 to 0.7 ms
//! (up to 10 ms on a token of 40 000 bytes of facts). The same machine under heavy load
//! (other builds on both cores) ran the same kind of blocks up to 20 to 40 times slower,
//! which is why the weights stay conservative. The attacks, refused: nested closures over
//! two arrays of 400 took 147 ms, a join of three over 120 facts 3.8 s (over 300 facts
//! it runs for minutes), a rule copying 2 000 bytes into 40 000 facts 17.9 s.
//!
//! The property test `accepted_blocks_evaluate_quickly` (crates/warrant-core/tests/it)
//! and the fuzz target `adversarial_block` check random blocks the budget accepts against a
//! time bound (2 s in debug builds, 100 ms in release, 500 ms in the instrumented fuzzer).

use std::collections::{HashMap, HashSet};

use biscuit_auth::builder::{Binary, Expression, MapKey, Op, Predicate, Rule, Term, Unary};

use crate::blocks::BlockData;

/// The verifier refuses requests with more attributes (each yields at most one `attr`
/// and one `attr_age` fact).
pub const MAX_REQUEST_ATTRS: usize = 64;

/// The size assumed for any string the verifier supplies (resource, action, audience,
/// attribute names and values) when costing string operations. A verifier should refuse
/// longer request strings.
pub const MAX_REQUEST_STRING_BYTES: usize = 1024;

/// Bytes (or collection elements) of a value that cost one unit of work.
pub const BYTES_PER_UNIT: u64 = 64;

/// The cost of scanning one visible fact while matching a predicate (name and terms
/// compared, origin checked), in units.
pub const SCAN_COST: u64 = 10;

/// The cost of one combination of facts bound by a query (Biscuit clones the bindings and
/// the set of origins, and builds a temporary symbol table), in units.
pub const COMBINATION_COST: u64 = 200;

/// The cost of one fact a rule produces (hashed into a fact set and merged at every
/// iteration), in units.
pub const FACT_COST: u64 = 300;

/// The limits a token must fit. All counts are per token (every block together) unless
/// stated otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The estimated total cost (see the module documentation), in units.
    pub max_cost: u64,
    /// Facts written in the token's blocks.
    pub max_facts: usize,
    /// Rules in the token's blocks.
    pub max_rules: usize,
    /// Check bodies (each alternative of each check) in the token's blocks.
    pub max_checks: usize,
    /// Predicates in one body (a check's alternative or a rule).
    pub max_predicates: usize,
    /// Ops in one expression, closure bodies included.
    pub max_expression_ops: usize,
    /// Closures nested in one another.
    pub max_closure_depth: usize,
    /// The size of one term: bytes of a string or byte string, one plus the sizes of the
    /// elements of a collection, recursively.
    pub max_term_bytes: usize,
    /// The bound `B` of the values one expression may build (the sum of its literals and
    /// variables).
    pub max_value_bytes: u64,
    /// Combinations of facts one query may bind.
    pub max_combinations: u64,
    /// Facts the token's rules may derive, together.
    pub max_derived_facts: u64,
    /// Distinct regex patterns in the token.
    pub max_regexes: usize,
    /// Bytes of one regex pattern.
    pub max_regex_bytes: usize,
    /// The compiled size a regex pattern must fit (`regex::RegexBuilder::size_limit` and
    /// `dfa_size_limit`).
    pub regex_size_limit: usize,
    /// The cost of evaluating one `.matches` (Biscuit compiles the regex every time).
    pub regex_cost: u64,
}

impl Budget {
    /// The budget warrant verifies with: the worst token it accepts evaluates in a few
    /// milliseconds (see the module documentation).
    pub const DEFAULT: Budget = Budget {
        max_cost: 1_000_000,
        max_facts: 512,
        max_rules: 32,
        max_checks: 128,
        max_predicates: 8,
        max_expression_ops: 256,
        max_closure_depth: 2,
        max_term_bytes: 4096,
        max_value_bytes: 16_384,
        max_combinations: 10_000,
        max_derived_facts: 1_000,
        max_regexes: 32,
        max_regex_bytes: 1024,
        regex_size_limit: 64 * 1024,
        regex_cost: 50_000,
    };
}

impl Default for Budget {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The estimated work of a token's evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// The total cost, in units (see the module documentation).
    pub total: u64,
    /// The facts visible to evaluation: the token's, the request's, the derived ones.
    pub visible_facts: u64,
    /// The facts the token's rules may derive.
    pub derived_facts: u64,
    /// The most combinations of facts one query may bind.
    pub max_combinations: u64,
}

/// Why a token is outside the evaluation budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {block} is outside the evaluation budget: {reason}")]
pub struct BudgetError {
    /// The block (0: authority) the limit was exceeded in.
    pub block: usize,
    /// Which limit, and by what value.
    pub reason: String,
}

fn refuse(block: usize, reason: String) -> BudgetError {
    BudgetError { block, reason }
}

/// Checks that evaluating `blocks` (authority first) stays within `budget`, and returns the
/// estimated cost.
pub fn check(blocks: &[BlockData], budget: &Budget) -> Result<Cost, BudgetError> {
    let shape = Shape::read(blocks, budget)?;
    let mut model = Model::new(blocks, budget, &shape);
    model.rules(blocks)?;
    model.checks(blocks)?;
    Ok(model.cost())
}

/// What the structural pass learns: the largest term, and the regexes it validated.
struct Shape {
    /// The largest term of the token, or a request string.
    variable_bytes: u64,
    /// The most elements of a term of the token (request values are scalars or strings).
    variable_elements: u64,
}

impl Shape {
    fn read(blocks: &[BlockData], budget: &Budget) -> Result<Self, BudgetError> {
        let (mut facts, mut rules, mut checks) = (0usize, 0usize, 0usize);
        let mut largest = 0u64;
        let mut most_elements = 1u64;
        let mut regexes: HashSet<&str> = HashSet::new();
        for (b, block) in blocks.iter().enumerate() {
            facts = facts.saturating_add(block.facts.len());
            if facts > budget.max_facts {
                return Err(refuse(
                    b,
                    format!(
                        "the token has {facts} facts, more than the {} allowed",
                        budget.max_facts
                    ),
                ));
            }
            rules = rules.saturating_add(block.rules.len());
            if rules > budget.max_rules {
                return Err(refuse(
                    b,
                    format!(
                        "the token has {rules} rules, more than the {} allowed",
                        budget.max_rules
                    ),
                ));
            }
            checks = checks.saturating_add(block.checks.iter().map(|c| c.queries.len()).sum());
            if checks > budget.max_checks {
                return Err(refuse(
                    b,
                    format!(
                        "the token has {checks} check bodies, more than the {} allowed",
                        budget.max_checks
                    ),
                ));
            }
            let mut terms: Vec<&Term> = Vec::new();
            for fact in &block.facts {
                terms.extend(&fact.predicate.terms);
            }
            let queries = block
                .rules
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("rule {i}"), r))
                .chain(block.checks.iter().enumerate().flat_map(|(i, c)| {
                    c.queries.iter().enumerate().map(move |(j, q)| {
                        (
                            if j == 0 {
                                format!("check {i}")
                            } else {
                                format!("check {i} (body {j})")
                            },
                            q,
                        )
                    })
                }));
            for (what, rule) in queries {
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
                    literals(&e.ops, &mut terms);
                    regex_patterns(&e.ops, &mut |pattern| match pattern {
                        None => Err(refuse(
                            b,
                            format!("{what} matches a regex that is not a string literal"),
                        )),
                        Some(p) => {
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
                            if regexes.contains(p) {
                                return Ok(());
                            }
                            if regexes.len() >= budget.max_regexes {
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
                                            "{what} has a regex that does not compile within \
                                             {} bytes",
                                            budget.regex_size_limit
                                        ),
                                    )
                                })?;
                            regexes.insert(p);
                            Ok(())
                        }
                    })?;
                }
            }
            for t in terms {
                let size = term_size(t);
                if size > budget.max_term_bytes as u64 {
                    return Err(refuse(
                        b,
                        format!(
                            "a term of size {size} is larger than the {} allowed",
                            budget.max_term_bytes
                        ),
                    ));
                }
                largest = largest.max(size);
                most_elements = most_elements.max(elements(t));
            }
        }
        Ok(Shape {
            variable_bytes: largest.max(MAX_REQUEST_STRING_BYTES as u64),
            variable_elements: most_elements,
        })
    }
}

/// The size of a term: bytes of a string, one plus the sizes of a collection's elements.
fn term_size(t: &Term) -> u64 {
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

struct Model<'a> {
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
    fn new(blocks: &'a [BlockData], budget: &'a Budget, shape: &Shape) -> Self {
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

    fn rules(&mut self, blocks: &'a [BlockData]) -> Result<(), BudgetError> {
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

    fn checks(&mut self, blocks: &'a [BlockData]) -> Result<(), BudgetError> {
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

    fn cost(&self) -> Cost {
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

/// Elements of a term, nested ones included (one for a scalar or a string).
fn elements(t: &Term) -> u64 {
    let sum = |it: &mut dyn Iterator<Item = u64>| it.fold(1u64, u64::saturating_add);
    match t {
        Term::Array(a) => sum(&mut a.iter().map(elements)),
        Term::Set(s) => sum(&mut s.iter().map(elements)),
        Term::Map(m) => sum(&mut m.values().map(|v| add(1, elements(v)))),
        _ => 1,
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::HashMap;
    use std::fmt::Write as _;
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit, BlockBuilder};

    use super::*;
    use crate::blocks::read_blocks;
    use crate::grant::Grant;
    use crate::keys::{KeyId, SigningKey};
    use crate::request::RequestFacts;
    use crate::time::Timestamp;
    use crate::token::{mint, MintRequest};
    use crate::value::Value;

    const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

    /// A warrant authority block: audience, expiry, allow and deny rules with conditions.
    fn minted() -> &'static Biscuit {
        static T: OnceLock<Biscuit> = OnceLock::new();
        T.get_or_init(|| {
            let key = SigningKey::from_secret_bytes(&[3u8; 32], Some(KeyId(1))).unwrap();
            let grant = Grant::from_json_str(
                r#"{ "audience": ["support-api", "billing"], "ttl": "10m",
                  "allow": [
                    { "resources": ["tickets/123/customer_name", "tickets/123/email_address"],
                      "actions": ["read"], "when": [ { "attr": "ticket.status", "eq": "open" } ] },
                    { "resources": ["orders/*/order_status"], "actions": ["update", "read"],
                      "when": [ { "attr": "order.placed_at", "within": "24h" } ] },
                    { "resources": ["orders/*"], "actions": ["refund"],
                      "when": [ { "attr": "amount", "lt": 5000 }, { "attr": "reason", "present": true } ] }
                  ],
                  "deny": [ { "resources": ["customers/*/payment_card"], "actions": ["*"] } ] }"#,
            )
            .unwrap();
            mint(&key, MintRequest::offline(grant), NOW, &mut rand_core::OsRng)
                .unwrap()
                .token
        })
    }

    fn with_block(code: &str) -> Biscuit {
        minted()
            .append(BlockBuilder::new().code(code).unwrap())
            .unwrap()
    }

    fn blocks(token: &Biscuit) -> Vec<BlockData> {
        read_blocks(&token.to_vec().unwrap()).unwrap()
    }

    fn budget_of(code: &str) -> Result<Cost, BudgetError> {
        check(&blocks(&with_block(code)), &Budget::DEFAULT)
    }

    fn refused(code: &str, needle: &str) -> BudgetError {
        let e = budget_of(code).expect_err("refused");
        assert_eq!(e.block, 1, "{e}");
        assert!(e.reason.contains(needle), "{e} does not mention {needle:?}");
        assert!(!e.reason.contains('\n'));
        e
    }

    fn request() -> RequestFacts {
        let mut r = RequestFacts::new("tickets/123/email_address", "read", NOW);
        r.audience = Some("support-api".to_owned());
        r.attrs
            .insert("ticket.status".to_owned(), Value::String("open".to_owned()));
        r.attrs
            .insert("order.placed_at".to_owned(), Value::Date(NOW));
        r
    }

    /// Biscuit's evaluation of `token` as the verifier runs it, with generous limits: the
    /// time it took.
    fn evaluate(token: &Biscuit) -> Duration {
        let (src, params) = request().datalog();
        let start = Instant::now();
        let authorizer = AuthorizerBuilder::new()
            .set_limits(AuthorizerLimits {
                max_facts: 100_000,
                max_iterations: 100,
                max_time: Duration::from_secs(60),
            })
            .code_with_params(&src, params, HashMap::new())
            .unwrap()
            .policy("allow if true")
            .unwrap()
            .build(token);
        if let Ok(mut a) = authorizer {
            let _ = a.authorize();
        }
        start.elapsed()
    }

    fn array(n: usize) -> String {
        let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("[{}]", items.join(", "))
    }

    fn facts(name: &str, n: usize) -> String {
        (0..n).fold(String::new(), |mut s, i| {
            let _ = write!(s, "{name}({i}); ");
            s
        })
    }

    #[test]
    fn warrant_tokens_and_plain_attenuations_are_accepted() {
        let authority = check(&blocks(minted()), &Budget::DEFAULT).unwrap();
        assert!(authority.total > 0);
        for code in [
            "check if action(\"read\");",
            "check if time($t), $t <= 2030-01-01T00:00:00Z;",
            "check if resource($r), $r.starts_with(\"tickets/\");",
            "check if operation(\"read\");",
            "right(\"file1\", \"read\"); right(\"file2\", \"write\"); owner(\"alice\", \"file1\");
             check if right($f, \"read\"), owner(\"alice\", $f);",
            "check if resource($r), $r.matches(\"^tickets/[0-9]+/[a-z_]+$\");",
            "check if attr(\"ticket.status\", $s), [\"open\", \"pending\"].contains($s);",
            "check if [1, 2, 3].any($x -> $x > 2);",
            "can(\"read\"); can_do($a) <- can($a); check if action($a), can_do($a);",
        ] {
            let cost = budget_of(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert!(cost.total >= authority.total, "{code}");
        }
    }

    #[test]
    fn nested_closures_over_large_arrays_are_refused() {
        let a = array(400);
        refused(
            &format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));"),
            "cost",
        );
        refused(
            &format!("check if {a}.any($x -> {a}.any($y -> {a}.any($z -> $x == $z)));"),
            "nests closures 3 deep, more than the 2 allowed",
        );
    }

    #[test]
    fn joins_over_many_facts_are_refused() {
        let e = refused(
            &format!(
                "{} check if big($a), big($b), big($c), $a + $b == $c;",
                facts("big", 300)
            ),
            "check 0 could bind 27000000 combinations of facts, more than the 10000 allowed",
        );
        assert_eq!(
            e.to_string(),
            "block 1 is outside the evaluation budget: check 0 could bind 27000000 combinations \
             of facts, more than the 10000 allowed"
        );
        // Request attributes count: every unnamed `attr` is MAX_REQUEST_ATTRS facts.
        refused(
            "check if attr($a, $x), attr($b, $y), attr($c, $z), $x == $y;",
            "262144 combinations",
        );
    }

    /// Biscuit's default scope hides a block's facts (and the facts its rules derive) from
    /// the checks of other blocks but the authority's: a third-party block's facts do not
    /// multiply the authority block's checks. A `trusting` scope widens what is counted.
    #[test]
    fn facts_count_only_where_biscuit_lets_them_be_read() {
        let join = "check if big($a), big($b), $a + $b == 1;";
        let token = with_block(&facts("big", 150));
        let later = |code: &str| {
            token
                .append(BlockBuilder::new().code(code).unwrap())
                .unwrap()
        };
        let default_scope = check(&blocks(&later(join)), &Budget::DEFAULT).unwrap();
        assert_eq!(default_scope.max_combinations, 1);
        let e = check(
            &blocks(&later(
                "check if big($a), big($b), $a + $b == 1 trusting previous;",
            )),
            &Budget::DEFAULT,
        )
        .unwrap_err();
        assert_eq!(e.block, 2, "{e}");
        assert!(e.reason.contains("22500 combinations"), "{e}");
        // A block-level scope, and facts derived by a rule of the hidden block.
        let scoped = token
            .append(
                BlockBuilder::new()
                    .code(join)
                    .unwrap()
                    .scope(biscuit_auth::builder::Scope::Previous),
            )
            .unwrap();
        assert!(check(&blocks(&scoped), &Budget::DEFAULT).is_err());
        let derived = with_block(&format!("{} huge($x) <- big($x);", facts("big", 150)))
            .append(
                BlockBuilder::new()
                    .code("check if huge($a), huge($b), $a + $b == 1;")
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(
            check(&blocks(&derived), &Budget::DEFAULT)
                .unwrap()
                .max_combinations,
            150
        );
        // Biscuit agrees: the check in the later block sees none of the facts.
        let d = evaluate(&later(join));
        assert!(d < Duration::from_secs(1), "{d:?}");
    }

    #[test]
    fn rules_copying_bytes_into_many_facts_are_refused() {
        let bytes = "ab".repeat(2000);
        refused(
            &format!(
                "{} {} blob(hex:{bytes}); copy($a, $b, $x) <- n($a), m($b), blob($x);",
                facts("n", 200),
                facts("m", 200)
            ),
            "rule 0 could bind 40000 combinations",
        );
        refused(
            &format!(
                "{} blob(hex:{bytes}); copy($a, $x) <- n($a), blob($x); copy2($a, $b, $x) <- copy($a, $x), n($b);",
                facts("n", 40)
            ),
            "",
        );
        refused(
            &format!("blob(hex:{});", "ab".repeat(5000)),
            "a term of size 5000 is larger than the 4096 allowed",
        );
    }

    #[test]
    fn recursive_rules_are_refused() {
        refused(
            "edge(1, 2); path($a, $b) <- edge($a, $b); path($a, $c) <- path($a, $b), edge($b, $c);",
            "rule 1 is recursive",
        );
        refused("p(1); p($x) <- p($x);", "rule 0 is recursive");
        refused(
            "a(1); b($x) <- a($x), c($x); c($x) <- b($x);",
            "is recursive",
        );
    }

    #[test]
    fn hostile_regexes_are_refused() {
        refused(
            "check if resource($r), $r.matches(\"(((a{100}){100}){100})\");",
            "does not compile within 65536 bytes",
        );
        refused(
            "pat(\"^a+$\"); check if resource($r), pat($p), $r.matches($p);",
            "check 0 matches a regex that is not a string literal",
        );
        refused(
            &format!(
                "check if resource($r), $r.matches(\"{}\");",
                "a".repeat(1100)
            ),
            "regex of 1100 bytes, more than the 1024 allowed",
        );
        let many: String = (0..40)
            .map(|i| format!("check if resource($r), $r.matches(\"^x{i}$\");"))
            .collect();
        refused(&many, "more than the 32 regexes allowed");
    }

    #[test]
    fn every_count_limit_is_enforced() {
        // The appended 600 facts and the minted authority block's own.
        let authority_facts = blocks(minted())[0].facts.len();
        refused(
            &facts("f", 600),
            &format!(
                "the token has {} facts, more than the 512 allowed",
                600 + authority_facts
            ),
        );
        let rules: String = (0..40).map(|i| format!("r{i}($x) <- a($x);")).collect();
        refused(&rules, "the token has 40 rules, more than the 32 allowed");
        let checks: String = (0..130).map(|_| "check if true;".to_owned()).collect();
        refused(&checks, "check bodies, more than the 128 allowed");
        refused(
            "check if a($a), b($b), c($c), d($d), e($e), f($f), g($g), h($h), i($i);",
            "check 0 has 9 predicates, more than the 8 allowed",
        );
        let long = (0..200)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" + ");
        refused(
            &format!("check if {long} > 0;"),
            "an expression of 401 ops, more than the 256 allowed",
        );
        let strings: Vec<String> = (0..5)
            .map(|i| format!("\"{}\"", "s".repeat(4000 + i)))
            .collect();
        refused(
            &format!("check if {} == \"x\";", strings.join(" + ")),
            "whose values could reach",
        );
    }

    #[test]
    fn string_growth_is_refused() {
        let words: Vec<String> = (0..200).map(|i| format!("\"word{i}\"")).collect();
        let a = format!("[{}]", words.join(", "));
        refused(
            &format!("check if {a}.any($x -> {a}.any($y -> ($x + $y + $x).length() < 0));"),
            "cost",
        );
    }

    #[test]
    fn refusing_is_cheap_and_attacks_are_slow() {
        // The attacks really are expensive for Biscuit (so the budget is needed), and the
        // budget's refusal itself is quick. Scaled down to stay fast in debug builds.
        let a = array(150);
        let token = with_block(&format!(
            "check if {a}.any($x -> {a}.any($y -> $x + $y == -1));"
        ));
        let start = Instant::now();
        assert!(check(&blocks(&token), &Budget::DEFAULT).is_err());
        let refusal = start.elapsed();
        let evaluation = evaluate(&token);
        assert!(
            evaluation > refusal * 5,
            "evaluation {evaluation:?}, refusal {refusal:?}"
        );
    }

    fn report(name: &str, token: &Biscuit, runs: usize) -> (u64, Duration) {
        let start = Instant::now();
        let cost = check(&blocks(token), &Budget::DEFAULT).map(|c| c.total);
        println!("{name:<40} budget check took {:?}", start.elapsed());
        let mut times: Vec<Duration> = (0..runs).map(|_| evaluate(token)).collect();
        times.sort();
        let t = times[times.len() / 2];
        println!("{name:<40} cost {cost:?} median {t:?}");
        (cost.unwrap_or(u64::MAX), t)
    }

    /// The largest `n` for which `make(n)` is accepted.
    fn edge(make: &dyn Fn(usize) -> String, start: usize) -> Option<(usize, Biscuit)> {
        let mut n = start;
        let mut best = None;
        while n < 100_000 {
            let token = with_block(&make(n));
            if check(&blocks(&token), &Budget::DEFAULT).is_err() {
                break;
            }
            best = Some((n, token));
            n = n + n / 8 + 1;
        }
        best
    }

    /// Tokens at the edge of the budget, and the attacks, timed. Run in release:
    /// `cargo test --release -p warrant-core budget::tests::calibrate -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, run in release"]
    fn calibrate() {
        type Family = (&'static str, Box<dyn Fn(usize) -> String>);
        let families: Vec<Family> = vec![
            (
                "join of two",
                Box::new(|n| {
                    format!(
                        "{} check if big($a), big($b), $a + $b == -1;",
                        facts("big", n)
                    )
                }),
            ),
            (
                "join of three",
                Box::new(|n| {
                    format!(
                        "{} check if big($a), big($b), big($c), $a + $b == $c + 1000000;",
                        facts("big", n)
                    )
                }),
            ),
            (
                "join, many checks",
                Box::new(|n| {
                    format!(
                        "{} {}",
                        facts("big", 60),
                        "check if big($a), big($b), $a + $b == -1;".repeat(n)
                    )
                }),
            ),
            (
                "closure",
                Box::new(|n| format!("check if {}.any($x -> $x == -1);", array(n))),
            ),
            (
                "nested closures",
                Box::new(|n| {
                    let a = array(n);
                    format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));")
                }),
            ),
            (
                "nested closures, many checks",
                Box::new(|n| {
                    let a = array(20);
                    format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));").repeat(n)
                }),
            ),
            (
                "string concat in closures",
                Box::new(|n| {
                    let w: Vec<String> = (0..n).map(|i| format!("\"w{i}\"")).collect();
                    let a = format!("[{}]", w.join(","));
                    format!("check if {a}.any($x -> {a}.any($y -> ($x + $y).length() < 0));")
                }),
            ),
            (
                "regexes",
                Box::new(|n| {
                    (0..n).map(|i| format!("check if resource($r), $r.matches(\"^(a|b|c|d|e|f|g|h)*[0-9]{{1,{}}}x{i}$\");", 20 + i)).collect()
                }),
            ),
            (
                "regex per combination",
                Box::new(|n| {
                    format!("{} check if big($a), resource($r), $r.matches(\"^(t|u|v)+[a-z]{{1,40}}/x$\");", facts("big", n))
                }),
            ),
            (
                "unicode regex per combination",
                Box::new(|n| {
                    format!("{} check if big($a), resource($r), $r.matches(\"^\\\\w{{1,40}}[a-z]{{1,100}}(x|y|z){{1,30}}\\\\d{{2,9}}$\");", facts("big", n))
                }),
            ),
            (
                "rules",
                Box::new(|n| {
                    format!("{} d1($x, $y) <- big($x), big($y); d2($x, $y) <- d1($x, $y); check if d2($a, $b), $a == -1;", facts("big", n))
                }),
            ),
            (
                "many facts",
                Box::new(|n| {
                    format!(
                        "{} check if f($x), $x < 0; check if f($x), f($y), $x == -1;",
                        facts("f", n)
                    )
                }),
            ),
            (
                "unnamed attrs",
                Box::new(|n| {
                    format!(
                        "check if attr($a, $x), attr($b, $y), $x == $y;{}",
                        " check if attr($a, $x), attr($b, $y), $x == $y;".repeat(n)
                    )
                }),
            ),
        ];
        let mut worst = Duration::ZERO;
        for (name, make) in &families {
            if let Some((n, token)) = edge(make.as_ref(), 1) {
                let (_, t) = report(&format!("{name} (n = {n})"), &token, 5);
                worst = worst.max(t);
            }
        }
        println!("worst accepted: {worst:?}");
        let a = array(400);
        let bytes = "ab".repeat(2000);
        for (name, code) in [
            ("attack: nested closures 400x400", format!("check if {a}.any($x -> {a}.any($y -> $x + $y == -1));")),
            ("attack: join of three over 120", format!("{} check if big($a), big($b), big($c), $a + $b == $c + 1000000;", facts("big", 120))),
            ("attack: bytes into 40000 facts", format!("{} {} blob(hex:{bytes}); copy($a, $b, $x) <- n($a), m($b), blob($x); check if copy($a, $b, $x), $a == -1;", facts("n", 200), facts("m", 200))),
        ] {
            report(name, &with_block(&code), 1);
        }
    }
}
