//! The warrant test vectors (`tests/data/warrant-vectors/`): their file format, the
//! deterministic random generator and keys they are made from, and the recipe that
//! rebuilds every token from its steps with warrant-core alone.
//!
//! This file is shared: warrant-core's tests include it to rebuild the tokens and compare
//! them with the files, and warrant-verifier's `vectors` example (and its tests) include
//! it to generate the files. It uses warrant-core and biscuit-auth only. The calls into
//! core's minting API are kept in [`mint_step`], [`attenuate_step`], [`delegate_step`]
//! and [`make_proof`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use biscuit_auth::{Algorithm, BlockBuilder, KeyPair, UnverifiedBiscuit};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use sha2::{Digest as _, Sha256};
use warrant_core::grant::{Grant, Method};
use warrant_core::keys::{
    HolderAlgorithm, HolderPublicKey, HolderSigningKey, KeyId, P256SigningKey, SigningKey,
};
use warrant_core::time::Timestamp;
use warrant_core::token::{MintRequest, Verification};
use warrant_core::value::{AttrName, Value};

/// The format tag of `vectors.json`; it changes when the format does (2: P-256 holder
/// keys, `secp256r1/…`, and every key's `jwk_thumbprint`).
pub(crate) const FORMAT: &str = "warrant-vectors/2";
/// The manifest's file name in [`vectors_dir`].
pub(crate) const MANIFEST: &str = "vectors.json";

/// `tests/data/warrant-vectors/` at the workspace root (every crate sits in `crates/*`).
pub(crate) fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/warrant-vectors");
    dir.canonicalize().unwrap_or(dir)
}

/// Something that went wrong building or reading the vectors, in one line.
pub(crate) type Fail = String;

/// `what: why`, for `map_err`.
pub(crate) fn ctx<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> Fail {
    move |why| format!("{what}: {why}")
}

/// The random generator every random choice of the vectors is drawn from: a byte stream
/// per `label`, block `i` of which is `SHA-256(seed ‖ u64_be(i) ‖ label)` (32 bytes).
/// `fill_bytes` takes the next bytes of the stream; `next_u32` and `next_u64` the next 4
/// or 8, little-endian. Only for test vectors: it is as predictable as its seed.
#[derive(Debug, Clone)]
pub(crate) struct VectorRng {
    seed: [u8; 32],
    label: String,
    block: u64,
    buffered: Vec<u8>,
}

impl VectorRng {
    /// The stream named `label`.
    pub(crate) fn new(seed: &[u8; 32], label: &str) -> Self {
        Self {
            seed: *seed,
            label: label.to_owned(),
            block: 0,
            buffered: Vec::new(),
        }
    }

    fn next_byte(&mut self) -> u8 {
        if self.buffered.is_empty() {
            let digest = Sha256::new()
                .chain_update(self.seed)
                .chain_update(self.block.to_be_bytes())
                .chain_update(self.label.as_bytes())
                .finalize();
            self.block += 1;
            // Kept reversed, so that `pop` yields the bytes in order.
            self.buffered = digest.iter().rev().copied().collect();
        }
        self.buffered.pop().unwrap_or_default()
    }
}

impl RngCore for VectorRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_byte();
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// Deterministic by design: the vectors must come out the same on every run.
impl CryptoRng for VectorRng {}

/// The whole `vectors.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The token profile version the vectors are for.
    pub profile: i64,
    /// The biscuit-auth release that printed the blocks.
    pub biscuit_auth: String,
    /// The 32-byte seed, hex.
    pub seed: String,
    /// Every key, derived from the seed (see [`key_secret`]).
    pub keys: Vec<KeyVector>,
    /// The key set the verifier trusts, in the published JSON form.
    pub key_set: J,
    /// The tokens.
    pub tokens: Vec<TokenVector>,
}

/// A key derived from the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyVector {
    /// Its name: steps, proofs and revocations name keys by it.
    pub name: String,
    /// The key id it signs tokens under (`root_key_id`), for an issuer key.
    pub key_id: Option<u32>,
    /// `ed25519/<hex>`, or `secp256r1/<hex>` for a P-256 holder key (the prefix says which
    /// algorithm the key is derived for).
    pub public_key: String,
    /// Its RFC 7638 JWK thumbprint (what a DPoP-bound access token's `cnf.jkt` states).
    pub jwk_thumbprint: String,
}

