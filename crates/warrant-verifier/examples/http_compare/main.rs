//! The HTTP comparison of docs/performance.md: one axum app, the same handler, behind one
//! of three guards, each taking the same decision for every request:
//!
//! - `layer`: warrant's tower layer (`warrant_verifier::http::WarrantLayer`), bearer
//!   tokens (`dangerous_accept_bearer`: the JWT comparators have no holder binding
//!   either), the verifier's default cache of verified tokens (`--cache-capacity`);
//! - `jwt`: a JWT middleware verifying every request with jsonwebtoken (EdDSA), then
//!   evaluating the token's grant claim (jwt.rs);
//! - `jwt-cached`: the same with the verified claims cached by the token text (jwt.rs).
//!
//! The route is `GET /tickets/{id}/email_address`, a read of `tickets/{id}/email_address`
//! with the ticket's status as the `ticket.status` attribute (ticket 123 is open, 124 is
//! closed). Every token carries the design's grant (docs/performance.md, the `verify`
//! bench): ticket 123's email address is allowed, ticket 124's is not.
//!
//! ```text
//! # N warrant tokens and N JWTs (one per line) and the keys that signed them, in DIR:
//! http_compare mint --dir DIR [--tokens 20000] [--blocks 3]
//! # the API on ADDR, behind one guard (a fresh process per measurement):
//! http_compare serve --dir DIR --guard layer|jwt|jwt-cached --listen 127.0.0.1:PORT
//! ```
//!
//! `GET /healthz` and `GET /stats` (requests that reached the guard, non-200 answers among
//! them, misses of the JWT cache) are outside the guard. scripts/http-compare.sh builds
//! it, runs every guard under wrk and prints the ratios.

mod jwt;

use std::error::Error;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use clap::{Parser, Subcommand, ValueEnum};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use rand_core::{OsRng, RngCore};
use warrant_core::grant::Grant;
use warrant_core::keys::SigningKey;
use warrant_core::time::Timestamp;
use warrant_core::token::{attenuate, decode_unverified, encode, mint, MintRequest};
use warrant_verifier::http::{matched_route, resource_from_path, LayerError, WarrantLayer};
use warrant_verifier::{KeyId, KeySet, Verifier, DEFAULT_CACHE_CAPACITY};

use jwt::{jwt_guard, JwtGuard};

type BoxError = Box<dyn Error + Send + Sync>;

/// The audience every token names and every guard requires.
const AUDIENCE: &str = "support-api";
/// The JWTs' issuer.
const ISSUER: &str = "https://issuer.example";
/// The one guarded route.
const ROUTE: &str = "/tickets/{id}/email_address";

/// The attenuation blocks of a token of 2 and 3 blocks (as in `benches/verify.rs`, with
/// lifetimes that outlast a run).
const NARROWER: [&str; 2] = [
    r#"{"ttl": "50m", "allow": [{"resources": ["tickets/123/*", "orders/*"], "actions": ["read", "refund"]}]}"#,
    r#"{"ttl": "40m", "allow": [{"resources": ["tickets/123/email_address"], "actions": ["read"]}]}"#,
];

#[derive(Debug, Parser)]
#[command(about = "The HTTP comparison: warrant's layer, a JWT and a cached-JWT middleware")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes new keys, N warrant tokens (`warrant.tokens`) and N JWTs (`jwt.tokens`),
    /// one per line, to DIR.
    Mint {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 20_000)]
        tokens: usize,
        /// Blocks per warrant token: the authority block and 0 to 2 attenuations.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=3))]
        blocks: u8,
    },
    /// Serves the API behind one guard, with the keys in DIR.
    Serve {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, value_enum)]
        guard: Guard,
        #[arg(long)]
        listen: SocketAddr,
        /// Tokens kept by the warrant verifier's cache and by the JWT cache.
        #[arg(long, default_value_t = DEFAULT_CACHE_CAPACITY)]
        cache_capacity: usize,
    },
}

/// The guard in front of the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Guard {
    /// warrant's tower layer.
    Layer,
    /// jsonwebtoken on every request.
    Jwt,
    /// jsonwebtoken, verified claims cached by the token text.
    JwtCached,
}

