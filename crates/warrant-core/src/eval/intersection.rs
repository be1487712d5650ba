//! The blocks of a token merged into one evaluable grant: a yes/no fast path.
//!
//! A request is allowed when every block of the token allows it. [`Intersection::of`]
//! computes, once per verified token, one value that allows exactly the requests every
//! block allows, so that each request is then decided by a single pass
//! ([`Intersection::allows`]) instead of one [`evaluate`](super::evaluate) per block:
//!
//! - the lifetime is the narrowest: the earliest `expires_at`, the latest `not_before`;
//! - the audience is the intersection of the blocks' non-empty audience lists (an empty
//!   list constrains nothing; two disjoint lists leave no audience at all);
//! - the allow rules are the cartesian product of the rules of the blocks that have any
//!   (a block without allow rules does not restrict allow), each combination intersected:
//!   its resource patterns pairwise ([`ResourcePattern::intersect`]), its actions (`*`
//!   is neutral), its conditions and human requirements all kept. A combination whose
//!   resources or actions meet nowhere is dropped;
//! - the deny rules are those of every block: each fires on its own.
//!
//! Every step is exact, not an approximation: a request matches the product rule of
//! `(r1, …, rn)` iff it matches each `ri`, and it matches some rule of every block iff
//! it matches some product rule. So `allows` decides as the blocks do, for every request
//! and every human (a property test holds it to [`evaluate`](super::evaluate)).
//!
//! The product can grow as the product of the blocks' rule counts; when the merged form
//! would hold more than [`MAX_MERGED_RULES`] allow rules, or one of them more than
//! [`MAX_MERGED_RESOURCES`] resource patterns, [`Intersection::of`] returns `None` and
//! the caller evaluates block by block. Attenuation narrows one or two rules at a time,
//! so real tokens stay far below the caps.
//!
//! It only answers yes or no: on `false` the caller explains the denial with
//! [`evaluate`](super::evaluate), block by block, which names the block and the rule.
//!
//! ```
//! use warrant_core::eval::{evaluate, Intersection};
//! use warrant_core::grant::Grant;
//! use warrant_core::request::RequestFacts;
//! use warrant_core::time::Timestamp;
//!
//! let authority = Grant::from_json_str(r#"{
//!     "allow": [{ "resources": ["tickets/*/*"], "actions": ["read", "update"] }],
//!     "deny": [{ "resources": ["tickets/*/payment_card"], "actions": ["*"] }]
//! }"#)?;
//! let narrower = Grant::from_json_str(
//!     r#"{ "allow": [{ "resources": ["tickets/123/**"], "actions": ["read"] }] }"#,
//! )?;
//! let merged = Intersection::of(&[&authority, &narrower]).expect("within the caps");
//!
//! let now = Timestamp::from_unix(1_796_032_800);
//! let email = RequestFacts::new("tickets/123/email_address", "read", now);
//! let card = RequestFacts::new("tickets/123/payment_card", "read", now);
//! let update = RequestFacts::new("tickets/123/email_address", "update", now);
//! assert!(merged.allows(None, &email));
//! assert!(!merged.allows(None, &card));
//! assert!(!merged.allows(None, &update));
//! // A denial is explained block by block.
//! assert!(evaluate(&authority, None, &update).is_empty());
//! assert!(!evaluate(&narrower, None, &update).is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{conditions_hold, deny_applies, human_holds, within_lifetime, HumanFacts};
use crate::grant::{Actions, Condition, Grant, HumanRequirement, Rule};
use crate::pattern::{Action, Audience, ResourcePattern};
use crate::request::RequestFacts;
use crate::time::Timestamp;

/// At most this many allow rules in an [`Intersection`] (the largest a single grant may
/// hold, [`crate::grant::MAX_RULES`]).
pub const MAX_MERGED_RULES: usize = 64;
/// At most this many resource patterns in one allow rule of an [`Intersection`] (the
/// largest a single rule may hold, [`crate::grant::MAX_ITEMS`]).
pub const MAX_MERGED_RESOURCES: usize = 64;
/// At most this much work in making an [`Intersection`]: pairs of rules tried, pairs of
/// resource patterns intersected and pairs of conditions compared, counted whether or not
/// they meet. The caps above count only what the merge keeps, so without this one blocks
/// whose rules almost never meet (64 rules of 64 patterns each, per block) would cost
/// millions of pattern intersections before any expiry or revocation is checked. Real
/// tokens take a few dozen.
pub const MAX_MERGE_WORK: usize = 16_384;

