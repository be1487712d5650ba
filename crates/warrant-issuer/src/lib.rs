//! warrant-issuer: the only place tokens are born.
//!
//! The service mints a token only for a human it has just verified (a device key answering
//! a one-time challenge, consumed atomically so a replay fails on every replica), only
//! within the ceiling of the human's role, and returns it only after the mint's audit
//! entry is committed. Its state — keys, humans, challenges, tokens, revocations, the
//! hash-chained audit log — lives in SQLite (one file, nothing to install) or PostgreSQL
//! (several replicas), through one code path. [`app`] is the router; [`serve`] runs it;
//! [`api`] holds the bodies of its requests and responses (what clients use too), and
//! [`openapi`] its description.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tower::ServiceExt;
//! let state = warrant_issuer::State::open(
//!     warrant_issuer::Config::defaults().unwrap(), "sqlite::memory:", None,
//! ).await.unwrap();
//! let app = warrant_issuer::app(state);
//! let res = app
//!     .oneshot(axum::http::Request::get("/.well-known/warrant-keys").body(axum::body::Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(res.status(), 200);
//! let body = axum::body::to_bytes(res.into_body(), 1 << 16).await.unwrap();
//! let keys: warrant_issuer::api::KeySet = serde_json::from_slice(&body).unwrap();
//! assert_eq!(keys.keys.len(), 1);
//! # });
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod admin;
pub mod api;
mod app;
pub mod audit;
pub mod clients;
pub mod config;
mod error;
pub mod keyring;
pub mod limits;
mod metrics;
mod mint;
pub mod oauth;
pub mod oidc;
pub mod openapi;
mod passkeys;
mod requests;
pub mod reserved;
mod routes;
mod secrets;
mod serve;
mod state;
pub mod store;
mod verify;
mod web;
mod webauthn;

pub use api::challenge_message;
pub use app::app;
pub use config::Config;
pub use error::ApiError;
pub use serve::{init_logging, serve, ServeError, DEFAULT_LOG_FILTER};
pub use state::{AppState as State, Clock, OpenError};
