use super::jwks::parse_jwks;
use super::*;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "warrant-issuer";
const NOW: u64 = 1_800_000_000;
const MAX_AGE: Span = Span::from_seconds(300);

/// Test-only P-256 key (PKCS#8 DER).
const EC_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRFUIz6RmU53IZ3b84w6QNdhdxs8zsO4D2OIa6o35uYahRANCAAQ4Z2e9lbJ9vy43lVvFtwBzM+EjHhDUQIH47Fx7W/1DhtH7OYGOAErA1y5Mwy4DLppTC2m/fL1vqZq6JdmlwM1g";
/// Test-only RSA-2048 key (PKCS#1 DER).
const RSA_KEY: &str = "
MIIEowIBAAKCAQEA3HpV/3UKCPf/Q6J7NTHGYOwPoD905eQIhhh3LRCYTFcw6/Fftk2Yezvl4T5dagRy74Jzc4dTnpN1Xxci
niNKJt/unfpWTBVvTjrzq0gXgTeajWqHImT2EpSuPhsh7LCap6EzK6eMvc4xljlllC5fTxgGAT+qHqWGjMfY/z+m7NCYkOFi
pbw6mF8R1PlLmoH7PBRggMlDP5O23TQZLHTTiHsbqV1NdYxwjUxxiitKX96dGWe6W18cCROjdrJuyZXVWf3yPt0FFzQun5MY
K6lj8vfJKX5tYtZP2wZiUXz/Ae+rf/CPySe9uJLmJJB3gBxEmQmm3tyIB1C6SeEl4Kp7iQIDAQABAoIBAFzc7CbmUX04k1wV
7iYYGnHNS8GXqLGBi/OLD3s8L6GL4e+m4UTkRvK05lyqS2cxi4WE4QLKf3ZdroSINoz72SopjJQekkWGi7ScEPDWMww6cs7Y
jSV398sYs5E2FWJfeixbsbVT42w4klsvPrEcnQkv2auh+JHi7xqRvDy6PyEj7Fjq8jPJdqXMLOrMC+OU1nLDimgpyWw9zf9f
ab6ckcCwbJHl3PpoB/vLqOVMc4+5nyfF3DYDqI1KvAgPptKaaGA1TGF6IQOdJZM9bbhS3CV/wx1a46+Fp+bipEby2JIJuDrc
hexolFeyAFWdS9z/T13s8yJJh/v8gYsVGRiXwC8CgYEA/q+198J4FViWWLYoD8E80U0ykhzpkIPdObK3r59ZFPEgiqJtnFQE
OnDej1M9MyIETgzXinG5upuJyl2AK0dREJHnuCdzho7LTuoFPAMcww+Av6YSNziAMjrkFnlXuwEsGca5nv2xBZSgEXvPQu6X
iH3anIMQyIoSL/fSfUK3gYsCgYEA3Z10v1YaLi/il2sR7JTAGPXeyS933kQZ/6zgkor6H0gP/rlMThp13jigRe5Wd+oB/n/F
i9zeDfS+gi2R7ZJnULIN68qlGXvT5p6YiiKZZQjEQMNkMGScubbehg2LkaqFRaRXOK38WBXK/29wY+pBxsPB+Ik5VXsBMijH
+6ph8bsCgYACw1c/C94PpTlkVv2SRi9pueOtkCC8j6GryZOSlTD7OC55Mo/r3UF6fNT9SxLj5h+T1THVb6xrKNrS1jbYwVpQ
yrRv3AW11QDBp2pNH1+FgjqMWbni3XsOkHL/B2v7PGUFFpHW9ruf6t/dsLEr8bi1I2BmyEk7U7wkxxSChWHGRwKBgA29OEKw
dNkOMO8QPUE8i5hAjfpNDhJiiHYYYqfTI+SSlCNHm5pv+4S2YAFV4Fh40nzTsQyVudKFrNXnO1fOLseK8l/+5TNqQN3YUT6n
HHluDLSzKF/zrN+6nZsT9eYm+zIxGRMzfiR73WTupLodCMzoz/q3jy1kfdN9QcCxdHcHAoGBAOq25xZ0dfG2HRkrtguTu87+
OoRXL71WFGfjC1UV2m8RO+KjQdi9ihwtXbYBn4Fv8cHq0wGEh9FkTbPa+NSmmgMW1P5mu21Mh5cEhlYmwSthwRgmsOotWmEb
2f7lt2CogmHAajmDNNBZ2AKULCyUqpeDJu4TUvtDmXhuz09UnZcP";

