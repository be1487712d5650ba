//! warrant-core: the warrant token profile, with no I/O.
//!
//! A warrant token is a standard Biscuit v3 token with a small fixed vocabulary on top
//! (`docs/token-profile.md`). This crate holds everything about that vocabulary that does
//! not touch the outside world, one concept a module:
//!
//! - [`grant`]: the grant format humans and agents write (allow and deny rules,
//!   conditions, audience, lifetime), parsed and validated with errors that name the field
//!   ([`grant::GrantError`]);
//! - [`compile`]: a grant compiled to Datalog, every user value passed as a parameter so
//!   nothing can inject Datalog, resource wildcards as escaped regular expressions;
//!   [`decompile`], its inverse: a block is in the profile only when decompiling and
//!   compiling it again gives the very same checks;
//! - [`eval`]: the same semantics evaluated natively, used to explain denials (and held to
//!   Biscuit by a differential property test), with yes/no fast paths held to it in turn:
//!   [`eval::allows`] for one block, [`eval::Intersection`] for all of a token's blocks
//!   merged into one;
//! - [`token`]: minting, attenuating, delegating and decoding, with one error type
//!   ([`token::TokenError`]); [`inspect`]: a token decoded for a person;
//! - [`blocks`]: a token's blocks read as data, never from printed text; [`authority`]:
//!   the facts of its authority block; [`holder`]: its holder chain; [`budget`]: the
//!   static bound on the work its evaluation may take;
//! - [`dpop`]: proofs of possession of a holder key;
//! - [`keys`], [`time`], [`value`], [`pattern`], [`request`]: the newtypes they share.
//!
//! Like rustls's core, it never reads a file, a socket or the clock: the current time and
//! the random generator are arguments.
//!
//! Each surface has one error type ([`grant::GrantError`], [`token::TokenError`],
//! [`keys::KeyError`], [`budget::BudgetError`], [`dpop::ProofError`]): one lowercase line
//! naming the value at fault in backticks and what to do instead, the error it comes from
//! kept as its `source`.
//!
//! ```
//! use warrant_core::grant::Grant;
//! use warrant_core::keys::{KeyId, SigningKey};
//! use warrant_core::time::{Span, Timestamp};
//! use warrant_core::token::{attenuate, decode_unverified, encode, mint, MintRequest};
//!
//! let mut rng = rand_core::OsRng;
//! let key = SigningKey::generate(&mut rng, Some(KeyId(1)));
//! let grant = Grant::from_json_str(r#"{
//!     "audience": ["support-api"], "ttl": "10m",
//!     "allow": [{ "resources": ["tickets/123/*"], "actions": ["read"] }],
//!     "deny": [{ "resources": ["tickets/123/payment_card"], "actions": ["*"] }]
//! }"#)?;
//! let now = Timestamp::from_unix(1_796_032_800);
//! let minted = mint(&key, MintRequest::offline(grant), now, &mut rng)?;
//! assert_eq!(minted.expires_at, now.plus(Span::from_seconds(600)));
//!
//! // Anyone holding the token can narrow it, offline: a shorter life, one field.
//! let narrower = Grant::from_json_str(r#"{ "ttl": "1m",
//!     "allow": [{ "resources": ["tickets/123/email_address"], "actions": ["read"] }] }"#)?;
//! let token = decode_unverified(&minted.token.to_base64()?)?;
//! let child = attenuate(&token, narrower, now, &mut rng)?;
//! assert_eq!(decode_unverified(&encode(&child))?.block_count(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod authority;
pub mod blocks;
pub mod budget;
pub mod compile;
pub mod decompile;
pub mod dpop;
pub mod eval;
pub mod grant;
pub mod holder;
pub mod inspect;
pub mod keys;
pub mod pattern;
pub mod request;
pub mod time;
pub mod token;
pub mod value;
