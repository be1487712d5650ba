//! The holder chain: who may use a token, and who may hand it on.
//!
//! The authority block may name a holder (`holder(hex:…)`: an Ed25519 key's 32 bytes, or a
//! P-256 key's 33-byte compressed point; see [`crate::keys::HolderPublicKey`]). A delegation
//! block is a third-party block signed by the current holder's key that names the next
//! holder. The rule, applied block by block:
//!
//! - a block that names no holder keeps the current one (a plain attenuation);
//! - a block that names a holder must be signed, as a third-party block, by the current
//!   holder's key; it then makes the named key the holder. A block that names a holder
//!   without that signature makes the whole token invalid, so a stolen token cannot be
//!   re-bound by the thief;
//! - only the authority block can bind a token to its first holder: a later block naming
//!   a holder in a token that has none (a bearer token) makes it invalid too;
//! - a block may name at most one holder.
//!
//! The holder at the end of the chain is the one whose DPoP proof the verifier requires.

use crate::authority::holder_facts;
use crate::blocks::BlockData;
use crate::keys::HolderPublicKey;

/// One block's part in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The block's index (0 = authority).
    pub block: usize,
    /// The third-party key that signed the block, if it is a third-party block (and its
    /// key is a holder key's algorithm: Ed25519 or P-256).
    pub signed_by: Option<HolderPublicKey>,
    /// The `holder` facts the block states.
    pub names: Vec<String>,
}

/// Why a holder chain is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A block names a holder without the current holder's signature.
    #[error("block {block} names holder `{named}` but is not signed by the current holder `{holder}`{}", signed_by.as_ref().map(|k| format!(" (it is signed by `{k}`)")).unwrap_or_else(|| " (it is a plain attenuation)".to_owned()))]
    NotSignedByHolder {
        /// The block.
        block: usize,
        /// The holder it names.
        named: String,
        /// The holder at that point.
        holder: String,
        /// Who signed it, for a third-party block.
        signed_by: Option<String>,
    },
    /// A block after the authority names a holder in a token that has none.
    #[error("block {block} names holder `{named}` but the token has no holder to delegate from")]
    NoHolder {
        /// The block.
        block: usize,
        /// The holder it names.
        named: String,
    },
    /// A block names several holders.
    #[error("block {block} names {count} holders; a block may name one")]
    SeveralHolders {
        /// The block.
        block: usize,
        /// How many.
        count: usize,
    },
    /// A holder that is not a holder key (Ed25519's 32 bytes, or a compressed P-256 point).
    #[error("block {block} names holder `{named}`, which is not an `ed25519/` or `secp256r1/` public key")]
    BadKey {
        /// The block.
        block: usize,
        /// The text.
        named: String,
    },
}

/// The holders along the chain, first (the authority's) to last (the current one); empty
/// for a bearer token.
pub fn holder_chain(links: &[Link]) -> Result<Vec<HolderPublicKey>, ChainError> {
    let mut chain: Vec<HolderPublicKey> = Vec::new();
    for link in links {
        let named = match link.names.as_slice() {
            [] => continue,
            [one] => one,
            more => {
                return Err(ChainError::SeveralHolders {
                    block: link.block,
                    count: more.len(),
                })
            }
        };
        let key: HolderPublicKey = named.parse().map_err(|_| ChainError::BadKey {
            block: link.block,
            named: named.clone(),
        })?;
        match chain.last() {
            None if link.block > 0 => {
                return Err(ChainError::NoHolder {
                    block: link.block,
                    named: named.clone(),
                })
            }
            Some(current) if link.signed_by.as_ref() != Some(current) => {
                return Err(ChainError::NotSignedByHolder {
                    block: link.block,
                    named: named.clone(),
                    holder: current.to_string(),
                    signed_by: link.signed_by.map(|k| k.to_string()),
                });
            }
            _ => {}
        }
        chain.push(key);
    }
    Ok(chain)
}

