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
//! `calibrate` test in `budget/tests.rs` (`cargo test --release -p warrant-core
//! budget::tests::calibrate -- --ignored --nocapture`): for each family of blocks (a join of two, a join of three,
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

use crate::blocks::BlockData;

mod model;
mod shape;

use model::Model;
use shape::Shape;

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

#[cfg(test)]
mod tests;