impl KeyVector {
    /// The key's algorithm, as its `public_key` names it.
    pub(crate) fn algorithm(&self) -> HolderAlgorithm {
        if self.public_key.starts_with("secp256r1/") {
            HolderAlgorithm::P256
        } else {
            HolderAlgorithm::Ed25519
        }
    }
}

/// A key of the vectors: its name, the key id an issuer key signs under, its algorithm.
pub(crate) type KeyEntry = (String, Option<u32>, HolderAlgorithm);

/// One token: how it is made, what it is, and requests with their decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenVector {
    /// A short name, unique in the file.
    pub name: String,
    /// What the token exercises.
    pub description: String,
    /// How it is made, in order: one `mint`, then blocks appended.
    pub steps: Vec<Step>,
    /// The token, URL-safe base64 with padding.
    pub token: String,
    /// Its token id (32 hex digits).
    pub token_id: String,
    /// Its blocks, authority first.
    pub blocks: Vec<BlockVector>,
    /// Requests checked against it.
    pub requests: Vec<RequestVector>,
}

/// One step of making a token. Every step draws its random bytes from the stream its
/// `rng` label names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Step {
    /// `warrant_core::token::mint` with the key named `key`.
    Mint {
        /// The signing key's name.
        key: String,
        /// The minting time (RFC 3339).
        at: String,
        /// The random stream's label.
        rng: String,
        /// The grant, in the grant format.
        grant: J,
        /// The holder key's name, or `null` for a bearer token.
        holder: Option<String>,
        /// The human's id.
        human: Option<String>,
        /// How the issuer verified the human; `null` for an offline mint.
        verification: Option<VerificationVector>,
        /// Attributes of the human the issuer vouches for (grant-format values).
        human_attrs: BTreeMap<String, J>,
        /// The issuer's URL, or `offline`.
        issuer: String,
    },
    /// `warrant_core::token::attenuate`: a block signed with the previous block's key.
    Attenuate {
        /// The time a `ttl` counts from (RFC 3339).
        at: String,
        /// The random stream's label.
        rng: String,
        /// The narrowing grant.
        grant: J,
    },
    /// `warrant_core::token::delegate`: a third-party block by the holder `from`,
    /// naming `to` as the next holder.
    Delegate {
        /// The time a `ttl` counts from (RFC 3339).
        at: String,
        /// The random stream's label.
        rng: String,
        /// The current holder's key name.
        from: String,
        /// The next holder's key name.
        to: String,
        /// The narrowing grant (may be `{}`).
        grant: J,
    },
    /// A plain Biscuit attenuation block written in Datalog, as any Biscuit tool appends.
    AppendDatalog {
        /// The random stream's label.
        rng: String,
        /// The block's Datalog source.
        code: String,
    },
}

/// How the issuer verified the human.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerificationVector {
    /// `passkey`, `device-key` or `oidc`.
    pub method: String,
    /// When (RFC 3339).
    pub at: String,
}

/// One block of a token, as Biscuit prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlockVector {
    /// `issuer` (the authority block), `attenuation` or `third-party`.
    pub signed_by: String,
    /// The third-party key that signed it (`ed25519/<hex>` or `secp256r1/<hex>`).
    pub external_key: Option<String>,
    /// Its revocation id (128 hex digits).
    pub revocation_id: String,
    /// `print_block_source`'s text, one line an entry (the text is every line followed
    /// by a newline).
    pub datalog: Vec<String>,
}

/// A request and what the verifier decides for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestVector {
    /// A short name, unique for the token.
    pub name: String,
    /// `resource(…)`.
    pub resource: String,
    /// `action(…)`.
    pub action: String,
    /// `time(…)` (RFC 3339).
    pub time: String,
    /// `audience(…)`: the API checking the token; `null` for none.
    pub audience: Option<String>,
    /// `attr(name, value)`, grant-format values (an RFC 3339 string is a date).
    pub attrs: BTreeMap<String, J>,
    /// The DPoP proof sent with the request, if any.
    pub proof: Option<ProofVector>,
    /// How the verifier is configured.
    pub verifier: VerifierVector,
    /// The decision.
    pub expect: Expect,
}

