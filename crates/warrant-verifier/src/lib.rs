//! warrant-verifier: check a warrant token against a request, offline.
//!
//! A [`Verifier`] holds the issuer's trusted public keys (by key id), the audience the API
//! answers to, a revocation set, a DPoP replay cache and explicit Datalog run limits. [`Verifier::verify`]
//! decodes the token (refusing oversized input before parsing), checks its signature
//! chain against the key its `root_key_id` names, runs the token's checks against the
//! request facts, and returns a [`Decision`]: allowed with the claims an API needs, or
//! denied with an explanation naming the block, the failing check and the attribute. It
//! never calls the issuer and never panics on any input. Biscuit types stay behind this
//! facade.
//!
//! The hot path: a token seen before is found in a cache by the SHA-256 of its bytes, so
//! its signatures are not checked again; a token whose blocks are all in the warrant
//! profile is evaluated natively, with Biscuit's Datalog as the fallback for anything
//! else. Expiry, revocation and every rule are evaluated on every request.
//!
//! ```
//! use warrant_core::{grant::Grant, keys::{KeyId, KeySet, SigningKey}, time::Timestamp};
//! use warrant_core::{dpop::create_proof, token::{mint, MintRequest}};
//! use warrant_verifier::{DenialKind, Request, Verifier};
//!
//! let mut rng = rand_core::OsRng;
//! let issuer = SigningKey::generate(&mut rng, Some(KeyId(1)));
//! let agent = SigningKey::generate(&mut rng, None);
//! let grant = Grant::from_json_str(r#"{
//!     "audience": ["support-api"], "ttl": "10m",
//!     "allow": [{ "resources": ["tickets/*"], "actions": ["read"],
//!                 "when": [{ "attr": "ticket.status", "eq": "open" }] }]
//! }"#).unwrap();
//! let now = Timestamp::from_unix(1_796_032_800);
//! let mut req = MintRequest::offline(grant);
//! req.holder = Some(agent.public()); // useless without the agent's key
//! let token = mint(&issuer, req, now, &mut rng).unwrap().token.to_base64().unwrap();
//!
//! let verifier = Verifier::builder(KeySet::single(KeyId(1), issuer.public())).audience("support-api").build();
//!
//! // Each request carries a fresh DPoP proof by the holder for that method and URL.
//! let url = "https://support.example/tickets/123";
//! let proof = create_proof(&agent, "GET", url, &token, now, &mut rng).unwrap();
//! let open = Request::new("tickets/123", "read", now)
//!     .with_attr("ticket.status", "open")
//!     .with_proof(proof, "GET", url);
//! let claims = verifier.verify(&token, &open).claims().cloned().unwrap();
//! assert_eq!(claims.holder, Some(agent.public().to_string()));
//!
//! // Denials say why.
//! let proof = create_proof(&agent, "GET", url, &token, now, &mut rng).unwrap();
//! let closed = Request::new("tickets/123", "read", now)
//!     .with_attr("ticket.status", "closed")
//!     .with_proof(proof, "GET", url);
//! let denial = verifier.verify(&token, &closed).denial().unwrap().clone();
//! assert_eq!(denial.kind, DenialKind::RuleNotMatched);
//! assert_eq!(denial.attribute.as_deref(), Some("ticket.status"));
//!
//! // Without the holder's proof the token is worth nothing.
//! let stolen = Request::new("tickets/123", "read", now).with_attr("ticket.status", "open");
//! assert_eq!(verifier.verify(&token, &stolen).denial().unwrap().kind, DenialKind::InvalidProof);
//! ```

mod cache;
mod config;
mod decision;
mod explain;
mod follow;
#[cfg(feature = "axum")]
pub mod http;
mod load;
#[cfg(feature = "refresh")]
pub mod refresh;
mod replay;
mod request;
mod revocation;
mod verifier;

#[cfg(test)]
mod differential_tests;

pub use config::{
    Limits, VerifierBuilder, DEFAULT_CACHE_CAPACITY, DEFAULT_CLOCK_SKEW, DEFAULT_MAX_TOKEN_BYTES,
};
pub use decision::{Claims, Decision, Denial, DenialKind, Signer};
pub use follow::{FeedQuery, FeedStep, RevocationFollower};
pub use load::{key_set_from_file, revocations_from_file, LoadError};
pub use replay::{MemoryReplayCache, ReplayCache, DEFAULT_REPLAY_CAPACITY};
pub use request::{Request, RequestError, MAX_REQUEST_ATTRS};
pub use revocation::{
    RevocationEntry, RevocationError, RevocationFeed, RevocationKind, RevocationSet,
};
pub use verifier::Verifier;
pub use warrant_core::keys::{KeyId, KeySet, PublicKey};
pub use warrant_core::time::Timestamp;
pub use warrant_core::value::Value;
