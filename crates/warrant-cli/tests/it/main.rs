//! Integration tests of the `warrant` binary: every test runs the real executable.
//!
//! Exit-code contract under test: 0 success or allowed, 1 denied, 2 usage or input error;
//! errors go to stderr as `warrant: <message>`, denials to stdout as `denied: <reason>`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking, and the panic names what failed"
)]

mod support;

mod advice;
mod attenuate;
mod audit;
mod biscuit_api;
mod crash;
mod expiry;
mod help;
mod holder;
mod inputs;
mod inspect;
mod interop;
mod issuer;
mod keygen;
mod mint;
mod ops;
mod readme;
mod requests;
mod review;
mod revocation;
mod samples;
mod scale;
mod verify;
