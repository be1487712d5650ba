//! warrant-verifier: check a warrant token against a request, offline.
//!
//! # Design
//!
//! An API links this crate to decide, for every request, whether the agent's token
//! permits it, without calling the issuer. A [`Verifier`] holds the issuer's trusted
//! public keys (by key id), the audience the API answers to, a revocation set, a DPoP
//! replay cache and explicit Datalog run limits. [`Verifier::verify`] decodes the token
//! (refusing oversized input before parsing), checks its signature chain against the key
//! its `root_key_id` names, checks the holder's DPoP proof, runs the token's checks
//! against the request facts, and returns a [`Decision`]: allowed with the [`Claims`] an
//! API needs, or denied with a [`Denial`] naming the block, the failing check and the
//! attribute. It never panics on any input. Biscuit types stay behind this facade.
//!
//! The facade is meant to be hard to misuse:
//! - settings go through [`Verifier::builder`] and are fixed once built; only the keys
//!   and the revocations of a built verifier change, by hand ([`Verifier::set_keys`],
//!   [`Verifier::set_revocations`]) or by a refresher, which every clone sees;
//! - every default is the safe one, and whatever weakens a check is named `dangerous_*`
//!   ([`VerifierBuilder::dangerous_accept_bearer`], [`Verifier::dangerous_any_key_id`]);
//! - requests are checked before evaluation: a resource that is not canonical
//!   (`tickets/../admin`) is denied, never normalised ([`Request::try_new`] says so at
//!   once);
//! - decisions and denial kinds are `#[non_exhaustive]`: code that does not know a kind
//!   of decision must treat it as a refusal ([`Decision::into_result`] does).
//!
//! The hot path: a token seen before is found in a cache by its text (a fast hash of its
//! last bytes, which hold its proof, then an exact comparison of the whole text), so it is neither decoded nor are its signatures checked again; a token whose blocks are all in the warrant
//! profile is evaluated natively, with Biscuit's Datalog as the fallback for anything
//! else. Expiry, revocation and every rule are evaluated on every request. There is no
//! import circle between the modules: `verifier` uses `config`, `cache`, `native`, `explain`,
//! `replay` and `revocation`; `http` and `refresh` use the verifier, never the reverse.
//!
//! # Verifying a token
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
//! req.holder = Some(agent.public().into()); // useless without the agent's key
//! let token = mint(&issuer, req, now, &mut rng).unwrap().token.to_base64().unwrap();
//!
//! let verifier = Verifier::builder(KeySet::single(KeyId(1), issuer.public()))
//!     .audience("support-api")
//!     .build();
//!
//! // Each request carries a fresh DPoP proof by the holder for that method and URL.
//! let url = "https://support.example/tickets/123";
//! let proof = create_proof(&agent, "GET", url, &token, now, &mut rng).unwrap();
//! let open = Request::new("tickets/123", "read", now)
//!     .with_attr("ticket.status", "open")
//!     .with_proof(proof, "GET", url);
//! let claims = verifier.verify(&token, &open).into_result().unwrap();
//! assert_eq!(claims.holder, Some(agent.public().to_string()));
//!
//! // Denials say why.
//! let proof = create_proof(&agent, "GET", url, &token, now, &mut rng).unwrap();
//! let closed = Request::new("tickets/123", "read", now)
//!     .with_attr("ticket.status", "closed")
//!     .with_proof(proof, "GET", url);
//! let denial = verifier.verify(&token, &closed).into_result().unwrap_err();
//! assert_eq!(denial.kind, DenialKind::RuleNotMatched);
//! assert_eq!(denial.attribute(), Some("ticket.status"));
//!
//! // Without the holder's proof the token is worth nothing.
//! let stolen = Request::new("tickets/123", "read", now).with_attr("ticket.status", "open");
//! assert_eq!(verifier.verify(&token, &stolen).denial().unwrap().kind, DenialKind::InvalidProof);
//! ```
//!
//! # Protecting an axum route
//!
//! With the feature `axum`, `http::WarrantLayer` verifies every request before it
//! reaches the handler. A mapping function says what each request means (resource,
//! action, attributes); added with `route_layer`, the layer runs after routing, so the
//! function maps by method and route template (`http::matched_route`). A request it
//! does not map is refused (deny by default); the handler reads the claims with the
//! `http::Warrant` extractor.
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # {
//! use axum::http::request::Parts;
//! use axum::{routing::get, Router};
//! use warrant_verifier::http::{matched_route, resource_from_path, ResourcePathError};
//! use warrant_verifier::http::{Warrant, WarrantLayer};
//! use warrant_verifier::{KeyId, KeySet, Request, Verifier};
//! # let key = warrant_core::keys::SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
//! # let keys = KeySet::single(KeyId(1), key.public());
//!
//! fn map(parts: &Parts) -> Result<Option<Request>, ResourcePathError> {
//!     let action = match (parts.method.as_str(), matched_route(parts)) {
//!         ("GET", Some("/tickets/{id}")) => "read",
//!         ("PUT", Some("/tickets/{id}")) => "update",
//!         _ => return Ok(None),
//!     };
//!     // The path `/tickets/123` is the resource `tickets/123`: decoded once, canonical.
//!     Ok(Some(Request::now(resource_from_path("/", parts.uri.path())?, action)))
//! }
//!
//! async fn ticket(Warrant(claims): Warrant) -> String {
//!     format!("on behalf of {:?}", claims.human)
//! }
//!
//! let verifier = Verifier::builder(keys).audience("support-api").build();
//! // The origin clients use: the URL every DPoP proof must name.
//! let layer = WarrantLayer::new(verifier, map, "https://support.example")?;
//! let app: Router = Router::new()
//!     .route("/tickets/{id}", get(ticket).put(ticket))
//!     .route_layer(layer);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Resource URIs
//!
//! An API that is an OAuth protected resource (an MCP server, say) is named by its
//! canonical URI: [`ResourceUri`] parses one (`HTTPS://API.example:443/mcp/` is
//! `https://api.example/mcp`) and refuses what cannot be one (a fragment, a query, user
//! information) with the reason. The issuer canonicalises a client's `resource`
//! parameter with it before writing the token's audience, and
//! [`VerifierBuilder::audience`] canonicalises a URL audience the same way, so any
//! spelling of the URL checks the same tokens. With the feature `axum`,
//! `http::WarrantLayerBuilder::protected_resource` makes the layer a resource server of
//! the MCP authorization specification: RFC 9728 metadata at both well-known URIs,
//! challenges naming it with the scopes a request needs, the resource as the audience.
//!
//! # Crate features
//!
//! - `axum`: the `http` module: the tower layer for axum (and any tower/hyper service),
//!   the `http::Warrant` extractor, the credential parser (`http::credentials`),
//!   denial statuses, RFC 9728 protected-resource metadata, and the `Origin` check an
//!   MCP server needs (`http::OriginLayer`).
//! - `refresh`: the `refresh` module: a built verifier keeps its key set and the
//!   issuer's revocation feed fresh in the background (reqwest with rustls, Tokio).
//! - `redis-replay`: `RedisReplayCache`, a DPoP replay cache in Redis that the replicas
//!   of an API share (the `redis` crate, synchronous: one blocking round trip per
//!   holder-bound request, fail closed).
//!
//! Without features the crate does no I/O beyond reading files on request
//! ([`key_set_from_file`], [`revocations_from_file`]); [`RevocationFollower`] pages the
//! revocation feed for any HTTP client.
//!
//! `docs/verifier.md` is the full guide (configuration, what is checked in which order,
//! the key set and feed formats, every denial kind and its HTTP status); its examples are
//! compiled as tests of this crate.
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod cache;
mod config;
mod decision;
mod explain;
mod follow;
#[cfg(feature = "axum")]
pub mod http;
mod load;
mod native;
#[cfg(feature = "redis-replay")]
mod redis_replay;
#[cfg(feature = "refresh")]
pub mod refresh;
mod replay;
mod request;
mod resource_uri;
mod revocation;
mod verified;
mod verifier;

