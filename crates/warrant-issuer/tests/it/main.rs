//! API tests of the issuer, each run on SQLite and (when `WARRANT_TEST_DATABASE_URL` names a
//! PostgreSQL server) on PostgreSQL, every test in a fresh database, without sockets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking, and the panic names what failed"
)]

mod admin;
mod api;
mod audit;
mod bounds;
mod browser;
mod env;
mod errors;
mod mcp_e2e;
mod oauth;
mod oidc;
mod openapi;
mod pages;
mod passkeys;
mod requests;
mod review;
mod startup;
mod transactions;