/// What the guarded route means to a token: one function for every guard.
#[derive(Debug)]
struct Target {
    resource: String,
    action: &'static str,
    ticket_status: Option<&'static str>,
}

/// The API's own data: the status of each ticket.
fn ticket_status(id: &str) -> Option<&'static str> {
    match id {
        "123" => Some("open"),
        "124" => Some("closed"),
        _ => None,
    }
}

/// The request as a resource, an action and attributes, by route template (every guard
/// is added with `route_layer`); `None` for anything else (refused: deny by default).
fn target(parts: &Parts) -> Option<Target> {
    match (parts.method.as_str(), matched_route(parts)) {
        ("GET", Some(ROUTE)) => {
            let resource = resource_from_path("/", parts.uri.path()).ok()?;
            let ticket_status = resource.split('/').nth(1).and_then(ticket_status);
            Some(Target {
                resource,
                action: "read",
                ticket_status,
            })
        }
        _ => None,
    }
}

/// The layer's mapping function: [`target`] as a warrant request.
fn map(parts: &Parts) -> Option<warrant_verifier::Request> {
    let t = target(parts)?;
    let request = warrant_verifier::Request::now(t.resource, t.action);
    Some(match t.ticket_status {
        Some(status) => request.with_attr("ticket.status", status),
        None => request,
    })
}

/// Counters read by the script after a run (`GET /stats`).
#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    non_200: AtomicU64,
    cache_misses: AtomicU64,
}

/// Counts every answer of the guarded route, and those that are not 200.
async fn count(State(stats): State<Arc<Stats>>, request: Request, next: Next) -> Response {
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        stats.non_200.fetch_add(1, Ordering::Relaxed);
    }
    response
}

/// The handler, the same behind every guard.
async fn email(Path(id): Path<String>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ticket": id, "email_address": "customer@example.com" }))
}

/// The signing keys: the warrant issuer's (key id 1) and the JWT issuer's.
struct Keys {
    warrant: SigningKey,
    jwt: ed25519_dalek::SigningKey,
}

impl Keys {
    const FILE: &'static str = "keys.hex";

    /// New keys, written to `dir` (64 random bytes in hex).
    fn create(dir: &FsPath) -> Result<Self, BoxError> {
        let mut seed = [0u8; 64];
        OsRng.fill_bytes(&mut seed);
        fs::write(dir.join(Self::FILE), hex::encode(seed))?;
        Self::from_seed(&seed)
    }

    /// The keys written to `dir` by [`Self::create`].
    fn load(dir: &FsPath) -> Result<Self, BoxError> {
        let seed = hex::decode(fs::read_to_string(dir.join(Self::FILE))?.trim())?;
        Self::from_seed(&seed)
    }

    fn from_seed(seed: &[u8]) -> Result<Self, BoxError> {
        let (a, b) = seed
            .split_at_checked(32)
            .ok_or("the key file is too short")?;
        Ok(Self {
            warrant: SigningKey::from_secret_bytes(a.try_into()?, Some(KeyId(1)))?,
            jwt: ed25519_dalek::SigningKey::from_bytes(b.try_into()?),
        })
    }

    /// A warrant token of `blocks` blocks (1 to 3).
    fn warrant_token(&self, blocks: u8, now: Timestamp) -> Result<String, BoxError> {
        // The design's grant (as in `benches/verify.rs`), an hour long: the authority block of
        // every warrant token and the `grant` claim of every JWT.
        let mut req =
            MintRequest::offline(Grant::from_json_str(&warrant_test::design_grant("1h"))?);
        req.human = Some("alice".into());
        let minted = mint(&self.warrant, req, now, &mut OsRng)?;
        let mut token = decode_unverified(&minted.token.to_base64()?)?;
        for narrower in NARROWER.iter().take(usize::from(blocks).saturating_sub(1)) {
            token = attenuate(&token, Grant::from_json_str(narrower)?, now, &mut OsRng)?;
        }
        Ok(encode(&token))
    }

