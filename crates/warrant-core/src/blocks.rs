//! A token's blocks read from its bytes as data, never from printed text.
//!
//! Biscuit prints strings without escaping them, so a value holding a newline and a
//! fact's syntax reads back as a second fact. Every decision warrant makes about a token
//! (its authority facts, its holder chain, whether a block is in the profile, whether a
//! block is within the evaluation budget) is taken from the structures here: the
//! protobuf blocks of Biscuit's public schema, their symbol indices resolved the way
//! Biscuit resolves them (first-party blocks share one growing table, a third-party
//! block has its own), converted to Biscuit's builder types.

use biscuit_auth::builder::{Check, Convert, Fact, Rule, Scope};
use biscuit_auth::datalog::SymbolTable;
use biscuit_auth::format::{convert, schema};
use biscuit_auth::PublicKey;
use prost::Message as _;

/// One block of a token, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockData {
    /// The block's facts.
    pub facts: Vec<Fact>,
    /// The block's rules.
    pub rules: Vec<Rule>,
    /// The block's checks (`check if`, `check all`, `reject if`).
    pub checks: Vec<Check>,
    /// Block-level `trusting` scopes.
    pub scopes: Vec<Scope>,
    /// The third-party key that signed the block, if it is a third-party block.
    pub external_key: Option<PublicKey>,
    /// The block's datalog version.
    pub version: u32,
    /// The block's `context` string, if any.
    pub context: Option<String>,
}

/// Why a token's blocks could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlocksError {
    /// The bytes are not Biscuit's protobuf messages.
    #[error("the token's blocks cannot be read: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A block's content is not Biscuit's (symbols, keys, Datalog).
    #[error("the token's blocks cannot be read: {0}")]
    Format(#[from] biscuit_auth::error::Format),
}

/// The most blocks a token may have (authority included): a verifier refuses a longer
/// token before checking any signature, so its cost stays bounded (Biscuit's own
/// verification grows faster than linearly with the number of blocks). Real chains are
/// short: an authority, a few attenuations, a few delegations.
pub const MAX_BLOCKS: usize = 32;

/// How many blocks serialized token `bytes` has (authority included), from its outer
/// structure alone: no block is decoded and no signature checked.
pub fn block_count(bytes: &[u8]) -> Result<usize, BlocksError> {
    Ok(decode(bytes)?.blocks.len() + 1)
}

/// The outer protobuf message of serialized token `bytes` (blocks still serialized,
/// signatures unchecked), to read its blocks from with [`read_decoded`] without
/// decoding the bytes twice.
pub fn decode(bytes: &[u8]) -> Result<schema::Biscuit, BlocksError> {
    Ok(schema::Biscuit::decode(bytes)?)
}

/// Reads every block of serialized token `bytes`, authority first. Signatures are not
/// checked here: read the bytes a [`biscuit_auth::Biscuit`] was verified from.
pub fn read_blocks(bytes: &[u8]) -> Result<Vec<BlockData>, BlocksError> {
    read_decoded(&decode(bytes)?)
}

/// Reads every block of a token decoded with [`decode`], authority first. Signatures
/// are not checked here: decode the bytes whose signatures were verified.
pub fn read_decoded(token: &schema::Biscuit) -> Result<Vec<BlockData>, BlocksError> {
    // First-party blocks share one growing table; a third-party block has its own.
    let mut first_party = SymbolTable::new();
    let mut out = Vec::with_capacity(token.blocks.len() + 1);
    for signed in std::iter::once(&token.authority).chain(token.blocks.iter()) {
        let block = schema::Block::decode(signed.block.as_slice())?;
        let mut keys: Vec<PublicKey> = Vec::with_capacity(block.public_keys.len());
        for k in &block.public_keys {
            let k = PublicKey::from_proto(k)?;
            // Biscuit refuses a key listed twice in the first-party table.
            if external_key_of(signed).is_none() && keys.contains(&k) {
                return Err(biscuit_auth::error::Format::PublicKeyTableOverlap.into());
            }
            keys.push(k);
        }
        let external_key = signed
            .external_signature
            .as_ref()
            .map(|s| PublicKey::from_proto(&s.public_key))
            .transpose()
            .map_err(BlocksError::from)?;
        // Refuses a symbol of Biscuit's default table and a key listed twice; its
        // `symbols` is the block's own table (its symbols and keys, in order).
        let mut data = convert::proto_block_to_token_block(&block, None)?;
        let table = if external_key.is_some() {
            &data.symbols
        } else {
            // As Biscuit reads them: a symbol or key already in the table is refused.
            extend_first_party(
                &mut first_party,
                &mut data.symbols,
                &block.symbols,
                block.public_keys.is_empty(),
            )?;
            &first_party
        };
        out.push(BlockData {
            facts: resolve(&data.facts, table)?,
            rules: resolve(&data.rules, table)?,
            checks: resolve(&data.checks, table)?,
            scopes: resolve(&data.scopes, table)?,
            external_key,
            version: data.version,
            context: data.context,
        });
    }
    Ok(out)
}