/// The holder chain links of a token read with [`crate::blocks::read_blocks`].
pub fn holder_links(blocks: &[BlockData]) -> Vec<Link> {
    blocks
        .iter()
        .enumerate()
        .map(|(block, data)| Link {
            block,
            signed_by: data
                .external_key
                .as_ref()
                .and_then(HolderPublicKey::from_biscuit),
            names: holder_facts(&data.facts),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{HolderSigner as _, P256SigningKey, SigningKey};

    fn key() -> HolderPublicKey {
        SigningKey::generate(&mut rand_core::OsRng, None)
            .public()
            .into()
    }

    fn p256() -> HolderPublicKey {
        P256SigningKey::generate(&mut rand_core::OsRng).holder_key()
    }

    fn link(block: usize, signed_by: Option<HolderPublicKey>, names: &[HolderPublicKey]) -> Link {
        Link {
            block,
            signed_by,
            names: names.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn delegations_signed_by_the_holder_move_the_holder() {
        let (a, b, c) = (key(), key(), key());
        let links = [
            link(0, None, &[a]),
            link(1, None, &[]),
            link(2, Some(a), &[b]),
            link(3, Some(b), &[c]),
        ];
        assert_eq!(holder_chain(&links).unwrap(), vec![a, b, c]);
    }

    #[test]
    fn a_holder_named_without_the_holders_signature_breaks_the_chain() {
        let (a, b, thief) = (key(), key(), key());
        // A thief appends a plain block naming their own key.
        let e = holder_chain(&[link(0, None, &[a]), link(1, None, &[thief])]).unwrap_err();
        assert!(e.to_string().contains("plain attenuation"), "{e}");
        // Or a third-party block signed by their own key.
        let e = holder_chain(&[link(0, None, &[a]), link(1, Some(thief), &[thief])]).unwrap_err();
        assert!(matches!(e, ChainError::NotSignedByHolder { block: 1, .. }));
        // The previous holder cannot take it back after delegating.
        let e = holder_chain(&[
            link(0, None, &[a]),
            link(1, Some(a), &[b]),
            link(2, Some(a), &[a]),
        ])
        .unwrap_err();
        assert!(matches!(e, ChainError::NotSignedByHolder { block: 2, .. }));
    }

    #[test]
    fn only_the_authority_binds_a_first_holder() {
        let a = key();
        assert!(holder_chain(&[link(0, None, &[])]).unwrap().is_empty());
        assert_eq!(holder_chain(&[link(0, None, &[a])]).unwrap(), vec![a]);
        for signed_by in [None, Some(a)] {
            let e = holder_chain(&[link(0, None, &[]), link(1, signed_by, &[a])]).unwrap_err();
            assert!(matches!(e, ChainError::NoHolder { block: 1, .. }), "{e}");
        }
    }

    #[test]
    fn p256_holders_delegate_and_are_delegated_to() {
        let (a, b, c) = (key(), p256(), p256());
        let links = [
            link(0, None, &[a]),
            link(1, Some(a), &[b]),
            link(2, Some(b), &[c]),
            link(3, Some(c), &[a]),
        ];
        assert_eq!(holder_chain(&links).unwrap(), vec![a, b, c, a]);
        // Another P-256 key signing for the holder breaks it, as an Ed25519 one does.
        let e = holder_chain(&[link(0, None, &[b]), link(1, Some(c), &[c])]).unwrap_err();
        assert!(
            matches!(&e, ChainError::NotSignedByHolder { holder, .. } if holder.starts_with("secp256r1/")),
            "{e}"
        );
        let e = holder_chain(&[link(0, None, &[b]), link(1, Some(a), &[a])]).unwrap_err();
        assert!(
            matches!(e, ChainError::NotSignedByHolder { block: 1, .. }),
            "{e}"
        );
    }

    #[test]
    fn the_holder_fact_of_either_algorithm_is_read_as_data() {
        use biscuit_auth::builder::{Fact, Term};
        let fact = |bytes: Vec<u8>| Fact::new("holder".to_owned(), vec![Term::Bytes(bytes)]);
        let (ed, p) = (key(), p256());
        assert_eq!(
            crate::authority::holder_facts(&[fact(ed.fact_bytes()), fact(p.fact_bytes())]),
            vec![ed.to_string(), p.to_string()]
        );
        // The point's other `y` (prefix 02 <-> 03) is another key.
        let mut other_y = p.fact_bytes();
        other_y[0] ^= 1;
        let named = crate::authority::holder_facts(&[fact(other_y)]);
        assert_ne!(named[0].parse::<HolderPublicKey>().ok(), Some(p));
        // 33 bytes off the curve, the uncompressed 65, or another prefix: no key.
        let crate::keys::HolderPublicKey::P256(point) = p else {
            panic!("a P-256 key")
        };
        let mut uncompressed = vec![4];
        uncompressed.extend_from_slice(point.x());
        uncompressed.extend_from_slice(point.y());
        // x = 1 is the `x` of no point.
        let mut off = vec![2];
        off.extend_from_slice(&[0; 31]);
        off.push(1);
        let mut prefix = p.fact_bytes();
        prefix[0] = 4;
        // SEC1's compact form, which the `p256` crate reads as the same point.
        let mut compact = p.fact_bytes();
        compact[0] = 5;
        for bytes in [uncompressed, off, prefix, compact] {
            let named = crate::authority::holder_facts(&[fact(bytes.clone())]);
            let e = holder_chain(&[Link {
                block: 0,
                signed_by: None,
                names: named,
            }])
            .unwrap_err();
            assert!(
                matches!(e, ChainError::BadKey { .. }),
                "{}",
                hex::encode(&bytes)
            );
            assert!(e.to_string().contains("`secp256r1/`"), "{e}");
        }
    }

    #[test]
    fn malformed_holders_are_refused() {
        let (a, b) = (key(), key());
        assert!(matches!(
            holder_chain(&[link(0, None, &[a, b])]),
            Err(ChainError::SeveralHolders { count: 2, .. })
        ));
        let bad = Link {
            block: 0,
            signed_by: None,
            names: vec!["alice".into()],
        };
        assert!(matches!(
            holder_chain(&[bad]),
            Err(ChainError::BadKey { .. })
        ));
    }
}