#[cfg(test)]
mod differential_tests;

pub use config::{
    Limits, VerifierBuilder, DEFAULT_CACHE_CAPACITY, DEFAULT_CLOCK_SKEW, DEFAULT_MAX_TOKEN_BYTES,
};
pub use decision::{ClaimValues, Claims, Decision, Denial, DenialKind, Signer};
pub use follow::{FeedQuery, FeedStep, RevocationFollower};
pub use load::{key_set_from_file, revocations_from_file, LoadError};
#[cfg(feature = "redis-replay")]
pub use redis_replay::{RedisReplayCache, RedisReplayError, DEFAULT_REDIS_TIMEOUT};
pub use replay::{
    MemoryReplayCache, ProofId, ReplayCache, ReplayCheck, DEFAULT_REPLAY_CAPACITY,
    EXPIRY_GRACE_SECONDS,
};
pub use request::{Request, RequestError, MAX_REQUEST_ATTRS};
pub use resource_uri::{ResourceUri, ResourceUriError};
pub use revocation::{
    RevocationEntry, RevocationError, RevocationFeed, RevocationKind, RevocationSet,
};
pub use verifier::Verifier;
pub use warrant_core::keys::{HolderPublicKey, KeyId, KeySet, PublicKey};
pub use warrant_core::time::Timestamp;
pub use warrant_core::value::Value;

/// `docs/verifier.md`, compiled so that its examples are tested.
#[cfg(all(doctest, feature = "axum", feature = "refresh"))]
#[doc = include_str!("../../../docs/verifier.md")]
mod verifier_md {}
