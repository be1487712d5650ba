//! Passkeys: enrolment by a one-time invitation, and approvals signed by a passkey bound to
//! exactly one decision — with a software authenticator (CTAP2, no browser).

use axum::http::StatusCode;
use serde_json::{json, Value as J};
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator as _};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::api::key_set;
use crate::env::{Db, Env, CONFIG};
use crate::requests::{agent, ask, poll, refunds};

pub(crate) const ORIGIN: &str = "http://localhost:8414";

/// An issuer whose public URL can carry passkeys.
pub(crate) async fn env(db: Db) -> Env {
    let config = format!(
        "public_url = \"{ORIGIN}\"\n{CONFIG}\n[[humans]]\nid = \"carol\"\nroles = [\"support\"]\n"
    );
    Env::with_config(db, &config, None).await.unwrap()
}

/// An authenticator that verifies its user (a biometric or PIN, as far as the issuer sees).
pub(crate) fn authenticator() -> SoftPasskey {
    SoftPasskey::new(true)
}

/// Invites `human` and enrols `auth`'s new passkey with the link: the invitation's secret
/// and the passkey's credential id.
pub(crate) async fn enrol(env: &Env, auth: &mut SoftPasskey, human: &str) -> (String, String) {
    let admin = env.admin_token().await;
    let (status, invite) = env
        .call(
            "POST",
            &format!("/v1/humans/{human}/invites"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let url = invite["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{ORIGIN}/invite/")), "{url}");
    let secret = url.rsplit('/').next().unwrap().to_owned();
    let (status, c) = env
        .call(
            "POST",
            &format!("/v1/invites/{secret}/challenge"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let created = auth
        .do_registration(
            Url::parse(ORIGIN).unwrap(),
            serde_json::from_value(c["options"].clone()).unwrap(),
        )
        .unwrap();
    let body = json!({ "ceremony": c["ceremony"], "credential": created, "name": "laptop" });
    let (status, done) = env
        .call(
            "POST",
            &format!("/v1/invites/{secret}/passkey"),
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    assert_eq!(done["human"], human);
    (secret, done["credential_id"].as_str().unwrap().to_owned())
}

/// A passkey challenge for `verdict` on request `id` (with `grant` when narrowing), and
/// `auth`'s answer from `origin`: the `verification` to send.
pub(crate) async fn assert_for(
    env: &Env,
    auth: &mut SoftPasskey,
    id: &str,
    verdict: &str,
    grant: Option<&J>,
    origin: &str,
) -> J {
    assert_with(env, auth, (id, verdict, grant), origin, |_| {}).await
}

/// [`assert_for`], the challenge's options changed by `tweak` first (as a client that does
/// not do what the issuer asks could).
async fn assert_with(
    env: &Env,
    auth: &mut SoftPasskey,
    (id, verdict, grant): (&str, &str, Option<&J>),
    origin: &str,
    tweak: impl FnOnce(&mut J),
) -> J {
    let mut body = json!({ "human": "alice", "verdict": verdict });
    if let Some(g) = grant {
        body["grant"] = g.clone();
    }
    let (status, c) = env
        .call(
            "POST",
            &format!("/v1/requests/{id}/passkey"),
            None,
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let mut options = c["options"].clone();
    tweak(&mut options);
    let answer = auth
        .do_authentication(
            Url::parse(origin).unwrap(),
            serde_json::from_value(options).unwrap(),
        )
        .unwrap();
    json!({ "method": "passkey", "ceremony": c["ceremony"], "credential": answer })
}

pub(crate) async fn decide_with(
    env: &Env,
    id: &str,
    verdict: &str,
    verification: &J,
    grant: Option<&J>,
) -> (StatusCode, J) {
    let mut body = json!({ "human": "alice", "verification": verification });
    if let Some(g) = grant {
        body["grant"] = g.clone();
    }
    env.call(
        "POST",
        &format!("/v1/requests/{id}/{verdict}"),
        None,
        Some(body),
    )
    .await
}

/// Refunds under 20.00 only.
fn narrowed() -> J {
    json!({ "allow": [ { "resources": ["orders/*"], "actions": ["refund"], "when": [ { "attr": "amount", "lt": 2000 } ] } ] })
}

/// A test body run on SQLite and on PostgreSQL, each with passkeys on.
#[macro_export]
macro_rules! with_passkeys {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                ($body)($crate::passkeys::env($crate::env::Db::Sqlite).await).await;
            }

            #[tokio::test]
            #[cfg_attr(
                warrant_pg_tests_ignored,
                ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
            )]
            async fn postgres() {
                ($body)($crate::passkeys::env($crate::env::Db::Postgres).await).await;
            }
        }
    };
}