/// `table.extend(own)`, for the table `own` of a first-party block whose symbols are
/// `symbols`, in order (and which has keys unless `no_keys`): the same table, the same
/// refusal (`own` may be left empty). An empty table becomes `own`, moved: all that
/// `extend` copies into it. Without keys, each symbol is inserted, which appends it when
/// it is not in the table yet (`extend` compares hash sets of both tables): when every
/// symbol is appended (none was in the table, none is there twice), the table is what
/// `extend` makes; otherwise the table is put back as it was and `extend` decides.
fn extend_first_party(
    table: &mut SymbolTable,
    own: &mut SymbolTable,
    symbols: &[String],
    no_keys: bool,
) -> Result<(), BlocksError> {
    if *table == SymbolTable::new() {
        *table = std::mem::take(own);
        return Ok(());
    }
    if no_keys {
        let offset = table.current_offset();
        let appended = symbols.iter().all(|s| {
            let before = table.current_offset();
            table.insert(s);
            table.current_offset() == before + 1
        });
        if appended {
            return Ok(());
        }
        drop(table.split_at(offset));
    }
    Ok(table.extend(own)?)
}

fn external_key_of(signed: &schema::SignedBlock) -> Option<&schema::PublicKey> {
    signed.external_signature.as_ref().map(|s| &s.public_key)
}