    /// A JWT (EdDSA) with the standard claims and the same grant, as long-lived.
    fn jwt(&self, now: Timestamp) -> Result<String, BoxError> {
        let mut jti = [0u8; 16];
        OsRng.fill_bytes(&mut jti);
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": now.unix(),
            "exp": now.unix() + 3600, "jti": hex::encode(jti),
            "grant": serde_json::from_str::<serde_json::Value>(&warrant_test::design_grant("1h"))?,
        });
        let der = self.jwt.to_pkcs8_der()?;
        Ok(jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
        )?)
    }

    /// The warrant verifier: the key set of key 1, the audience, bearer tokens.
    fn verifier(&self, cache_capacity: usize) -> Verifier {
        Verifier::builder(KeySet::single(KeyId(1), self.warrant.public()))
            .audience(AUDIENCE)
            .dangerous_accept_bearer()
            .cache_capacity(cache_capacity)
            .build()
    }
}

/// The API behind `guard`, counting into `stats`.
fn app(
    guard: Guard,
    keys: &Keys,
    cache_capacity: usize,
    stats: &Arc<Stats>,
) -> Result<Router, LayerError> {
    let routes = Router::new().route(ROUTE, get(email));
    let guarded = match guard {
        Guard::Layer => routes.route_layer(WarrantLayer::new(
            keys.verifier(cache_capacity),
            map,
            "http://127.0.0.1",
        )?),
        Guard::Jwt | Guard::JwtCached => {
            let cache = (guard == Guard::JwtCached).then_some(cache_capacity);
            let jwt = JwtGuard::new(&keys.jwt.verifying_key(), cache, Arc::clone(stats));
            routes.route_layer(from_fn_with_state(Arc::new(jwt), jwt_guard))
        }
    };
    let stats_route = {
        let stats = Arc::clone(stats);
        move || async move {
            Json(serde_json::json!({
                "requests": stats.requests.load(Ordering::Relaxed),
                "non_200": stats.non_200.load(Ordering::Relaxed),
                "cache_misses": stats.cache_misses.load(Ordering::Relaxed),
            }))
        }
    };
    Ok(guarded
        .layer(from_fn_with_state(Arc::clone(stats), count))
        .route("/healthz", get(|| async { "ok" }))
        .route("/stats", get(stats_route)))
}

/// Mints `tokens` tokens of each kind on every core and writes them to `dir`.
fn mint_all(dir: &FsPath, tokens: usize, blocks: u8) -> Result<(), BoxError> {
    fs::create_dir_all(dir)?;
    let keys = Keys::create(dir)?;
    let now = Timestamp::from_system_time(SystemTime::now());
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = tokens.div_ceil(workers).max(1);
    let minted: Vec<(Vec<String>, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..tokens)
            .step_by(chunk)
            .map(|start| {
                let keys = &keys;
                s.spawn(move || -> Result<_, BoxError> {
                    let n = chunk.min(tokens - start);
                    let warrant = (0..n)
                        .map(|_| keys.warrant_token(blocks, now))
                        .collect::<Result<Vec<_>, _>>()?;
                    let jwts = (0..n)
                        .map(|_| keys.jwt(now))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((warrant, jwts))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| BoxError::from("a minting thread panicked"))?
            })
            .collect::<Result<_, BoxError>>()
    })?;
    let (warrant, jwts): (Vec<_>, Vec<_>) = minted.into_iter().unzip();
    let lines = |v: Vec<Vec<String>>| v.concat().join("\n") + "\n";
    let (warrant, jwts) = (lines(warrant), lines(jwts));
    let first_len = |text: &str| text.lines().next().map_or(0, str::len);
    println!(
        "minted {tokens} warrant tokens of {blocks} blocks ({} characters each) and {tokens} JWTs ({} characters) in {}",
        first_len(&warrant),
        first_len(&jwts),
        dir.display()
    );
    fs::write(dir.join("warrant.tokens"), warrant)?;
    fs::write(dir.join("jwt.tokens"), jwts)?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match Cli::parse().command {
        Command::Mint {
            dir,
            tokens,
            blocks,
        } => mint_all(&dir, tokens, blocks),
        Command::Serve {
            dir,
            guard,
            listen,
            cache_capacity,
        } => {
            let keys = Keys::load(&dir)?;
            let app = app(guard, &keys, cache_capacity, &Arc::new(Stats::default()))?;
            let listener = tokio::net::TcpListener::bind(listen).await?;
            println!("{guard:?} on http://{listen} (cache capacity {cache_capacity})");
            axum::serve(listener, app).await?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