/// The grants of several blocks merged into one that allows exactly what all of them
/// allow; see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intersection {
    expires_at: Option<Timestamp>,
    not_before: Option<Timestamp>,
    /// `None`: any audience; otherwise one of these (none at all when empty).
    audience: Option<Box<[Audience]>>,
    /// `None`: no block has allow rules; otherwise one of these must match (none can
    /// when empty).
    allow: Option<Box<[MergedRule]>>,
    deny: Box<[Rule]>,
}

/// An allow rule of an [`Intersection`]: one allow rule of each block, intersected.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MergedRule {
    /// Never empty.
    resources: Box<[ResourcePattern]>,
    /// `None`: every action; otherwise never empty.
    actions: Option<Box<[Action]>>,
    when: Box<[Condition]>,
    humans: Box<[HumanRequirement]>,
}

/// The merge would exceed a cap.
struct TooLarge;

impl Intersection {
    /// The intersection of `grants` (the blocks of one token, in any order), or `None`
    /// when it would exceed [`MAX_MERGED_RULES`], [`MAX_MERGED_RESOURCES`] or
    /// [`MAX_MERGE_WORK`]: then
    /// evaluate the blocks one by one. Like [`evaluate`](super::evaluate), it reads
    /// `expires_at` and `not_before` (not `ttl`) and ignores raw Datalog.
    pub fn of(grants: &[&Grant]) -> Option<Intersection> {
        let expires_at = grants.iter().filter_map(|g| g.expires_at).min();
        let not_before = grants.iter().filter_map(|g| g.not_before).max();
        let mut audience: Option<Vec<Audience>> = None;
        for g in grants.iter().filter(|g| !g.audience.is_empty()) {
            audience = Some(match audience {
                None => g.audience.clone(),
                Some(mut kept) => {
                    kept.retain(|a| g.audience.contains(a));
                    kept
                }
            });
        }
        let mut allow: Option<Vec<MergedRule>> = None;
        let mut work = 0usize;
        for g in grants.iter().filter(|g| !g.allow.is_empty()) {
            let product = match &allow {
                None => g
                    .allow
                    .iter()
                    .filter_map(|r| MergedRule::from_rule(r).transpose())
                    .collect::<Result<_, _>>()
                    .ok()?,
                Some(rules) => product(rules, &g.allow, &mut work).ok()?,
            };
            if product.len() > MAX_MERGED_RULES {
                return None;
            }
            allow = Some(product);
        }
        // Every block's deny rules, duplicates kept: removing them would compare every
        // pair (quadratic in the blocks' rules), and a duplicate only repeats a check.
        let deny: Vec<Rule> = grants.iter().flat_map(|g| g.deny.iter().cloned()).collect();
        Some(Intersection {
            expires_at,
            not_before,
            audience: audience.map(Vec::into_boxed_slice),
            allow: allow.map(Vec::into_boxed_slice),
            deny: deny.into_boxed_slice(),
        })
    }

    /// Whether every merged block allows `req`: exactly
    /// `grants.iter().all(|g| evaluate(g, human, req).is_empty())` for the grants this
    /// was made of. Allocates nothing and stops at the first failing check.
    pub fn allows(&self, human: Option<&HumanFacts>, req: &RequestFacts) -> bool {
        within_lifetime(self.expires_at, self.not_before, req)
            && self.audience.as_deref().is_none_or(|list| {
                req.audience
                    .as_deref()
                    .is_some_and(|a| list.iter().any(|x| x.as_str() == a))
            })
            && self
                .allow
                .as_deref()
                .is_none_or(|rules| rules.iter().any(|r| r.allows(human, req)))
            && !self.deny.iter().any(|r| deny_applies(r, req))
    }

    /// How many allow rules the merged form holds (`None`: no block restricts allow).
    pub fn allow_rules(&self) -> Option<usize> {
        self.allow.as_deref().map(<[MergedRule]>::len)
    }

    /// The heap memory this value holds (bytes): its arrays, and the text and segments
    /// of its resource patterns. Not counted: the heap of the deny rules' and of the
    /// conditions' and human requirements' own values (strings and lists in them), which
    /// are copies of the grants'.
    pub fn heap_bytes(&self) -> usize {
        let audience = self.audience.as_deref().map_or(0, |a| {
            size_of_val(a) + a.iter().map(|x| x.as_str().len()).sum::<usize>()
        });
        let allow = self.allow.as_deref().map_or(0, |rules| {
            size_of_val(rules) + rules.iter().map(MergedRule::heap_bytes).sum::<usize>()
        });
        let deny = size_of_val(&*self.deny)
            + self
                .deny
                .iter()
                .map(|r| {
                    r.resources.capacity() * size_of::<ResourcePattern>()
                        + r.resources
                            .iter()
                            .map(ResourcePattern::heap_bytes)
                            .sum::<usize>()
                        + r.when.capacity() * size_of::<Condition>()
                })
                .sum::<usize>();
        audience + allow + deny
    }
}

