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
use warrant_core::keys::SigningKey;
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
pub(crate) fn token_proof(env: &Env, key: &SigningKey) -> String {
    token_proof_at(key, &format!("{ORIGIN}/token"), env.at())
}

/// A DPoP proof by `key` for `POST url` at `now`, without `ath`.
pub(crate) fn token_proof_at(
    key: &SigningKey,
    url: &str,
    now: warrant_core::time::Timestamp,
) -> String {
    let header = json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": key.public().to_jwk() });
    let claims = json!({
        "htm": "POST", "htu": url, "iat": now.unix(),
        "jti": warrant_test::new_key().public().to_string(),
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// `POST /token` with `form` and a proof by `key` (none without one): status and JSON.
pub(crate) async fn token(
    env: &Env,
    key: Option<&SigningKey>,
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

with_oauth!(
    a_standard_client_gets_a_dpop_bound_token_for_its_resource_through_consent,
    |env: Env| async move {
        let (mut auth, cookie) = dana(&env).await;
        // Not signed in: the consent page asks who you are, naming the client.
        let id = start(&env, &authorize_query(&[]), None).await;
        let (status, _, page) = get(&env, &format!("/consent/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(r#"id="signin""#) && page.contains("Test CLI"),
            "{page}"
        );
        // Signed in: the client's name, where the code goes, the API, what it asks.
        let (status, _, page) = get(&env, &format!("/consent/{id}"), Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for shown in [
            "Test CLI",
            "127.0.0.1",
            RESOURCE,
            "name=\"remember\"",
            "data-base=\"/oauth/consent/",
        ] {
            assert!(page.contains(shown), "{shown}: {page}");
        }
        // Dana approves refunds under 20.00 only.
        let narrowed = json!({ "allow": [
            { "resources": ["tickets/**"], "actions": ["read"] },
            { "resources": ["orders/*"], "actions": ["refund"], "when": [ { "attr": "amount", "lt": 2000 } ] }
        ] });
        let (status, d) = decide(
            &env,
            &mut auth,
            &cookie,
            ("dana", &id, "approve"),
            Some(&narrowed),
            false,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{d}");
        let to = d["redirect_to"].as_str().unwrap();
        assert!(to.starts_with(REDIRECT), "{to}");
        let q = query_of(to);
        assert_eq!((q["state"].as_str(), q["iss"].as_str()), ("xyz&1", ORIGIN));
        let code = q["code"].clone();
        // The code for a DPoP-bound token.
        let agent = new_key();
        let (status, t) = token(&env, Some(&agent), &exchange(&code)).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        assert_eq!(t["token_type"], "DPoP");
        assert!(
            t.get("scope").is_none(),
            "narrowed: not the scopes asked: {t}"
        );
        let expires_in = t["expires_in"].as_u64().unwrap();
        assert!(
            (1..=300).contains(&expires_in),
            "short-lived by default: {expires_in}"
        );
        let access = t["access_token"].as_str().unwrap().to_owned();
        let v = verifier_for(key_set(&env).await);
        let refund =
            |amount: i64| Request::new("orders/7", "refund", env.at()).with_attr("amount", amount);
        let ok = check(&env, &v, &agent, &access, refund(1999));
        let claims = ok.claims().unwrap_or_else(|| panic!("{ok:?}"));
        assert_eq!(claims.human.as_deref(), Some("dana"));
        assert_eq!(claims.verification_method.as_deref(), Some("passkey"));
        assert!(check(
            &env,
            &v,
            &agent,
            &access,
            Request::new("tickets/9/status", "read", env.at())
        )
        .is_allowed());
        // Narrowed stays narrowed; the card was never asked; the key is needed; the
        // audience is the resource.
        assert!(!check(&env, &v, &agent, &access, refund(2000)).is_allowed());
        assert!(!check(
            &env,
            &v,
            &agent,
            &access,
            Request::new("customers/1/payment_card", "read", env.at())
        )
        .is_allowed());
        let thief = new_key();
        assert_eq!(
            check(&env, &v, &thief, &access, refund(1))
                .denial()
                .unwrap()
                .kind,
            DenialKind::InvalidProof
        );
        let elsewhere = Verifier::builder(key_set(&env).await)
            .audience("support-api")
            .build();
        assert!(!check(&env, &elsewhere, &agent, &access, refund(1)).is_allowed());
        // Refresh: a new access token and a new refresh token, with the same key.
        let refresh = t["refresh_token"].as_str().unwrap().to_owned();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", CLIENT),
        ];
        let (status, t2) = token(&env, Some(&agent), &form).await;
        assert_eq!(status, StatusCode::OK, "{t2}");
        assert_ne!(t2["refresh_token"], refresh.as_str());
        let access2 = t2["access_token"].as_str().unwrap().to_owned();
        let ok2 = check(&env, &v, &agent, &access2, refund(1999));
        let ids = [
            claims.token_id.clone().unwrap(),
            ok2.claims().unwrap().token_id.clone().unwrap(),
        ];
        // Another key cannot refresh.
        let (status, e) = token(
            &env,
            Some(&thief),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t2["refresh_token"].as_str().unwrap()),
                ("client_id", CLIENT),
            ],
        )
        .await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")),
            "{e}"
        );
        // A spent refresh token with another key: refused, and it revokes nothing.
        let (status, e) = token(&env, Some(&thief), &form).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{e}"
        );
        let revoked_families = |audit: Vec<warrant_issuer::audit::AuditRow>| {
            audit
                .iter()
                .filter(|e| e.kind == "oauth_family_revoked")
                .count()
        };
        assert_eq!(revoked_families(env.audit().await), 0);
        // The first refresh token again, by its key: a replay. The family is revoked, with
        // its tokens.
        let (status, e) = token(&env, Some(&agent), &form).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{e}"
        );
        assert!(
            e["error_description"].as_str().unwrap().contains("revoked"),
            "{e}"
        );
        let live = [
            ("grant_type", "refresh_token"),
            ("refresh_token", t2["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT),
        ];
        let (status, e) = token(&env, Some(&agent), &live).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{e}"
        );
        let (status, feed) = env.call("GET", "/v1/revocations?since=0", None, None).await;
        assert_eq!(status, StatusCode::OK, "{feed}");
        let revoked = feed.to_string();
        for id in &ids {
            assert!(revoked.contains(id.as_str()), "{id} not revoked: {revoked}");
        }
        // The audit trail: approved with a passkey, minted twice, the family revoked.
        let kinds: Vec<String> = env.audit().await.iter().map(|e| e.kind.clone()).collect();
        for k in ["oauth_approved", "oauth_family_revoked"] {
            assert!(kinds.iter().any(|x| x == k), "{k}: {kinds:?}");
        }
        assert_eq!(minted(&env).await, 2);
    }
);

with_oauth!(
    every_token_error_is_clear_mints_nothing_and_is_audited,
    |env: Env| async move {
        let (mut auth, cookie) = dana(&env).await;
        let agent = new_key();
        let code = approved_code(&env, &mut auth, &cookie).await;
        let wrong_verifier = "x".repeat(43);
        let cases: Vec<Case<'_>> = vec![
            // (form, with a proof, error, words in the description)
            (
                exchange(&code),
                false,
                "invalid_dpop_proof",
                "DPoP proof is required",
            ),
            (
                exchange(&code)
                    .into_iter()
                    .filter(|(k, _)| *k != "code_verifier")
                    .collect(),
                true,
                "invalid_request",
                "PKCE",
            ),
            (
                exchange(&code)
                    .into_iter()
                    .map(|(k, v)| {
                        if k == "code_verifier" {
                            (k, wrong_verifier.as_str())
                        } else {
                            (k, v)
                        }
                    })
                    .collect(),
                true,
                "invalid_grant",
                "code_challenge",
            ),
            (
                exchange(&code)
                    .into_iter()
                    .map(|(k, v)| {
                        if k == "client_id" {
                            (k, "other-client")
                        } else {
                            (k, v)
                        }
                    })
                    .collect(),
                true,
                "invalid_grant",
                "another client",
            ),
            (
                exchange(&code)
                    .into_iter()
                    .map(|(k, v)| {
                        if k == "redirect_uri" {
                            (k, "http://127.0.0.1:7777/other")
                        } else {
                            (k, v)
                        }
                    })
                    .collect(),
                true,
                "invalid_grant",
                "redirect_uri",
            ),
            (
                [
                    exchange(&code),
                    vec![("resource", "https://other.example/api")],
                ]
                .concat(),
                true,
                "invalid_target",
                "other.example",
            ),
            (exchange("0123"), true, "invalid_grant", "unknown code"),
            (
                vec![("grant_type", "password"), ("client_id", CLIENT)],
                true,
                "unsupported_grant_type",
                "password",
            ),
            (
                vec![("grant_type", "authorization_code"), ("code", &code)],
                true,
                "invalid_request",
                "client_id",
            ),
            (
                vec![
                    ("grant_type", "refresh_token"),
                    ("client_id", CLIENT),
                    ("refresh_token", "nope"),
                ],
                true,
                "invalid_grant",
                "unknown refresh token",
            ),
            (
                [exchange(&code), vec![("code", "dup")]].concat(),
                true,
                "invalid_request",
                "more than once",
            ),
        ];
        for (i, (form, proof, error, says)) in cases.iter().enumerate() {
            let (status, e) = token(&env, proof.then_some(&agent), form).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "case {i}: {e}");
            assert_eq!(e["error"], *error, "case {i}: {e}");
            let d = e["error_description"].as_str().unwrap();
            assert!(d.contains(says), "case {i}: {d}");
        }
        // A proof is good once: the same proof again is refused, even for a good request.
        let fresh = approved_code(&env, &mut auth, &cookie).await;
        let proof = token_proof(&env, &agent);
        for expected in [StatusCode::OK, StatusCode::BAD_REQUEST] {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(exchange(&fresh))
                .finish();
            let req = HttpRequest::post("/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("dpop", &proof)
                .body(Body::from(body))
                .unwrap();
            let (status, _, text) = env.send(req).await;
            assert_eq!(status, expected, "{text}");
            if status == StatusCode::BAD_REQUEST {
                assert!(
                    text.contains("invalid_dpop_proof") && text.contains("used before"),
                    "{text}"
                );
            }
        }
        assert_eq!(minted(&env).await, 1, "only the first");
        let audited = refusals(&env).await;
        assert_eq!(audited.len(), cases.len() + 1, "{audited:?}");
        assert!(audited.iter().all(|(endpoint, _)| endpoint == "token"));
        // A proof that is not one, and a body that is not a form.
        let req = HttpRequest::post("/token")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let (status, _, text) = env.send(req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("x-www-form-urlencoded"), "{text}");
        // The code still works once, then never again; its reuse revokes what it gave.
        let (status, t) = token(&env, Some(&agent), &exchange(&code)).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        assert_eq!(
            t["scope"], "tickets:read orders:refund",
            "approved as asked"
        );
        let (status, e) = token(&env, Some(&agent), &exchange(&code)).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{e}"
        );
        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT),
        ];
        let (status, e) = token(&env, Some(&agent), &refresh).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "the family is revoked: {e}"
        );
        // A code lives a minute.
        let late = approved_code(&env, &mut auth, &cookie).await;
        env.advance(61);
        let (status, e) = token(&env, Some(&agent), &exchange(&late)).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{e}"
        );
        assert!(
            e["error_description"].as_str().unwrap().contains("expired"),
            "{e}"
        );
    }
);