/// A DPoP proof for one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProofVector {
    /// The name of the key that signed it.
    pub signer: String,
    /// The HTTP method (`htm`).
    pub method: String,
    /// The request URL (`htu`).
    pub url: String,
    /// The random stream's label (for the `jti`).
    pub rng: String,
    /// The proof (`iat` is the request time).
    pub dpop: String,
}

/// The verifier's settings for one request (besides the trusted [`Manifest::key_set`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifierVector {
    /// Whether tokens without a holder are accepted.
    pub allow_bearer: bool,
    /// Revocation entries, in the revocation feed's JSON form (`kind`, `value`).
    pub revocations: Vec<RevocationVector>,
}

/// One revocation entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevocationVector {
    /// `token_id`, `revocation_id` or `holder`.
    pub kind: String,
    /// The id or key.
    pub value: String,
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Expect {
    /// The token permits the request.
    Allowed {
        /// The holder at the end of the chain (`ed25519/<hex>` or `secp256r1/<hex>`),
        /// `null` for a bearer token.
        holder: Option<String>,
        /// The earliest expiry of any block (RFC 3339).
        expires_at: Option<String>,
    },
    /// The token does not permit the request.
    Denied {
        /// The denial kind, as `warrant_verifier::DenialKind` serializes it.
        kind: String,
        /// The block whose check failed, when the denial names one.
        block: Option<usize>,
        /// The request attribute at fault, when the denial names one.
        attribute: Option<String>,
    },
}

/// The seed as bytes.
pub(crate) fn seed_bytes(hex_seed: &str) -> Result<[u8; 32], Fail> {
    hex::decode(hex_seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("the seed `{hex_seed}` is not 64 hex digits"))
}

/// The secret of the key named `name`: the first 32 bytes of stream `key/<name>` (an
/// Ed25519 seed, or a P-256 secret scalar, big-endian).
pub(crate) fn key_secret(seed: &[u8; 32], name: &str) -> [u8; 32] {
    let mut secret = [0u8; 32];
    VectorRng::new(seed, &format!("key/{name}")).fill_bytes(&mut secret);
    secret
}

/// The keys of a manifest, derived from its seed.
#[derive(Debug)]
pub(crate) struct Keys {
    seed: [u8; 32],
    keys: BTreeMap<String, HolderSigningKey>,
}

impl Keys {
    /// Derives every key `entries` names (their public keys are not read).
    pub(crate) fn derive(seed: [u8; 32], entries: &[KeyEntry]) -> Result<Self, Fail> {
        let mut keys = BTreeMap::new();
        for (name, key_id, algorithm) in entries {
            let secret = key_secret(&seed, name);
            let key = match algorithm {
                HolderAlgorithm::Ed25519 => {
                    SigningKey::from_secret_bytes(&secret, key_id.map(KeyId)).map(Into::into)
                }
                HolderAlgorithm::P256 => P256SigningKey::from_secret_bytes(&secret).map(Into::into),
            }
            .map_err(|e| format!("key `{name}`: {e}"))?;
            keys.insert(name.clone(), key);
        }
        Ok(Self { seed, keys })
    }

    /// The entries of the keys a manifest lists.
    pub(crate) fn entries(manifest: &Manifest) -> Vec<KeyEntry> {
        manifest
            .keys
            .iter()
            .map(|k| (k.name.clone(), k.key_id, k.algorithm()))
            .collect()
    }

    /// Derives the keys a manifest lists.
    pub(crate) fn of(manifest: &Manifest) -> Result<Self, Fail> {
        Self::derive(seed_bytes(&manifest.seed)?, &Self::entries(manifest))
    }

    /// The key named `name`.
    pub(crate) fn get(&self, name: &str) -> Result<&HolderSigningKey, Fail> {
        self.keys
            .get(name)
            .ok_or_else(|| format!("no key is named `{name}`"))
    }

