//! What a verifier remembers across tokens: the grants it recognised (warrant-core's
//! [`GrantMemo`]) and the merged checks of the block combinations it has seen.
//!
//! Tokens minted from one role or delegation template carry the same grants: the grant
//! memo hands them one shared copy of each (without times), and the merged check of
//! those copies is made once and shared too. A token keeps only its own times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use warrant_core::decompile::{GrantMemo, Lifted};
use warrant_core::eval::Intersection;
use warrant_core::grant::Grant;

/// The most block combinations remembered; past it the memo starts again (a verifier
/// seeing more distinct combinations merges each token's blocks itself).
const MAX_COMBINATIONS: usize = 1024;

/// A verifier's memos.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    pub(crate) grants: GrantMemo,
    intersections: Mutex<HashMap<Vec<usize>, Combination>>,
}

/// The shared grants of a token's blocks (held, so that their addresses, the key, stay
/// theirs) and their merged check (`None` when it would exceed its caps).
#[derive(Debug)]
struct Combination {
    grants: Vec<Arc<Grant>>,
    merged: Option<Arc<Intersection>>,
}

impl Memo {
    /// The merged check of `lifted`'s grants without their times (the caller checks
    /// the token's lifetime): remembered by the identity of the shared grant copies.
    pub(crate) fn intersection(&self, lifted: &Lifted) -> Option<Arc<Intersection>> {
        let grants: Vec<Arc<Grant>> = lifted
            .blocks
            .iter()
            .map(|b| Arc::clone(b.timeless()))
            .collect();
        let key: Vec<usize> = grants.iter().map(|g| Arc::as_ptr(g) as usize).collect();
        let lock = || {
            self.intersections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if let Some(c) = lock().get(&key) {
            // The key's addresses are those of grants the entry holds: the same copies.
            if c.grants.iter().zip(&grants).all(|(a, b)| Arc::ptr_eq(a, b)) {
                return c.merged.clone();
            }
        }
        // Merged without the lock: other tokens' verifications do not wait for it (two
        // tokens of a new combination may both merge it; the second insert wins).
        let merged = merge(&grants);
        let mut map = lock();
        if map.len() >= MAX_COMBINATIONS {
            map.clear();
        }
        map.insert(
            key,
            Combination {
                grants,
                merged: merged.clone(),
            },
        );
        merged
    }
}

/// The merged check of `grants`, computed now.
pub(crate) fn merge(grants: &[Arc<Grant>]) -> Option<Arc<Intersection>> {
    let refs: Vec<&Grant> = grants.iter().map(|g| &**g).collect();
    Intersection::of(&refs).map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verified::{Trusted, VerifiedToken};
    use warrant_core::keys::SigningKey;
    use warrant_core::time::{Span, Timestamp};
    use warrant_core::token::{attenuate, decode_unverified, mint, MintRequest};

    /// A token of `grant` minted at `at`, narrowed by `narrower`.
    fn token(key: &SigningKey, grant: &Grant, narrower: &Grant, at: Timestamp) -> Vec<u8> {
        let minted = mint(
            key,
            MintRequest::offline(grant.clone()),
            at,
            &mut rand_core::OsRng,
        )
        .unwrap();
        let t = decode_unverified(&minted.token.to_base64().unwrap()).unwrap();
        attenuate(&t, narrower.clone(), at, &mut rand_core::OsRng)
            .unwrap()
            .to_vec()
            .unwrap()
    }

    #[test]
    fn tokens_of_the_same_grants_share_one_merged_check_and_keep_their_own_lifetimes() {
        let key = SigningKey::generate(&mut rand_core::OsRng, None);
        let trusted = Trusted::Single(key.public());
        let grant = Grant::from_json_str(
            r#"{"ttl": "10m", "allow": [{"resources": ["a/**"], "actions": ["read", "write"]}]}"#,
        )
        .unwrap();
        let narrower = Grant::from_json_str(
            r#"{"ttl": "5m", "allow": [{"resources": ["a/b"], "actions": ["read"]}]}"#,
        )
        .unwrap();
        let t0 = warrant_test::NOW;
        let t1 = t0.plus(Span::from_seconds(90));
        let memo = Memo::default();
        let a = VerifiedToken::verify(
            &token(&key, &grant, &narrower, t0),
            &trusted,
            Some(&memo),
            false,
        )
        .unwrap();
        let b = VerifiedToken::verify(
            &token(&key, &grant, &narrower, t1),
            &trusted,
            Some(&memo),
            false,
        )
        .unwrap();
        let (ia, ib) = (
            a.intersection.clone().unwrap(),
            b.intersection.clone().unwrap(),
        );
        assert!(Arc::ptr_eq(&ia, &ib), "one merged check for both tokens");
        assert_eq!(
            a.lifetime.expires_at,
            Some(t0.plus(Span::from_seconds(300)))
        );
        assert_eq!(
            b.lifetime.expires_at,
            Some(t1.plus(Span::from_seconds(300)))
        );
        assert!(
            !a.lifetime.holds_at(t1.plus(Span::from_seconds(250))),
            "a has expired"
        );
        assert!(b.lifetime.holds_at(t1.plus(Span::from_seconds(250))));
        // Without a memo, each token merges its own.
        let c = VerifiedToken::verify(&token(&key, &grant, &narrower, t0), &trusted, None, false)
            .unwrap();
        assert!(!Arc::ptr_eq(&ia, c.intersection.as_ref().unwrap()));
        assert_eq!(
            *ia,
            **c.intersection.as_ref().unwrap(),
            "the same check all the same"
        );
    }
}
