//! Semantic tests of warrant-core: the compiled Datalog, run by Biscuit itself, against
//! the grant format's documented meaning and against the native evaluator.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking, and the panic names what failed"
)]

mod budget;
mod common;
mod differential;
mod gen;
mod intersection;
mod operators;
mod patterns;
mod roundtrip;
mod sizes;
mod vectors;