    /// The Ed25519 key named `name` (issuers sign with Ed25519).
    pub(crate) fn ed25519(&self, name: &str) -> Result<&SigningKey, Fail> {
        match self.get(name)? {
            HolderSigningKey::Ed25519(k) => Ok(k),
            HolderSigningKey::P256(_) => Err(format!(
                "key `{name}` is a P-256 key: issuers sign with Ed25519"
            )),
        }
    }

    /// The key id of the key named `name` (an Ed25519 issuer key's).
    pub(crate) fn key_id(&self, name: &str) -> Result<Option<u32>, Fail> {
        Ok(match self.get(name)? {
            HolderSigningKey::Ed25519(k) => k.key_id().map(|id| id.0),
            HolderSigningKey::P256(_) => None,
        })
    }

    /// The stream named `label`.
    pub(crate) fn rng(&self, label: &str) -> VectorRng {
        VectorRng::new(&self.seed, label)
    }

    /// The keys as the manifest lists them.
    pub(crate) fn vectors(&self, entries: &[KeyEntry]) -> Result<Vec<KeyVector>, Fail> {
        entries
            .iter()
            .map(|(name, key_id, _)| {
                let public = self.get(name)?.public();
                Ok(KeyVector {
                    name: name.clone(),
                    key_id: *key_id,
                    public_key: public.to_string(),
                    jwk_thumbprint: public.jwk_thumbprint(),
                })
            })
            .collect()
    }
}

/// An RFC 3339 time.
pub(crate) fn timestamp(text: &str) -> Result<Timestamp, Fail> {
    text.parse().map_err(|e| format!("time `{text}`: {e}"))
}

fn grant(v: &J) -> Result<Grant, Fail> {
    Grant::from_json(v).map_err(|e| format!("grant {v}: {e}"))
}

/// A grant-format value.
pub(crate) fn value(name: &str, v: &J) -> Result<Value, Fail> {
    Value::from_json(v).map_err(|e| format!("value of `{name}`: {e}"))
}

/// Makes the token `steps` describe; returns its base64 text.
pub(crate) fn build_token(keys: &Keys, steps: &[Step]) -> Result<String, Fail> {
    let (first, rest) = steps
        .split_first()
        .ok_or_else(|| "a token needs a `mint` step".to_owned())?;
    let mut token = mint_step(keys, first)?;
    for step in rest {
        token = match step {
            Step::Mint { .. } => return Err("only the first step may be `mint`".into()),
            Step::Attenuate { at, rng, grant: g } => {
                attenuate_step(&token, grant(g)?, timestamp(at)?, &mut keys.rng(rng))?
            }
            Step::Delegate {
                at,
                rng,
                from,
                to,
                grant: g,
            } => delegate_step(
                &token,
                keys.get(from)?,
                keys.get(to)?.public(),
                grant(g)?,
                timestamp(at)?,
                &mut keys.rng(rng),
            )?,
            Step::AppendDatalog { rng, code } => {
                let block = BlockBuilder::new()
                    .code(code.as_str())
                    .map_err(|e| format!("datalog `{code}`: {e}"))?;
                let next = KeyPair::new_with_rng(Algorithm::Ed25519, &mut keys.rng(rng));
                token
                    .append_with_keypair(&next, block)
                    .map_err(|e| format!("appending `{code}`: {e}"))?
            }
        };
    }
    token.to_base64().map_err(|e| format!("encoding: {e}"))
}

/// The `mint` step: the one call into core's minting.
fn mint_step(keys: &Keys, step: &Step) -> Result<UnverifiedBiscuit, Fail> {
    let Step::Mint {
        key,
        at,
        rng,
        grant: g,
        holder,
        human,
        verification,
        human_attrs,
        issuer,
    } = step
    else {
        return Err("a token starts with a `mint` step".into());
    };
    let verification = match verification {
        Some(v) => Some(Verification {
            method: Method::parse(&v.method)
                .ok_or_else(|| format!("`{}` is not a verification method", v.method))?,
            at: timestamp(&v.at)?,
        }),
        None => None,
    };
    let mut attrs = BTreeMap::new();
    for (name, v) in human_attrs {
        let name_parsed: AttrName = name.parse().map_err(ctx(format!("`{name}`")))?;
        attrs.insert(name_parsed, value(name, v)?);
    }
    let mut req = MintRequest::offline(grant(g)?);
    req.holder = holder
        .as_deref()
        .map(|h| keys.get(h).map(HolderSigningKey::public))
        .transpose()?;
    req.human.clone_from(human);
    req.verification = verification;
    req.human_attrs = attrs;
    req.issuer.clone_from(issuer);
    let minted =
        warrant_core::token::mint(keys.ed25519(key)?, req, timestamp(at)?, &mut keys.rng(rng))
            .map_err(|e| format!("mint: {e}"))?;
    let text = minted.token.to_base64().map_err(ctx("mint"))?;
    warrant_core::token::decode_unverified(&text).map_err(|e| format!("mint: {e}"))
}

