//! How the issuer makes and handles its one-time values (challenge nonces, request ids,
//! invitation and session secrets, admin credentials): random hex from the OS, stored as
//! their SHA-256, compared in constant time. One place, so they are all made alike.

use rand_core::{OsRng, RngCore};
use sha2::{Digest as _, Sha256};

/// `bytes` random bytes from the OS, in hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The SHA-256 of `text`, in hex: how a secret is stored.
pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Whether `text` is `len` hex digits (an id or a secret of ours, by its shape).
pub(crate) fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Whether `a` equals `b`, in time that does not depend on where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