/// Biscuit's datalog items with their symbols resolved through `table`.
fn resolve<D, B: Convert<D>>(items: &[D], table: &SymbolTable) -> Result<Vec<B>, BlocksError> {
    items
        .iter()
        .map(|item| B::convert_from(item, table))
        .collect::<Result<_, _>>()
        .map_err(BlocksError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use biscuit_auth::builder::Term;
    use biscuit_auth::{Biscuit, BlockBuilder, KeyPair};
    use proptest::strategy::Strategy as _;

    /// `read_decoded` as it was before it took the block's own table from Biscuit's
    /// conversion of the block: the oracle.
    fn read_decoded_oracle(token: &schema::Biscuit) -> Result<Vec<BlockData>, BlocksError> {
        let mut first_party = SymbolTable::new();
        let mut out = Vec::with_capacity(token.blocks.len() + 1);
        for signed in std::iter::once(&token.authority).chain(token.blocks.iter()) {
            let block = schema::Block::decode(signed.block.as_slice())?;
            let mut keys: Vec<PublicKey> = Vec::with_capacity(block.public_keys.len());
            for k in &block.public_keys {
                let k = PublicKey::from_proto(k)?;
                if external_key_of(signed).is_none() && keys.contains(&k) {
                    return Err(biscuit_auth::error::Format::PublicKeyTableOverlap.into());
                }
                keys.push(k);
            }
            let external_key = signed
                .external_signature
                .as_ref()
                .map(|s| PublicKey::from_proto(&s.public_key))
                .transpose()
                .map_err(BlocksError::from)?;
            let data = convert::proto_block_to_token_block(&block, None)?;
            let own;
            let table = if external_key.is_some() {
                own = SymbolTable::from_symbols_and_public_keys(block.symbols, keys)?;
                &own
            } else {
                first_party.extend(&SymbolTable::from_symbols_and_public_keys(
                    block.symbols,
                    keys,
                )?)?;
                &first_party
            };
            out.push(BlockData {
                facts: resolve(&data.facts, table)?,
                rules: resolve(&data.rules, table)?,
                checks: resolve(&data.checks, table)?,
                scopes: resolve(&data.scopes, table)?,
                external_key,
                version: data.version,
                context: data.context,
            });
        }
        Ok(out)
    }

    /// A token with keys in its blocks' tables: authority, first-party, third-party,
    /// first-party.
    fn keyed_token() -> (schema::Biscuit, Vec<schema::PublicKey>) {
        let root = KeyPair::new();
        let (k1, k2, third) = (KeyPair::new(), KeyPair::new(), KeyPair::new());
        let token = Biscuit::builder()
            .code(format!(
                "right(\"a\"); zeta(\"shared\"); check if zeta($x) trusting {}",
                k1.public()
            ))
            .unwrap()
            .build(&root)
            .unwrap()
            .append(
                BlockBuilder::new()
                    .code(format!(
                        "check if right($r), $r == \"a\" trusting {}",
                        k2.public()
                    ))
                    .unwrap(),
            )
            .unwrap();
        let request = token.third_party_request().unwrap();
        let block = request
            .create_block(
                &third.private(),
                BlockBuilder::new()
                    .code(format!(
                        "gamma(\"other\"); check if omega(true) trusting {}",
                        k1.public()
                    ))
                    .unwrap(),
            )
            .unwrap();
        let token = token
            .append_third_party(third.public(), block)
            .unwrap()
            .append(
                BlockBuilder::new()
                    .code(format!(
                        "check if zeta(\"new\") trusting {}",
                        third.public()
                    ))
                    .unwrap(),
            )
            .unwrap();
        let keys = [k1, k2, third]
            .iter()
            .map(|k| k.public().to_proto())
            .collect();
        (decode(&token.to_vec().unwrap()).unwrap(), keys)
    }

    /// A token without keys: authority, two first-party blocks, a third-party block.
    fn plain_token() -> schema::Biscuit {
        let root = KeyPair::new();
        let third = KeyPair::new();
        let token = Biscuit::builder()
            .code("right(\"a\"); zeta(\"shared\"); check if time($t), $t < 2030-01-01T00:00:00Z")
            .unwrap()
            .build(&root)
            .unwrap()
            .append(
                BlockBuilder::new()
                    .code("check if right($r), [\"a\", \"b\"].contains($r); check if zeta(\"new\")")
                    .unwrap(),
            )
            .unwrap()
            .append(
                BlockBuilder::new()
                    .code("check if resource(\"x\"), zeta($z), $z.starts_with(\"sh\")")
                    .unwrap(),
            )
            .unwrap();
        let request = token.third_party_request().unwrap();
        let block = request
            .create_block(
                &third.private(),
                BlockBuilder::new()
                    .code("gamma(\"other\"); check if zeta(\"shared\")")
                    .unwrap(),
            )
            .unwrap();
        let token = token.append_third_party(third.public(), block).unwrap();
        decode(&token.to_vec().unwrap()).unwrap()
    }

    /// Symbols: some of Biscuit's default table, some not.
    fn symbols() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        proptest::collection::vec(
            proptest::sample::select(vec!["a", "b", "c", "d", "e", "read", "query", "time"]),
            0..6,
        )
        .prop_map(|v| v.into_iter().map(str::to_owned).collect())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// The first-party table grows exactly as `SymbolTable::extend` makes it grow,
        /// and refuses what it refuses.
        #[test]
        fn first_party_tables_grow_as_biscuits_do(
            table in symbols(),
            block in symbols(),
            keys in proptest::collection::vec(0usize..3, 0..3),
            table_keys in proptest::collection::vec(0usize..3, 0..2),
        ) {
            let pairs = [KeyPair::new(), KeyPair::new(), KeyPair::new()];
            let pick = |ks: &[usize]| ks.iter().map(|&k| pairs[k].public()).collect::<Vec<_>>();
            let Ok(own) = SymbolTable::from_symbols_and_public_keys(block.clone(), pick(&keys))
            else {
                return Ok(());
            };
            let mut oracle = SymbolTable::from_symbols_and_public_keys(table, pick(&table_keys))
                .unwrap_or_default();
            let mut fast = oracle.clone();
            let expected = oracle.extend(&own).map_err(BlocksError::from);
            let got = extend_first_party(&mut fast, &mut own.clone(), &block, keys.is_empty());
            proptest::prop_assert_eq!(got, expected);
            proptest::prop_assert_eq!(fast, oracle);
        }

        /// Edited symbol and key tables (a default symbol, another block's symbol, a
        /// symbol twice, a symbol missing, a key twice or another block's key, an
        /// unknown version) are refused or read exactly as before.
        #[test]
        fn blocks_are_read_as_before_whatever_their_tables(
            keyed in proptest::bool::ANY,
            edits in proptest::collection::vec((0usize..4, 0u8..9, 0usize..8), 0..4)
        ) {
            let (mut token, keys) = match keyed {
                true => keyed_token(),
                false => (plain_token(), keyed_token().1),
            };
            for (b, edit, n) in edits {
                let signed = match b {
                    0 => &mut token.authority,
                    i => token.blocks.get_mut(i - 1).unwrap(),
                };
                let mut block = schema::Block::decode(signed.block.as_slice()).unwrap();
                let some_symbol = block.symbols.get(n % block.symbols.len().max(1)).cloned();
                match edit {
                    0 => block.symbols.push("read".to_owned()),
                    1 => block.symbols.push(["right", "zeta", "gamma", "new", "r"][n % 5].to_owned()),
                    2 => block.symbols.extend(some_symbol),
                    3 => drop(block.symbols.pop()),
                    4 => block.symbols.insert(0, format!("s{n}")),
                    5 => block.public_keys.push(keys[n % keys.len()].clone()),
                    6 => block.public_keys.extend(block.public_keys.first().cloned()),
                    7 => drop(block.public_keys.pop()),
                    _ => block.version = Some(u32::try_from(n).unwrap() + 2),
                }
                signed.block = block.encode_to_vec();
            }
            proptest::prop_assert_eq!(read_decoded(&token), read_decoded_oracle(&token));
        }
    }

    #[test]
    fn strings_with_newlines_stay_one_term() {
        let root = KeyPair::new();
        let evil = "x\");\ntoken_id(\"000\");\nhuman(\"admin";
        let mut params = std::collections::HashMap::new();
        params.insert("h".to_owned(), Term::Str(evil.to_owned()));
        let token = Biscuit::builder()
            .code_with_params("human({h});", params, Default::default())
            .unwrap()
            .build(&root)
            .unwrap()
            .append(
                BlockBuilder::new()
                    .code("check if action(\"read\");")
                    .unwrap(),
            )
            .unwrap();
        let blocks = read_blocks(&token.to_vec().unwrap()).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].facts.len(), 1);
        assert_eq!(blocks[0].facts[0].predicate.name, "human");
        assert_eq!(
            blocks[0].facts[0].predicate.terms,
            vec![Term::Str(evil.to_owned())]
        );
        assert_eq!(blocks[1].checks.len(), 1);
        assert_eq!(blocks[1].checks[0].to_string(), "check if action(\"read\")");
    }

    #[test]
    fn third_party_blocks_use_their_own_symbols() {
        let root = KeyPair::new();
        let third = KeyPair::new();
        let token = Biscuit::builder()
            .code("right(\"a\"); zeta(\"shared\");")
            .unwrap()
            .build(&root)
            .unwrap();
        let request = token.third_party_request().unwrap();
        let block = request
            .create_block(
                &third.private(),
                BlockBuilder::new().code("gamma(\"other\");").unwrap(),
            )
            .unwrap();
        let token = token
            .append_third_party(third.public(), block)
            .unwrap()
            .append(BlockBuilder::new().code("check if zeta($x);").unwrap())
            .unwrap();
        let blocks = read_blocks(&token.to_vec().unwrap()).unwrap();
        assert_eq!(blocks[1].external_key, Some(third.public()));
        assert_eq!(blocks[1].facts[0].to_string(), "gamma(\"other\")");
        assert_eq!(blocks[2].checks[0].to_string(), "check if zeta($x)");
        assert!(read_blocks(b"not a token").is_err());
    }
}