/// Every rule of `rules` intersected with every rule of `block` (dropping the pairs that
/// meet nowhere), or `TooLarge` past the caps or once `work` exceeds [`MAX_MERGE_WORK`].
fn product(
    rules: &[MergedRule],
    block: &[Rule],
    work: &mut usize,
) -> Result<Vec<MergedRule>, TooLarge> {
    let mut out = Vec::new();
    for a in rules {
        for b in block {
            // Counted before the pair is tried: the bound holds whatever the pair gives.
            *work = work
                .saturating_add(1)
                .saturating_add(a.resources.len().saturating_mul(b.resources.len()))
                .saturating_add(a.when.len().saturating_mul(b.when.len()));
            if *work > MAX_MERGE_WORK {
                return Err(TooLarge);
            }
            if let Some(r) = a.and(b)? {
                if out.len() == MAX_MERGED_RULES {
                    return Err(TooLarge);
                }
                out.push(r);
            }
        }
    }
    out.shrink_to_fit();
    Ok(out)
}

impl MergedRule {
    /// `rule` alone, or `Ok(None)` if it covers nothing (no resource, or no action).
    fn from_rule(rule: &Rule) -> Result<Option<MergedRule>, TooLarge> {
        let actions = match &rule.actions {
            Actions::Any => None,
            Actions::Listed(l) if l.is_empty() => return Ok(None),
            Actions::Listed(l) => Some(l.clone().into_boxed_slice()),
        };
        if rule.resources.is_empty() {
            return Ok(None);
        }
        if rule.resources.len() > MAX_MERGED_RESOURCES {
            return Err(TooLarge);
        }
        Ok(Some(MergedRule {
            resources: rule.resources.clone().into_boxed_slice(),
            actions,
            when: rule.when.clone().into_boxed_slice(),
            humans: rule.human.iter().cloned().collect(),
        }))
    }

    /// This rule and `rule` both: `Ok(None)` when they cover no request in common.
    fn and(&self, rule: &Rule) -> Result<Option<MergedRule>, TooLarge> {
        let actions = match (&self.actions, &rule.actions) {
            (None, Actions::Any) => None,
            (None, Actions::Listed(l)) => Some(l.clone()),
            (Some(mine), Actions::Any) => Some(mine.to_vec()),
            (Some(mine), Actions::Listed(l)) => {
                Some(mine.iter().filter(|a| l.contains(a)).cloned().collect())
            }
        };
        if actions.as_ref().is_some_and(Vec::is_empty) {
            return Ok(None);
        }
        let mut resources: Vec<ResourcePattern> = Vec::new();
        for p in &self.resources {
            for q in &rule.resources {
                if let Some(both) = p.intersect(q) {
                    if !resources.contains(&both) {
                        if resources.len() == MAX_MERGED_RESOURCES {
                            return Err(TooLarge);
                        }
                        resources.push(both);
                    }
                }
            }
        }
        if resources.is_empty() {
            return Ok(None);
        }
        let mut when = self.when.to_vec();
        for c in &rule.when {
            if !when.contains(c) {
                when.push(c.clone());
            }
        }
        let mut humans = self.humans.to_vec();
        if let Some(h) = &rule.human {
            if !humans.contains(h) {
                humans.push(h.clone());
            }
        }
        Ok(Some(MergedRule {
            resources: resources.into_boxed_slice(),
            actions: actions.map(Vec::into_boxed_slice),
            when: when.into_boxed_slice(),
            humans: humans.into_boxed_slice(),
        }))
    }

    /// Whether the rule matches: what `rule_miss` says of each rule it was made of.
    fn allows(&self, human: Option<&HumanFacts>, req: &RequestFacts) -> bool {
        self.actions
            .as_deref()
            .is_none_or(|l| l.iter().any(|a| a.as_str() == req.action))
            && self.resources.iter().any(|p| p.matches(&req.resource))
            && conditions_hold(&self.when, req)
            && self.humans.iter().all(|h| human_holds(h, human, req))
    }

    fn heap_bytes(&self) -> usize {
        size_of_val(&*self.resources)
            + self
                .resources
                .iter()
                .map(ResourcePattern::heap_bytes)
                .sum::<usize>()
            + self.actions.as_deref().map_or(0, |l| {
                size_of_val(l) + l.iter().map(|a| a.as_str().len()).sum::<usize>()
            })
            + size_of_val(&*self.when)
            + size_of_val(&*self.humans)
    }
}
