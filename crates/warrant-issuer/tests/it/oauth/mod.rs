//! The OAuth 2.1 authorization server: a standard client's authorization code flow with
//! PKCE, resource indicators and DPoP, the consent page decided with a passkey, refresh
//! rotation, remembered consents — and every error path of RFC 6749, 7636, 8707 and 9449:
//! each clear, nothing minted, audited.

use axum::body::Body;
use axum::http::{header, Request as HttpRequest, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value as J};
use sha2::{Digest, Sha256};
use warrant_core::keys::HolderSigner;
use warrant_test::new_key;
use warrant_verifier::{DenialKind, Request, Verifier};
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator as _};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::api::key_set;
use crate::env::{Db, Env, CONFIG};
use crate::pages::sign_in;
use crate::passkeys::{authenticator, enrol, ORIGIN};
use crate::requests::check;

/// The API the tokens are for.
pub(crate) const RESOURCE: &str = "https://mcp.example/mcp";
/// The registered client and where it listens.
pub(crate) const CLIENT: &str = "test-cli";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:7777/callback";
/// The client's other redirect URI, which identifies it (not a loopback one).
const HTTPS_REDIRECT: &str = "https://app.example/callback";
/// A PKCE verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What [`config`] starts with: the public URL and the tests' usual roles and humans.
pub(crate) fn config_head() -> String {
    format!("public_url = \"{ORIGIN}\"\n{CONFIG}\n")
}

/// An issuer with an OAuth client, scopes and a human (dana) whose role may grant them.
pub(crate) fn config(extra: &str) -> String {
    format!(
        r#"{head}[[roles]]
name = "tools"
max_ttl = "30m"
[roles.ceiling]
audience = ["{RESOURCE}"]
allow = [
  {{ resources = ["tickets/**"], actions = ["read"] }},
  {{ resources = ["orders/*"], actions = ["refund"], when = [ {{ attr = "amount", lt = 10000 }} ] }},
]

[[humans]]
id = "dana"
roles = ["tools"]

[oauth]
{extra}
[oauth.scopes]
"tickets:read" = {{ allow = [ {{ resources = ["tickets/**"], actions = ["read"] }} ] }}
"orders:refund" = {{ allow = [ {{ resources = ["orders/*"], actions = ["refund"], when = [ {{ attr = "amount", lt = 5000 }} ] }} ] }}
"cards:read" = {{ allow = [ {{ resources = ["customers/*/payment_card"], actions = ["read"] }} ] }}

[[oauth.clients]]
client_id = "{CLIENT}"
name = "Test CLI"
redirect_uris = ["{REDIRECT}", "{HTTPS_REDIRECT}"]
"#,
        head = config_head()
    )
}

pub(crate) async fn env(db: Db) -> Env {
    Env::with_config(db, &config(""), None).await.unwrap()
}

#[macro_export]
macro_rules! with_oauth {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                ($body)($crate::oauth::env($crate::env::Db::Sqlite).await).await;
            }

            #[tokio::test]
            #[cfg_attr(
                warrant_pg_tests_ignored,
                ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
            )]
            async fn postgres() {
                ($body)($crate::oauth::env($crate::env::Db::Postgres).await).await;
            }
        }
    };
}