/// The `attenuate` step: the one call into core's attenuation.
fn attenuate_step(
    token: &UnverifiedBiscuit,
    g: Grant,
    at: Timestamp,
    rng: &mut VectorRng,
) -> Result<UnverifiedBiscuit, Fail> {
    warrant_core::token::attenuate(token, g, at, rng).map_err(|e| format!("attenuate: {e}"))
}

/// The `delegate` step: the one call into core's delegation.
fn delegate_step(
    token: &UnverifiedBiscuit,
    from: &HolderSigningKey,
    to: HolderPublicKey,
    g: Grant,
    at: Timestamp,
    rng: &mut VectorRng,
) -> Result<UnverifiedBiscuit, Fail> {
    warrant_core::token::delegate(token, from, to, g, at, rng).map_err(|e| format!("delegate: {e}"))
}

/// The DPoP proof `signer` makes for `token` at `at`, its `jti` drawn from stream `rng`.
pub(crate) fn make_proof(
    keys: &Keys,
    token: &str,
    signer: &str,
    method: &str,
    url: &str,
    at: &str,
    rng: &str,
) -> Result<String, Fail> {
    warrant_core::dpop::create_proof(
        keys.get(signer)?,
        method,
        url,
        token,
        timestamp(at)?,
        &mut keys.rng(rng),
    )
    .map_err(|e| format!("proof: {e}"))
}

/// What a token is, read from its text without checking a signature: its token id and
/// its blocks as Biscuit prints them.
pub(crate) fn describe_token(text: &str) -> Result<(String, Vec<BlockVector>), Fail> {
    let token = warrant_core::token::decode_unverified(text).map_err(ctx("token"))?;
    let token_id = warrant_core::token::unverified_authority(&token)
        .token_id
        .unwrap_or_default();
    let external = token.external_public_keys();
    let revocation = token.revocation_identifiers();
    let mut blocks = Vec::with_capacity(token.block_count());
    for index in 0..token.block_count() {
        let source = token
            .print_block_source(index)
            .map_err(ctx(format!("block {index}")))?;
        let datalog: Vec<String> = source.lines().map(str::to_owned).collect();
        let rebuilt: String = datalog.iter().map(|l| format!("{l}\n")).collect();
        if rebuilt != source {
            return Err(format!(
                "block {index}'s printed text is not whole lines: {source:?}"
            ));
        }
        let external_key = external.get(index).cloned().flatten().map(|k| {
            HolderPublicKey::from_biscuit(&k).map_or_else(|| k.print(), |p| p.to_string())
        });
        let signed_by = match (index, &external_key) {
            (0, _) => "issuer",
            (_, Some(_)) => "third-party",
            (_, None) => "attenuation",
        };
        blocks.push(BlockVector {
            signed_by: signed_by.to_owned(),
            external_key,
            revocation_id: revocation.get(index).map(hex::encode).unwrap_or_default(),
            datalog,
        });
    }
    Ok((token_id, blocks))
}

/// Reads the checked-in manifest.
pub(crate) fn read_manifest() -> Result<Manifest, Fail> {
    let path = vectors_dir().join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(ctx(path.display()))?;
    serde_json::from_str(&text).map_err(ctx(path.display()))
}

/// The manifest's text as the generator writes it.
pub(crate) fn manifest_text(manifest: &Manifest) -> Result<String, Fail> {
    let mut text = serde_json::to_string_pretty(manifest).map_err(ctx("manifest"))?;
    text.push('\n');
    Ok(text)
}