with_oauth!(
    authorize_errors_go_back_only_to_a_redirect_uri_the_client_lists,
    |env: Env| async move {
        // On a page: no client, an unknown one, a redirect URI it does not list, a repeat.
        for (query, says) in [
            (
                authorize_query(&[("client_id", None)]),
                "`client_id` is missing",
            ),
            (
                authorize_query(&[("client_id", Some("stranger"))]),
                "unknown client",
            ),
            (
                authorize_query(&[("redirect_uri", Some("http://127.0.0.1:7777/elsewhere"))]),
                "compared exactly",
            ),
            (
                format!("{}&state=again", authorize_query(&[])),
                "more than once",
            ),
            (
                authorize_query(&[("client_id", Some("https://127.0.0.1/client.json"))]),
                "non-public address",
            ),
        ] {
            let (status, location, body) = get(&env, &format!("/authorize?{query}"), None).await;
            assert_eq!(
                (status, location.as_str()),
                (StatusCode::BAD_REQUEST, ""),
                "{query}: {body}"
            );
            assert!(body.contains(says), "{says}: {body}");
        }
        // Back to the client: state and iss echoed, the error named.
        let details = r#"[{"type":"warrant_grant","grant":{"allow":[{"resources":"tickets/1","actions":"read"}]}}]"#;
        for (changes, error) in [
            (
                vec![("response_type", Some("token"))],
                "unsupported_response_type",
            ),
            (vec![("code_challenge_method", None)], "invalid_request"),
            (
                vec![("code_challenge_method", Some("plain"))],
                "invalid_request",
            ),
            (vec![("code_challenge", Some("short"))], "invalid_request"),
            (vec![("resource", None)], "invalid_target"),
            (
                vec![("resource", Some("https://mcp.example/mcp#frag"))],
                "invalid_target",
            ),
            (vec![("scope", Some("tickets:read admin"))], "invalid_scope"),
            (vec![("scope", None)], "invalid_scope"),
            (
                vec![("authorization_details", Some(details))],
                "invalid_request",
            ),
            (
                vec![
                    ("scope", None),
                    ("authorization_details", Some(r#"[{"type":"payment"}]"#)),
                ],
                "invalid_authorization_details",
            ),
        ] {
            let query = authorize_query(&changes);
            let (status, location, body) = get(&env, &format!("/authorize?{query}"), None).await;
            assert_eq!(status, StatusCode::SEE_OTHER, "{query}: {body}");
            assert!(location.starts_with(REDIRECT), "{location}");
            let q = query_of(&location);
            assert_eq!(q["error"], error, "{query}: {location}");
            assert_eq!((q["state"].as_str(), q["iss"].as_str()), ("xyz&1", ORIGIN));
            assert!(!q["error_description"].is_empty());
        }
        let audited = refusals(&env).await;
        assert_eq!(audited.len(), 14, "{audited:?}");
        assert_eq!(minted(&env).await, 0);
        // RAR: a warrant grant asked in full, its audience the resource.
        let query = authorize_query(&[("scope", None), ("authorization_details", Some(details))]);
        let id = start(&env, &query, None).await;
        let row = env.state.store.authorization(&id).await.unwrap().unwrap();
        let g = warrant_core::grant::Grant::from_json_str(&row.grant_json).unwrap();
        assert_eq!(
            g.audience
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [RESOURCE]
        );
        assert_eq!(row.resource, RESOURCE);
    }
);

with_oauth!(
    consent_is_the_signed_in_human_s_within_their_ceiling_and_remembered_only_when_asked,
    |env: Env| async move {
        let (mut auth, cookie) = dana(&env).await;
        // Alice's role cannot grant for this resource: she may only deny.
        let mut alices = authenticator();
        enrol(&env, &mut alices, "alice").await;
        let (alice_cookie, _) = sign_in(&env, &mut alices, "alice").await;
        let id = start(&env, &authorize_query(&[]), Some(&alice_cookie)).await;
        let (_, _, page) = get(&env, &format!("/consent/{id}"), Some(&alice_cookie)).await;
        assert!(page.contains("You cannot approve this"), "{page}");
        let (status, e) = decide(
            &env,
            &mut alices,
            &alice_cookie,
            ("alice", &id, "approve"),
            None,
            false,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
        // Denied: the client hears `access_denied`, and the decision stands.
        let (status, d) = decide(
            &env,
            &mut alices,
            &alice_cookie,
            ("alice", &id, "deny"),
            None,
            false,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{d}");
        assert_eq!(
            query_of(d["redirect_to"].as_str().unwrap())["error"],
            "access_denied"
        );
        let ask = json!({ "human": "dana", "verdict": "approve" });
        let path = format!("/oauth/consent/{id}/passkey");
        let (status, e) = post_json(&env, &path, &cookie, &ask).await;
        assert_eq!(status, StatusCode::CONFLICT, "{e}");
        // Only the human signed in on this browser decides: not from elsewhere, not for
        // someone else.
        let (status, e) = env.call("POST", &path, None, Some(ask.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
        let (status, e) = post_json(&env, &path, &alice_cookie, &ask).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
        // A widened grant is refused once the passkey holds.
        let id = start(&env, &authorize_query(&[]), Some(&cookie)).await;
        let wider = json!({ "allow": [ { "resources": ["**"], "actions": ["*"] } ] });
        let (status, e) = decide(
            &env,
            &mut auth,
            &cookie,
            ("dana", &id, "approve"),
            Some(&wider),
            false,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        // Not remembered: asked again.
        let (status, _) = decide(
            &env,
            &mut auth,
            &cookie,
            ("dana", &id, "approve"),
            None,
            false,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        start(&env, &authorize_query(&[]), Some(&cookie)).await;
        // Remembered: the same client, resource and request get a code at once while she
        // is signed in, sent to a redirect URI that identifies the client; a loopback one
        // (any local program), another request, or nobody signed in sees the page.
        let https = [("redirect_uri", Some(HTTPS_REDIRECT))];
        let id = start(&env, &authorize_query(&https), Some(&cookie)).await;
        let (status, _) = decide(
            &env,
            &mut auth,
            &cookie,
            ("dana", &id, "approve"),
            None,
            true,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let again = format!("/authorize?{}", authorize_query(&https));
        let (status, location, _) = get(&env, &again, Some(&cookie)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let q = query_of(&location);
        assert!(
            location.starts_with(HTTPS_REDIRECT) && q.contains_key("code"),
            "{location}"
        );
        let form: Vec<(&str, &str)> = exchange(&q["code"])
            .into_iter()
            .map(|(k, v)| {
                if k == "redirect_uri" {
                    (k, HTTPS_REDIRECT)
                } else {
                    (k, v)
                }
            })
            .collect();
        let (status, t) = token(&env, Some(&new_key()), &form).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        start(&env, &authorize_query(&[]), Some(&cookie)).await;
        start(
            &env,
            &authorize_query(&[
                ("redirect_uri", Some(HTTPS_REDIRECT)),
                ("scope", Some("tickets:read")),
            ]),
            Some(&cookie),
        )
        .await;
        start(&env, &authorize_query(&https), None).await;
        // The console lists it; forgetting it (with the form's CSRF token) asks again.
        let (status, _, console) = get(&env, "/console", Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            console.contains("Test CLI") && console.contains(RESOURCE),
            "{console}"
        );
        let marker = r#"name="consent" value=""#;
        let key_at = console.find(marker).unwrap() + marker.len();
        let key = console[key_at..].split('"').next().unwrap().to_owned();
        let token = crate::pages::csrf(&console);
        let forget = "/console/consents/forget";
        let (status, _, text) =
            crate::pages::form(&env, forget, &cookie, &[("csrf", "0"), ("consent", &key)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        let (status, _, text) = crate::pages::form(
            &env,
            forget,
            &cookie,
            &[("csrf", &token), ("consent", &key)],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
        start(&env, &authorize_query(&https), Some(&cookie)).await;
        let audit = env.audit().await;
        assert!(audit.iter().any(|e| e.kind == "oauth_consent_forgotten"));
    }
);

with_oauth!(
    the_metadata_names_what_a_standard_client_needs,
    |env: Env| async move {
        let (status, m) = env
            .call("GET", "/.well-known/oauth-authorization-server", None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{m}");
        assert_eq!(m["issuer"], ORIGIN);
        assert_eq!(m["authorization_endpoint"], format!("{ORIGIN}/authorize"));
        assert_eq!(m["token_endpoint"], format!("{ORIGIN}/token"));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            m["dpop_signing_alg_values_supported"],
            json!(["EdDSA", "ES256"])
        );
        assert_eq!(m["client_id_metadata_document_supported"], true);
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            m["authorization_details_types_supported"],
            json!(["warrant_grant"])
        );
        assert_eq!(
            m["scopes_supported"],
            json!(["cards:read", "orders:refund", "tickets:read"])
        );
        assert!(m["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("refresh_token")));
    }
);

/// A loopback server of client metadata documents: `/good.json`, `/wrong-id.json`,
/// `/huge.json`, `/slow.json` (answers after the fetch's time limit), `/redirect.json`.
async fn metadata_server() -> String {
    use axum::routing::get as route;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = |id: String| json!({ "client_id": id, "client_name": "Loopback Agent", "redirect_uris": [REDIRECT] });
    let (good, wrong) = (
        doc(format!("{base}/good.json")),
        doc(format!("{base}/other.json")),
    );
    let huge = json!({ "client_id": format!("{base}/huge.json"), "redirect_uris": [REDIRECT], "pad": "x".repeat(6000) });
    let slow = doc(format!("{base}/slow.json"));
    let app = axum::Router::new()
        .route("/good.json", route(move || async move { axum::Json(good) }))
        .route(
            "/wrong-id.json",
            route(move || async move { axum::Json(wrong) }),
        )
        .route("/huge.json", route(move || async move { axum::Json(huge) }))
        .route(
            "/slow.json",
            route(move || async move {
                tokio::time::sleep(std::time::Duration::from_secs(7)).await;
                axum::Json(slow)
            }),
        )
        .route(
            "/redirect.json",
            route(|| async { axum::response::Redirect::to("/good.json") }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn client_metadata_documents_are_fetched_with_care() {
    let base = metadata_server().await;
    let env = Env::with_config(
        Db::Sqlite,
        &config("dangerous_allow_private_client_metadata = true"),
        None,
    )
    .await
    .unwrap();
    // A good document: its name on the consent page.
    let good = format!("{base}/good.json");
    let id = start(&env, &authorize_query(&[("client_id", Some(&good))]), None).await;
    let (_, _, page) = get(&env, &format!("/consent/{id}"), None).await;
    assert!(page.contains("Loopback Agent"), "{page}");
    // Bad ones: each a clear error on a page (no redirect URI can be trusted), audited.
    for (path, says) in [
        ("wrong-id.json", "not the URL it was fetched from"),
        ("huge.json", "larger than 5120 bytes"),
        ("slow.json", "no answer within 5s"),
        ("redirect.json", "answered 303"),
        ("missing.json", "answered 404"),
    ] {
        let q = authorize_query(&[("client_id", Some(&format!("{base}/{path}")))]);
        let (status, location, body) = get(&env, &format!("/authorize?{q}"), None).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::BAD_REQUEST, ""),
            "{path}: {body}"
        );
        assert!(body.contains(says), "{path}: {says}: {body}");
    }
    // A client that is only a metadata document does not get errors redirected before the
    // human has seen the consent page: anyone can publish one listing any URI.
    let q = authorize_query(&[("client_id", Some(&good)), ("response_type", Some("token"))]);
    let (status, location, body) = get(&env, &format!("/authorize?{q}"), None).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::BAD_REQUEST, ""),
        "{body}"
    );
    assert!(body.contains("unsupported_response_type"), "{body}");
    assert_eq!(refusals(&env).await.len(), 6);
    // Without the dangerous setting, loopback documents are not fetched at all.
    let strict = Env::with_config(Db::Sqlite, &config(""), None)
        .await
        .unwrap();
    // (Here the scheme is refused first; an https URL of a loopback address is refused
    // for its address: unit tests.)
    let q = authorize_query(&[("client_id", Some(&good))]);
    let (status, _, body) = get(&strict, &format!("/authorize?{q}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("must be an https URL"), "{body}");
}

with_oauth!(
    revoking_a_client_s_token_ends_its_refreshes_too,
    |env: Env| async move {
        let (mut auth, cookie) = dana(&env).await;
        let agent = new_key();
        let code = approved_code(&env, &mut auth, &cookie).await;
        let (status, t) = token(&env, Some(&agent), &exchange(&code)).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        let mint = env
            .audit()
            .await
            .into_iter()
            .rev()
            .find(|e| e.kind == "mint")
            .unwrap();
        let detail: J = serde_json::from_str(&mint.detail).unwrap();
        let token_id = detail["token_id"].as_str().unwrap();
        let admin = env.admin_token().await;
        let (status, r) = env
            .call(
                "POST",
                "/v1/revocations",
                Some(&admin),
                Some(json!({ "kind": "token_id", "value": token_id })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT),
        ];
        let (status, e) = token(&env, Some(&agent), &refresh).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{e}"
        );
        assert!(
            e["error_description"].as_str().unwrap().contains("revoked"),
            "{e}"
        );
    }
);
