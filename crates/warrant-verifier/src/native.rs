//! Native evaluation of a cached token whose every block is in the profile, and the
//! denial it makes: decided with its kind and block, explained only when read.

use std::sync::{Arc, OnceLock};

use warrant_core::decompile::Lifted;
use warrant_core::eval::{Describe, Failure};
use warrant_core::grant::Grant;
use warrant_core::request::RequestFacts;

use crate::decision::{Denial, Explanation, Signer};
use crate::explain;
use crate::verified::VerifiedToken;

/// Native evaluation of a token whose every block is in the profile: the same checks as
/// its Datalog (a differential property test holds them together), without Biscuit's
/// per-request world building. The denial reported is the most telling failure, the
/// first of its rank in block order (as [`explain::keep_best`] chooses among explained
/// denials); its kind and block are decided here, its explanation when first read.
pub(crate) fn native(
    v: &Arc<VerifiedToken>,
    lifted: &Lifted,
    req: &RequestFacts,
) -> Result<(), Denial> {
    let human = v.human.as_ref();
    let (block, failure) = if let [only] = lifted.blocks.as_slice() {
        // One block: its most telling failure, found in rank order, is also the yes/no
        // (it costs what the merged blocks' answer would: they are this block).
        match only.most_telling(human, req) {
            None => return Ok(()),
            Some(failure) => (0, failure),
        }
    } else {
        // The merged blocks (without times: the token's lifetime is checked beside them)
        // answer yes at the cost of one grant; a no is explained below, block by block
        // (the two agree: a property test in warrant-core holds them together, and the
        // differential test against Datalog holds this whole function).
        if v.intersection
            .as_ref()
            .is_some_and(|i| v.lifetime.holds_at(req.time) && i.allows(human, req))
        {
            return Ok(());
        }
        // The first failure of the lowest rank, in block order (none lower than 0).
        let mut best: Option<(usize, Failure)> = None;
        for (i, b) in lifted.blocks.iter().enumerate() {
            if let Some(f) = b.most_telling(human, req) {
                if best.as_ref().is_none_or(|(_, kept)| f.rank() < kept.rank()) {
                    let top = f.rank() == 0;
                    best = Some((i, f));
                    if top {
                        break;
                    }
                }
            }
        }
        match best {
            None => return Ok(()),
            Some(found) => found,
        }
    };
    let kind = explain::failure_kind(&failure);
    let explained = Explained {
        token: Arc::clone(v),
        block,
        failure,
        request: Shown::of(req),
        check: OnceLock::new(),
        message: OnceLock::new(),
    };
    Err(Denial::deferred(kind, Some(block), Arc::new(explained)))
}

/// What a denial's sentence reads of the request: its resource, action and time (a
/// failure carries the attribute or audience values it is about). Copying only these,
/// in one allocation, keeps the attributes out of every denial (the differential test
/// compares these sentences with those written from the whole request).
struct Shown {
    /// The resource, then the action.
    text: Box<str>,
    /// Where the action starts.
    split: usize,
    time: warrant_core::time::Timestamp,
}

impl Shown {
    fn of(req: &RequestFacts) -> Self {
        Self {
            text: [req.resource.as_str(), req.action.as_str()].concat().into(),
            split: req.resource.len(),
            time: req.time,
        }
    }

    /// The request as the sentence reads it.
    fn request(&self) -> RequestFacts {
        let (resource, action) = self.text.split_at_checked(self.split).unwrap_or_default();
        RequestFacts::new(resource.to_owned(), action.to_owned(), self.time)
    }
}

/// The explanation of a failure of block `block` of a cached token, worked out when read
/// (as [`explain::failure_denial`] and [`explain::locate`] write it): deciding a denial
/// pays for none of it.
struct Explained {
    token: Arc<VerifiedToken>,
    block: usize,
    failure: Failure,
    request: Shown,
    check: OnceLock<Option<Arc<str>>>,
    message: OnceLock<String>,
}

impl Explained {
    /// The block's grant, without its times (a failure carries its own expiry or
    /// not-before).
    fn grant(&self) -> Option<&Grant> {
        let lifted = self.token.lifted.as_ref()?;
        Some(lifted.blocks.get(self.block)?.timeless())
    }
}

impl Explanation for Explained {
    fn signer(&self) -> Option<&Signer> {
        Some(self.token.signer(self.block))
    }

    fn check(&self) -> Option<&str> {
        self.check
            .get_or_init(|| {
                let role = self.failure.role();
                let lifted = self.token.lifted.as_ref()?;
                let k = lifted
                    .blocks
                    .get(self.block)?
                    .roles
                    .iter()
                    .position(|r| *r == role)?;
                self.token.check_text(self.block, k)
            })
            .as_deref()
    }

    fn attribute(&self) -> Option<&str> {
        explain::failure_attribute_name(&self.failure, self.grant()?)
    }

    fn message(&self) -> &str {
        self.message.get_or_init(|| {
            let block = self.block;
            let Some(grant) = self.grant() else {
                return format!("block {block} of the token failed");
            };
            let line = Describe {
                failure: &self.failure,
                grant,
                request: &self.request.request(),
            }
            .to_string();
            if block > 0 {
                explain::block_prefix(block, self.token.signer(block)) + &line
            } else {
                line
            }
        })
    }
}