with_passkeys!(
    an_invited_human_enrols_a_passkey_once_and_approves_with_it,
    |env: Env| async move {
        let mut auth = authenticator();
        let (secret, _) = enrol(&env, &mut auth, "alice").await;
        // The invitation works once.
        let (status, e) = env
            .call(
                "POST",
                &format!("/v1/invites/{secret}/challenge"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
        let agent = agent(&env).await;
        let id = ask(&env, &agent, refunds()).await;
        let g = narrowed();
        let v = assert_for(&env, &mut auth, &id, "approve", Some(&g), ORIGIN).await;
        let (status, d) = decide_with(&env, &id, "approve", &v, Some(&g)).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        // Its answer is single use: the ceremony is consumed with the decision.
        let ceremony = v["ceremony"].as_str().unwrap();
        let live = env
            .state
            .store
            .live_ceremony(ceremony, env.at().unix_i64())
            .await
            .unwrap();
        assert!(live.is_none(), "the ceremony is used up");
        let (status, e) = decide_with(&env, &id, "approve", &v, Some(&g)).await;
        assert_ne!(status, StatusCode::OK, "{e}");
        let (status, _, state) = poll(&env, &agent, &id).await;
        assert_eq!(status, StatusCode::OK, "{state}");
        let token = state["token"]["token"].as_str().unwrap();
        let verifier = warrant_verifier::Verifier::builder(key_set(&env).await)
            .audience("support-api")
            .build();
        let d = crate::requests::check(
            &env,
            &verifier,
            &agent,
            token,
            warrant_verifier::Request::new("orders/7", "refund", env.at())
                .with_attr("amount", 1999),
        );
        let claims = d.claims().expect("allowed");
        assert_eq!(claims.verification_method.as_deref(), Some("passkey"));
        let audit = env.audit().await;
        assert!(audit.iter().any(|e| e.kind == "passkey_enrolled"));
        assert!(audit
            .iter()
            .any(|e| e.kind == "verification" && e.detail.contains("\"passkey\"")));
    }
);

with_passkeys!(
    a_passkey_answer_is_good_for_its_one_decision_only,
    |env: Env| async move {
        let mut auth = authenticator();
        enrol(&env, &mut auth, "alice").await;
        let agent = agent(&env).await;
        let id = ask(&env, &agent, refunds()).await;
        let other = ask(&env, &agent, refunds()).await;
        let g = narrowed();
        // Signed for the narrowed grant, sent with the request as asked: refused.
        let v = assert_for(&env, &mut auth, &id, "approve", Some(&g), ORIGIN).await;
        let (status, e) = decide_with(&env, &id, "approve", &v, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
        assert!(
            e["detail"].as_str().unwrap().contains("another decision"),
            "{e}"
        );
        // Signed to deny, sent to approve; signed for one request, sent for another.
        let v = assert_for(&env, &mut auth, &id, "deny", None, ORIGIN).await;
        assert_eq!(
            decide_with(&env, &id, "approve", &v, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        let v = assert_for(&env, &mut auth, &id, "approve", None, ORIGIN).await;
        assert_eq!(
            decide_with(&env, &other, "approve", &v, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        // From another origin: refused.
        let v = assert_for(
            &env,
            &mut auth,
            &id,
            "approve",
            None,
            "https://localhost:9443",
        )
        .await;
        let (status, e) = decide_with(&env, &id, "approve", &v, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
        // Bob's passkey is not alice's, even from a client that asks it to answer her
        // challenge.
        let mut bobs = authenticator();
        let (_, bob_credential) = enrol(&env, &mut bobs, "bob").await;
        let v = assert_with(&env, &mut bobs, (&id, "approve", None), ORIGIN, |o| {
            o["publicKey"]["allowCredentials"] =
                json!([{ "type": "public-key", "id": bob_credential }]);
        })
        .await;
        let (status, e) = decide_with(&env, &id, "approve", &v, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
        // Nothing was decided; a proper answer still works.
        assert_eq!(poll(&env, &agent, &id).await.0, StatusCode::ACCEPTED);
        let v = assert_for(&env, &mut auth, &id, "deny", None, ORIGIN).await;
        let (status, d) = decide_with(&env, &id, "deny", &v, None).await;
        assert_eq!(
            (status, d["status"].as_str()),
            (StatusCode::OK, Some("denied"))
        );
    }
);

with_passkeys!(
    an_answer_without_user_verification_is_refused,
    |env: Env| async move {
        let mut auth = authenticator();
        enrol(&env, &mut auth, "alice").await;
        let agent = agent(&env).await;
        let id = ask(&env, &agent, refunds()).await;
        // A client that ignores the issuer's `userVerification: required`: the authenticator
        // signs with user presence only.
        let v = assert_with(&env, &mut auth, (&id, "approve", None), ORIGIN, |o| {
            o["publicKey"]["userVerification"] = json!("discouraged");
        })
        .await;
        let (status, e) = decide_with(&env, &id, "approve", &v, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
        assert_eq!(poll(&env, &agent, &id).await.0, StatusCode::ACCEPTED);
    }
);

#[tokio::test]
async fn passkeys_are_off_on_an_address_and_a_wrong_rp_id_stops_the_start() {
    // The default public URL is an address: passkeys are off, and say why.
    let env = Env::new(Db::Sqlite).await.unwrap();
    let admin = env.admin_token().await;
    let (status, e) = env
        .call("POST", "/v1/humans/alice/invites", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{e}");
    assert!(
        e["detail"].as_str().unwrap().contains("not an address"),
        "{e}"
    );
    // A relying party that cannot work is an error at startup.
    for (config, said) in [
        (
            "public_url = \"https://warrant.example.com\"\npasskey_rp_id = \"example.org\"\n",
            "neither the host of `public_url`",
        ),
        (
            "public_url = \"http://warrant.example.com\"\npasskey_rp_id = \"example.com\"\n",
            "browsers refuse WebAuthn",
        ),
        (
            "[[roles]]\nname = \"r\"\n[roles.ceiling]\nallow = [ { resources = [\"a\"], actions = [\"read\"] } ]\n\
             [[humans]]\nid = \"alice\"\nroles = [\"r\"]\ninvite = true\n",
            "human `alice` has `invite = true`, but passkeys are off",
        ),
    ] {
        let config = warrant_issuer::Config::from_toml(config).unwrap();
        let e = warrant_issuer::State::open(config, "sqlite::memory:", None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(said), "{e}");
    }
}

with_passkeys!(
    an_invitation_enrols_only_for_its_own_ceremony,
    |env: Env| async move {
        let admin = env.admin_token().await;
        let secret = |human: &'static str| {
            let env = &env;
            let admin = &admin;
            async move {
                let (_, invite) = env
                    .call(
                        "POST",
                        &format!("/v1/humans/{human}/invites"),
                        Some(admin),
                        None,
                    )
                    .await;
                invite["url"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned()
            }
        };
        let (alices, bobs) = (secret("alice").await, secret("bob").await);
        let mut auth = authenticator();
        let (_, c) = env
            .call(
                "POST",
                &format!("/v1/invites/{alices}/challenge"),
                None,
                None,
            )
            .await;
        let created = auth
            .do_registration(
                Url::parse(ORIGIN).unwrap(),
                serde_json::from_value(c["options"].clone()).unwrap(),
            )
            .unwrap();
        let body = json!({ "ceremony": c["ceremony"], "credential": created });
        // Alice's ceremony with bob's invitation: refused, and bob's invitation still works.
        let (status, e) = env
            .call(
                "POST",
                &format!("/v1/invites/{bobs}/passkey"),
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
        let (status, _) = env
            .call("POST", &format!("/v1/invites/{bobs}/challenge"), None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        // A name nobody could read, an unknown secret.
        for name in ["a\u{7}b", "a\u{202e}b"] {
            let mut bad = body.clone();
            bad["name"] = json!(name);
            let (status, _) = env
                .call(
                    "POST",
                    &format!("/v1/invites/{alices}/passkey"),
                    None,
                    Some(bad),
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}");
        }
        let (status, _) = env
            .call("POST", "/v1/invites/nope/challenge", None, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // With its own invitation it enrols; a second enrolment of the same ceremony fails.
        let (status, e) = env
            .call(
                "POST",
                &format!("/v1/invites/{alices}/passkey"),
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{e}");
        let (status, _) = env
            .call(
                "POST",
                &format!("/v1/invites/{alices}/passkey"),
                None,
                Some(body),
            )
            .await;
        assert_ne!(status, StatusCode::CREATED);
        // Invitations expire, and are pruned with the ceremonies once they have.
        let late = secret("alice").await;
        let (status, _) = env
            .call("POST", &format!("/v1/invites/{late}/challenge"), None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        env.advance(24 * 3600 + 1);
        let (status, _) = env
            .call("POST", &format!("/v1/invites/{late}/challenge"), None, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let pruned = env.state.store.prune(env.at().unix_i64()).await.unwrap();
        // Three invitations (alice's used one, bob's, the late one) and their three
        // ceremonies.
        assert!(pruned >= 6, "{pruned} rows pruned");
    }
);

#[tokio::test]
async fn unanswered_passkey_challenges_are_bounded_for_all_clients() {
    let config = format!("public_url = \"{ORIGIN}\"\nmax_live_challenges = 2\n{CONFIG}");
    let env = Env::with_config(Db::Sqlite, &config, None).await.unwrap();
    let mut auth = authenticator();
    enrol(&env, &mut auth, "alice").await;
    let ask = || {
        env.call(
            "POST",
            "/web/signin/challenge",
            None,
            Some(json!({ "human": "alice" })),
        )
    };
    assert_eq!(ask().await.0, StatusCode::OK);
    assert_eq!(ask().await.0, StatusCode::OK);
    let (status, e) = ask().await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{e}");
    // Once they expire, there is room again.
    env.advance(301);
    assert_eq!(ask().await.0, StatusCode::OK);
}