fn der(b64: &str) -> Vec<u8> {
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .unwrap()
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key and its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

fn ed_key(kid: &str) -> TestKey {
    let signing = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let pkcs8 = signing.to_pkcs8_der().unwrap();
    TestKey {
        kid: kid.into(),
        alg: Algorithm::EdDSA,
        encoding: EncodingKey::from_ed_der(pkcs8.as_bytes()),
        jwk: json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
            "x": b64url(signing.verifying_key().as_bytes()),
        }),
    }
}

fn fixed_key(kid: &str, alg: Algorithm) -> TestKey {
    let encoding = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_der(&der(EC_KEY)),
        _ => EncodingKey::from_rsa_der(&der(RSA_KEY)),
    };
    let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&encoding, alg).unwrap()).unwrap();
    jwk["kid"] = json!(kid);
    TestKey {
        kid: kid.into(),
        alg,
        encoding,
        jwk,
    }
}

impl TestKey {
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// A JWKS server on loopback that counts its fetches.
struct Idp {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Idp {
    async fn start(keys: Vec<Value>) -> Self {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (k, f) = (Arc::clone(&keys), Arc::clone(&fetches));
        let app = axum::Router::new()
            .route(
                "/jwks",
                axum::routing::get(move || {
                    let (k, f) = (Arc::clone(&k), Arc::clone(&f));
                    async move {
                        f.fetch_add(1, Ordering::SeqCst);
                        let keys = k.lock().unwrap().clone();
                        axum::Json(json!({ "keys": keys }))
                    }
                }),
            )
            .route(
                "/big",
                axum::routing::get(|| async { "x".repeat(MAX_JWKS_BYTES + 1) }),
            )
            .route(
                "/broken",
                axum::routing::get(|| async {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down")
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}"),
            keys,
            fetches,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn add(&self, key: &TestKey) {
        self.keys.lock().unwrap().push(key.jwk.clone());
    }
}

/// A monotonic clock the test moves.
#[derive(Clone)]
struct TestClock {
    base: Instant,
    offset: Arc<AtomicU64>,
}

impl TestClock {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            offset: Arc::new(AtomicU64::new(0)),
        }
    }

    fn advance(&self, d: Duration) {
        self.offset.fetch_add(d.as_secs(), Ordering::SeqCst);
    }

    fn monotonic(&self) -> Monotonic {
        let c = self.clone();
        Arc::new(move || c.base + Duration::from_secs(c.offset.load(Ordering::SeqCst)))
    }
}

fn provider(name: &str, jwks_url: String) -> OidcProviderConfig {
    OidcProviderConfig {
        name: name.into(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        jwks_url,
        human_claim: "email".into(),
    }
}

fn verifier(providers: Vec<OidcProviderConfig>, clock: &TestClock) -> OidcVerifier {
    let client = client_builder().no_proxy().build().unwrap();
    OidcVerifier::with_parts(providers, client, clock.monotonic(), MAX_AGE).unwrap()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "00u1",
        "email": "alice@example.com",
        "iat": NOW - 10,
        "exp": NOW + 300,
        "nonce": "n-0S6",
        "amr": ["pwd", "hwk"],
        "acr": "urn:example:loa:2",
    })
}

fn with(mut c: Value, k: &str, v: Value) -> Value {
    if v.is_null() {
        c.as_object_mut().unwrap().remove(k);
    } else {
        c[k] = v;
    }
    c
}

async fn setup() -> (Idp, TestKey, OidcVerifier, TestClock) {
    let key = ed_key("k1");
    let idp = Idp::start(vec![key.jwk.clone()]).await;
    let clock = TestClock::new();
    let v = verifier(vec![provider("corp", format!("{}/jwks", idp.url))], &clock);
    (idp, key, v, clock)
}

fn at(t: u64) -> Timestamp {
    Timestamp::from_unix(t)
}

#[tokio::test]
async fn a_valid_token_names_the_human() {
    let (idp, key, v, _) = setup().await;
    assert_eq!(idp.fetches(), 0, "keys are fetched lazily");
    let id = v
        .verify("corp", &key.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert_eq!(
        id,
        OidcIdentity {
            human: "alice@example.com".into(),
            amr: vec!["pwd".into(), "hwk".into()],
            acr: Some("urn:example:loa:2".into()),
            provider: "corp".into(),
            authenticated_at: at(NOW - 10),
            expires_at: at(NOW + 300),
        }
    );
    // An array audience works.
    let c = with(claims(), "aud", json!(["other", AUDIENCE]));
    let c = with(c, "amr", Value::Null);
    let c = with(c, "acr", Value::Null);
    let id = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert!(id.amr.is_empty());
    assert_eq!(id.acr, None);
    assert_eq!(idp.fetches(), 1, "keys are cached");
    // Clones share the cache.
    v.clone()
        .verify("corp", &key.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert_eq!(idp.fetches(), 1);
}

#[tokio::test]
async fn rs256_and_es256_are_accepted() {
    let rsa = fixed_key("rsa", Algorithm::RS256);
    let ec = fixed_key("ec", Algorithm::ES256);
    let idp = Idp::start(vec![rsa.jwk.clone(), ec.jwk.clone()]).await;
    let clock = TestClock::new();
    let v = verifier(vec![provider("corp", format!("{}/jwks", idp.url))], &clock);
    for key in [&rsa, &ec] {
        let id = v
            .verify("corp", &key.sign(&claims()), "n-0S6", at(NOW))
            .await
            .unwrap();
        assert_eq!(id.human, "alice@example.com");
    }
}

#[tokio::test]
async fn the_default_human_claim_is_sub() {
    let key = ed_key("k1");
    let idp = Idp::start(vec![key.jwk.clone()]).await;
    let text = format!(
        "name = \"corp\"\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_url = \"{}/jwks\"\n",
        idp.url
    );
    let config: OidcProviderConfig = toml::from_str(&text).unwrap();
    assert_eq!(config.human_claim, "sub");
    let e =
        toml::from_str::<OidcProviderConfig>(&format!("{text}colour = \"blue\"\n")).unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
    let v = verifier(vec![config], &TestClock::new());
    let id = v
        .verify("corp", &key.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert_eq!(id.human, "00u1");
}

#[tokio::test]
async fn wrong_issuer_and_audience_are_refused() {
    let (_idp, key, v, _) = setup().await;
    let c = with(claims(), "iss", json!("https://evil.example"));
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::WrongIssuer { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "the id token was issued by `https://evil.example`, not by `https://idp.example` (oidc provider `corp`)"
    );
    let c = with(claims(), "iss", Value::Null);
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(
        matches!(e, OidcError::MissingClaim { ref claim, .. } if claim == "iss"),
        "{e}"
    );

    for aud in [json!("someone-else"), json!(["a", "b"]), json!([])] {
        let c = with(claims(), "aud", aud);
        let e = v
            .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
            .await
            .unwrap_err();
        assert!(matches!(e, OidcError::WrongAudience { .. }), "{e}");
        assert!(e.to_string().contains("`warrant-issuer`"), "{e}");
        assert!(e.to_string().contains("`corp`"), "{e}");
    }
    let c = with(claims(), "aud", Value::Null);
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(
        matches!(e, OidcError::MissingClaim { ref claim, .. } if claim == "aud"),
        "{e}"
    );
}

#[tokio::test]
async fn time_is_checked_against_now_with_leeway() {
    let (_idp, key, v, _) = setup().await;
    // exp = NOW + 300; issued late enough to be fresh until then.
    let token = key.sign(&with(claims(), "iat", json!(NOW + 200)));
    let exp = NOW + 300;
    v.verify("corp", &token, "n-0S6", at(exp + LEEWAY_SECONDS - 1))
        .await
        .unwrap();
    let e = v
        .verify("corp", &token, "n-0S6", at(exp + LEEWAY_SECONDS))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::Expired { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("`corp` expired at 2027-01-15T08:05:00Z"),
        "{e}"
    );

    let c = with(claims(), "nbf", json!(NOW + 120));
    let token = key.sign(&c);
    let e = v
        .verify("corp", &token, "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::NotYetValid { .. }), "{e}");
    assert!(e.to_string().contains("`corp`"), "{e}");
    v.verify("corp", &token, "n-0S6", at(NOW + 120 - LEEWAY_SECONDS))
        .await
        .unwrap();

    let c = with(claims(), "exp", Value::Null);
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(
        matches!(e, OidcError::MissingClaim { ref claim, .. } if claim == "exp"),
        "{e}"
    );
    let c = with(claims(), "exp", json!("tomorrow"));
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::Malformed { .. }), "{e}");
}

#[tokio::test]
async fn old_id_tokens_are_refused_and_auth_time_is_the_verification_time() {
    let (_idp, key, v, _) = setup().await;
    // Issued 50 minutes ago, still unexpired: no proof of a human present now.
    let c = with(claims(), "iat", json!(NOW - 3000));
    let c = with(c, "exp", json!(NOW + 600));
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::TooOld { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "the id token from oidc provider `corp` was issued at 2027-01-15T07:10:00Z, more than 5m ago: sign in again for a fresh one"
    );
    // At the edge: max_age plus the leeway.
    let c = with(claims(), "iat", json!(NOW - 300 - LEEWAY_SECONDS));
    v.verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap();
    let c = with(claims(), "iat", json!(NOW - 300 - LEEWAY_SECONDS - 1));
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::TooOld { .. }), "{e}");
    // `iat` is required, and not from the future.
    let e = v
        .verify(
            "corp",
            &key.sign(&with(claims(), "iat", Value::Null)),
            "n-0S6",
            at(NOW),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, OidcError::MissingClaim { ref claim, .. } if claim == "iat"),
        "{e}"
    );
    let c = with(claims(), "iat", json!(NOW + LEEWAY_SECONDS + 1));
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::NotYetValid { .. }), "{e}");

    // The verification time is `auth_time` (a sign-in two minutes before the token)…
    let c = with(claims(), "auth_time", json!(NOW - 130));
    let id = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert_eq!(id.authenticated_at, at(NOW - 130));
    // …else `iat`; never later than now.
    let id = v
        .verify("corp", &key.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert_eq!(id.authenticated_at, at(NOW - 10));
    let c = with(claims(), "auth_time", json!(NOW + 50));
    let id = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert_eq!(id.authenticated_at, at(NOW));
}