/// The query of a standard authorization request, with `changes` (a `None` value removes
/// the parameter).
pub(crate) fn authorize_query(changes: &[(&str, Option<&str>)]) -> String {
    let c = challenge(VERIFIER);
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", REDIRECT),
        ("state", "xyz&1"),
        ("code_challenge", c.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", RESOURCE),
        ("scope", "tickets:read orders:refund"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in changes {
        params.retain(|(name, _)| name != k);
        if let Some(v) = v {
            params.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// `GET path` with an optional cookie: status, `Location`, body.
pub(crate) async fn get(
    env: &Env,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = HttpRequest::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let (status, headers, body) = env.send(req.body(Body::empty()).unwrap()).await;
    let location = headers
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, body)
}

/// The query parameters of a redirect.
pub(crate) fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// `/authorize` with `query`: the consent page's id.
pub(crate) async fn start(env: &Env, query: &str, cookie: Option<&str>) -> String {
    let (status, location, body) = get(env, &format!("/authorize?{query}"), cookie).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    location
        .strip_prefix("/consent/")
        .unwrap_or_else(|| panic!("not the consent page: {location}"))
        .to_owned()
}

/// `POST path` with a JSON body and a session cookie: status and JSON.
pub(crate) async fn post_json(env: &Env, path: &str, cookie: &str, body: &J) -> (StatusCode, J) {
    let req = HttpRequest::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, _, text) = env.send(req).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(J::String(text)),
    )
}

/// `human`, signed in with `cookie`, decides consent `id` with `auth`: status and answer.
pub(crate) async fn decide(
    env: &Env,
    auth: &mut SoftPasskey,
    cookie: &str,
    (human, id, verdict): (&str, &str, &str),
    grant: Option<&J>,
    remember: bool,
) -> (StatusCode, J) {
    let mut body = json!({ "human": human, "verdict": verdict, "remember": remember });
    if let Some(g) = grant {
        body["grant"] = g.clone();
    }
    let (status, c) = post_json(env, &format!("/oauth/consent/{id}/passkey"), cookie, &body).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let answer = auth
        .do_authentication(
            Url::parse(ORIGIN).unwrap(),
            serde_json::from_value(c["options"].clone()).unwrap(),
        )
        .unwrap();
    let mut body = json!({
        "human": human, "remember": remember,
        "verification": { "method": "passkey", "ceremony": c["ceremony"], "credential": answer },
    });
    if let Some(g) = grant {
        body["grant"] = g.clone();
    }
    post_json(
        env,
        &format!("/oauth/consent/{id}/{verdict}"),
        cookie,
        &body,
    )
    .await
}

/// A DPoP proof for the token endpoint as a standard client makes it: no `ath`.
pub(crate) fn token_proof(env: &Env, key: &(impl HolderSigner + ?Sized)) -> String {
    token_proof_at(key, &format!("{ORIGIN}/token"), env.at())
}

/// A DPoP proof by `key` for `POST url` at `now`, without `ath`.
pub(crate) fn token_proof_at(
    key: &(impl HolderSigner + ?Sized),
    url: &str,
    now: warrant_core::time::Timestamp,
) -> String {
    let public = key.holder_key();
    let header = json!({
        "typ": "dpop+jwt", "alg": public.algorithm().jws_alg(), "jwk": public.to_jwk(),
    });
    let claims = json!({
        "htm": "POST", "htu": url, "iat": now.unix(),
        "jti": warrant_test::new_key().public().to_string(),
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign_jws(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// `POST /token` with `form` and a proof by `key` (none without one): status and JSON.
pub(crate) async fn token(
    env: &Env,
    key: Option<&(impl HolderSigner + ?Sized)>,
    form: &[(&str, &str)],
) -> (StatusCode, J) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = HttpRequest::post("/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(k) = key {
        req = req.header("dpop", token_proof(env, k));
    }
    let (status, headers, text) = env.send(req.body(Body::from(body)).unwrap()).await;
    assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{text}");
    (status, serde_json::from_str(&text).unwrap())
}

/// A `/token` case: the form, whether a proof goes with it, the error, words of its
/// description.
type Case<'a> = (Vec<(&'a str, &'a str)>, bool, &'a str, &'a str);

/// The form that exchanges `code`, owned.
pub(crate) fn exchange_form(code: &str) -> Vec<(String, String)> {
    exchange(code)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The form that exchanges `code`.
fn exchange(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT),
        ("code_verifier", VERIFIER),
    ]
}

/// Dana enrolled and signed in: her authenticator and session cookie.
pub(crate) async fn dana(env: &Env) -> (SoftPasskey, String) {
    let mut auth = authenticator();
    enrol(env, &mut auth, "dana").await;
    let (cookie, _) = sign_in(env, &mut auth, "dana").await;
    (auth, cookie)
}

/// A code approved by dana (as asked): the code.
pub(crate) async fn approved_code(env: &Env, auth: &mut SoftPasskey, cookie: &str) -> String {
    let id = start(env, &authorize_query(&[]), Some(cookie)).await;
    let (status, d) = decide(env, auth, cookie, ("dana", &id, "approve"), None, false).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    query_of(d["redirect_to"].as_str().unwrap())["code"].clone()
}

/// Asserts that `/token` answered 400 with the OAuth error `code`.
pub(crate) fn refused(status: StatusCode, e: &J, code: &str) {
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some(code)),
        "{e}"
    );
}

/// The OAuth refusals in the audit log: (endpoint, error).
async fn refusals(env: &Env) -> Vec<(String, String)> {
    env.audit()
        .await
        .iter()
        .filter(|e| e.kind == "oauth_refused")
        .map(|e| {
            let d: J = serde_json::from_str(&e.detail).unwrap();
            (
                d["endpoint"].as_str().unwrap().to_owned(),
                d["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn minted(env: &Env) -> usize {
    env.audit()
        .await
        .iter()
        .filter(|e| e.kind == "mint")
        .count()
}

fn verifier_for(keys: warrant_core::keys::KeySet) -> Verifier {
    Verifier::builder(keys).audience(RESOURCE).build()
}

mod consent;
mod documents;
mod errors;
mod flow;
