//! Semantic tests of warrant-verifier: attenuation never widens, deny always wins, facts of
//! later blocks are never trusted, and every error path is a clear, explained denial.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking, and the panic names what failed"
)]

mod attenuation;
mod common;
mod errors;
mod explain;
mod fuzz_replay;
mod holder;
mod holder_p256;
#[cfg(feature = "axum")]
mod http;
#[cfg(feature = "redis-replay")]
mod redis_replay;
#[cfg(all(feature = "refresh", feature = "axum"))]
mod refresh;
mod requests;
#[cfg(feature = "axum")]
mod resource_server;
#[cfg(feature = "axum")]
mod routes;
mod scoping;
mod vectors;