#[tokio::test]
async fn the_nonce_is_required_and_must_match() {
    let (_idp, key, v, _) = setup().await;
    let e = v
        .verify("corp", &key.sign(&claims()), "other", at(NOW))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the id token from oidc provider `corp` does not carry the expected nonce"
    );
    // A token without a nonce never verifies, whatever the caller expects.
    for expected in ["n-0S6", ""] {
        let c = with(claims(), "nonce", Value::Null);
        let e = v
            .verify("corp", &key.sign(&c), expected, at(NOW))
            .await
            .unwrap_err();
        assert!(matches!(e, OidcError::NonceMismatch { .. }), "{e}");
    }
    let c = with(claims(), "nonce", json!(""));
    let e = v
        .verify("corp", &key.sign(&c), "", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::NonceMismatch { .. }), "{e}");
    let c = with(claims(), "nonce", Value::Null);
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::NonceMismatch { .. }), "{e}");
}

#[tokio::test]
async fn a_key_outside_the_set_does_not_verify() {
    let (_idp, _key, v, _) = setup().await;
    let impostor = ed_key("k1"); // same kid, different key
    let e = v
        .verify("corp", &impostor.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the id token's signature does not verify with the key `k1` of oidc provider `corp`"
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_at_most_once_per_interval() {
    let (idp, key, v, clock) = setup().await;
    v.verify("corp", &key.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert_eq!(idp.fetches(), 1);

    // The provider rotates in a new key.
    let k2 = ed_key("k2");
    idp.add(&k2);
    clock.advance(REFETCH_INTERVAL);
    let id = v
        .verify("corp", &k2.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert_eq!(id.human, "alice@example.com");
    assert_eq!(idp.fetches(), 2, "one refetch found the new key");

    // Made-up kids within the interval do not reach the provider.
    for i in 0..5 {
        let made_up = ed_key(&format!("bogus-{i}"));
        let e = v
            .verify("corp", &made_up.sign(&claims()), "n-0S6", at(NOW))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("oidc provider `corp` has no key `bogus-{i}`")
        );
    }
    assert_eq!(idp.fetches(), 2);
    // Known keys still work meanwhile, without fetching.
    v.verify("corp", &key.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap();
    assert_eq!(idp.fetches(), 2);

    // Once the interval has passed, an unknown kid may refetch again: once.
    clock.advance(REFETCH_INTERVAL);
    let k3 = ed_key("k3");
    for _ in 0..3 {
        let e = v
            .verify("corp", &k3.sign(&claims()), "n-0S6", at(NOW))
            .await
            .unwrap_err();
        assert!(matches!(e, OidcError::NoKey { .. }), "{e}");
    }
    assert_eq!(idp.fetches(), 3);
}

#[tokio::test]
async fn old_keys_are_refreshed_and_removed_keys_dropped() {
    let (idp, key, v, clock) = setup().await;
    v.verify("corp", &key.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap();
    // The provider withdraws k1; after KEYS_MAX_AGE the cache notices.
    let k2 = ed_key("k2");
    *idp.keys.lock().unwrap() = vec![k2.jwk.clone()];
    clock.advance(KEYS_MAX_AGE);
    let e = v
        .verify("corp", &key.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::NoKey { .. }), "{e}");
    assert_eq!(idp.fetches(), 2);
}

#[tokio::test]
async fn none_and_hmac_are_refused() {
    let (idp, key, v, _) = setup().await;
    let header = b64url(br#"{"alg":"none","kid":"k1"}"#);
    let body = b64url(claims().to_string().as_bytes());
    for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
        let e = v
            .verify("corp", &token, "n-0S6", at(NOW))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                OidcError::UnsupportedAlgorithm { .. } | OidcError::Malformed { .. }
            ),
            "{e}"
        );
    }
    let e = v
        .verify("corp", &format!("{header}.{body}."), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the id token from oidc provider `corp` is signed with `none`; accepted: RS256, ES256, EdDSA"
    );

    // HS256 keyed with the public key's bytes (the classic confusion) or anything else.
    let x = key.jwk["x"].as_str().unwrap().to_owned();
    for secret in [x.as_bytes(), b"secret".as_slice()] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        let token = jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(secret).unwrap())
            .unwrap();
        let e = v
            .verify("corp", &token, "n-0S6", at(NOW))
            .await
            .unwrap_err();
        assert!(
            matches!(e, OidcError::UnsupportedAlgorithm { ref alg, .. } if alg == "HS256"),
            "{e}"
        );
    }

    // A token claiming RS256 with the Ed25519 key's kid.
    let mut header: Value = json!({"alg": "RS256", "kid": "k1"});
    let signed = key.sign(&claims());
    let sig = signed.rsplit('.').next().unwrap();
    header["typ"] = json!("JWT");
    let token = format!("{}.{body}.{sig}", b64url(header.to_string().as_bytes()));
    let e = v
        .verify("corp", &token, "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the key `k1` of oidc provider `corp` cannot verify `RS256` signatures"
    );
    assert_eq!(
        idp.fetches(),
        1,
        "refused algorithms fetch nothing but the first key set"
    );
}

#[tokio::test]
async fn the_human_claim_must_be_a_non_empty_string() {
    let (_idp, key, v, _) = setup().await;
    for value in [Value::Null, json!(""), json!(42)] {
        let c = with(claims(), "email", value);
        let e = v
            .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the id token from oidc provider `corp` has no `email` claim"
        );
    }
    let c = with(claims(), "amr", json!("pwd"));
    let e = v
        .verify("corp", &key.sign(&c), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::Malformed { .. }), "{e}");
}

#[tokio::test]
async fn unknown_providers_and_malformed_tokens_are_refused() {
    let (idp, key, v, _) = setup().await;
    let e = v
        .verify("other", &key.sign(&claims()), "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "unknown oidc provider `other`");
    for token in ["", "a.b", "a.b.c.d", "!!!.b.c", "e30.e30.AA"] {
        let e = v.verify("corp", token, "n-0S6", at(NOW)).await.unwrap_err();
        assert!(matches!(e, OidcError::Malformed { .. }), "{token}: {e}");
        assert!(e.to_string().contains("`corp`"), "{e}");
    }
    let long = "a".repeat(MAX_TOKEN_BYTES + 1);
    let e = v.verify("corp", &long, "n-0S6", at(NOW)).await.unwrap_err();
    assert!(matches!(e, OidcError::Malformed { .. }), "{e}");
    assert_eq!(idp.fetches(), 0);
}

#[tokio::test]
async fn fetch_failures_are_reported_and_rate_limited() {
    let key = ed_key("k1");
    let idp = Idp::start(vec![key.jwk.clone()]).await;
    let clock = TestClock::new();
    let v = verifier(
        vec![
            provider("big", format!("{}/big", idp.url)),
            provider("broken", format!("{}/broken", idp.url)),
            provider("gone", "http://127.0.0.1:9/jwks".into()),
        ],
        &clock,
    );
    let token = key.sign(&claims());
    let e = v.verify("big", &token, "n-0S6", at(NOW)).await.unwrap_err();
    assert!(e.to_string().contains("larger than 1048576 bytes"), "{e}");
    assert!(
        e.to_string()
            .starts_with("cannot fetch the keys of oidc provider `big`"),
        "{e}"
    );
    let e = v
        .verify("broken", &token, "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("status 500"), "{e}");
    let e = v
        .verify("gone", &token, "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::Fetch { .. }), "{e}");
    // Within the interval a failed provider is not asked again.
    let e = v
        .verify("broken", &token, "n-0S6", at(NOW))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("status 500")
            && e.to_string().ends_with("(next attempt within 60 s)"),
        "{e}"
    );
}

#[test]
fn configuration_is_checked() {
    let clock = TestClock::new();
    let client = || client_builder().no_proxy().build().unwrap();
    let ok = provider("corp", "https://idp.example/jwks".into());
    let cases = [
        (
            provider("corp", "http://idp.example/jwks".into()),
            "must be https",
        ),
        (provider("corp", "idp.example/jwks".into()), "is not a URL"),
        (
            OidcProviderConfig {
                audience: String::new(),
                ..ok.clone()
            },
            "`audience` must not be empty",
        ),
    ];
    for (config, message) in cases {
        let e = OidcVerifier::with_parts(vec![config], client(), clock.monotonic(), MAX_AGE)
            .unwrap_err();
        assert!(
            e.to_string().starts_with("invalid oidc provider `corp`: "),
            "{e}"
        );
        assert!(e.to_string().contains(message), "{e}");
    }
    let e = OidcVerifier::with_parts(
        vec![ok.clone(), ok.clone()],
        client(),
        clock.monotonic(),
        MAX_AGE,
    )
    .unwrap_err();
    assert!(e.to_string().contains("used by another provider"), "{e}");
    for url in [
        "http://localhost:8080/jwks",
        "http://[::1]/jwks",
        "https://idp.example/jwks",
    ] {
        OidcVerifier::with_parts(
            vec![provider("corp", url.into())],
            client(),
            clock.monotonic(),
            MAX_AGE,
        )
        .unwrap();
    }
    let v = OidcVerifier::new(vec![ok], MAX_AGE).unwrap();
    assert_eq!(v.providers(), vec!["corp".to_owned()]);
    assert!(format!("{v:?}").contains("corp"));
}

#[test]
fn key_sets_keep_only_usable_signing_keys() {
    let ed = ed_key("ed");
    let mut enc = ed_key("enc").jwk;
    enc["use"] = json!("enc");
    let mut no_kid = ed_key("x").jwk;
    no_kid.as_object_mut().unwrap().remove("kid");
    let mut other_alg = ed_key("ps").jwk;
    other_alg["alg"] = json!("PS256");
    let body = json!({ "keys": [
        ed.jwk, enc, no_kid, other_alg,
        { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
        { "kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA" },
        { "kty": "weird", "kid": "weird" },
        "not even an object",
    ]});
    let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
    let mut kids: Vec<&String> = keys.keys().collect();
    kids.sort();
    assert_eq!(kids, vec!["ed"]);
    assert!(parse_jwks(b"[]").is_err());
}
