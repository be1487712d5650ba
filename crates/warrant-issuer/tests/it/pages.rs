//! The pages for people, without a browser: their security headers, who sees what, how
//! agents' words are escaped, sessions, and the console's forms and their CSRF tokens.

use axum::http::StatusCode;
use serde_json::json;
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator as _};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::env::{Db, Env};
use crate::passkeys::{assert_for, authenticator, decide_with, enrol, ORIGIN};
use crate::requests::{agent, ask, refunds};
use crate::with_passkeys;

/// `GET path` with `cookie`: status, headers, body.
async fn page(
    env: &Env,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = axum::http::Request::get(path);
    if let Some(c) = cookie {
        req = req.header(axum::http::header::COOKIE, c);
    }
    env.send(req.body(axum::body::Body::empty()).unwrap()).await
}

/// Every page: HTML, the strict policy, no framing, no referrer, not stored, and no script
/// but the one file.
fn assert_safe_page(headers: &axum::http::HeaderMap, body: &str) {
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        body.matches("<script").count(),
        body.matches(r#"<script src="/assets/warrant.js" defer></script>"#)
            .count(),
        "{body}"
    );
    assert!(
        !body.contains(" style=") && !body.contains("<style"),
        "{body}"
    );
    // No inline event handler: no ` on…=` attribute.
    for (i, _) in body.match_indices(" on") {
        let rest = &body[i + 3..];
        let name_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        assert!(
            !rest[name_len..].starts_with('='),
            "an inline handler: {}",
            &body[i..]
        );
    }
}

/// Signs `human` in with `auth`: the session cookie (`name=value`) and its attributes.
pub(crate) async fn sign_in(env: &Env, auth: &mut SoftPasskey, human: &str) -> (String, String) {
    let (status, c) = env
        .call(
            "POST",
            "/web/signin/challenge",
            None,
            Some(json!({ "human": human })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let answer = auth
        .do_authentication(
            Url::parse(ORIGIN).unwrap(),
            serde_json::from_value(c["options"].clone()).unwrap(),
        )
        .unwrap();
    let body = json!({ "human": human, "ceremony": c["ceremony"], "credential": answer });
    let req = axum::http::Request::post("/web/signin")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let (status, headers, text) = env.send(req).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let set = headers["set-cookie"].to_str().unwrap().to_owned();
    let (pair, attrs) = set.split_once(';').unwrap();
    (pair.to_owned(), attrs.to_owned())
}

with_passkeys!(
    the_pages_show_a_request_only_to_its_human_signed_in_and_escape_what_agents_write,
    |env: Env| async move {
        let mut auth = authenticator();
        let (secret, _) = enrol(&env, &mut auth, "alice").await;
        // The invitation page (used up now) is a page, not JSON.
        let (status, headers, body) = page(&env, &format!("/invite/{secret}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_safe_page(&headers, &body);
        assert!(body.contains("unknown, used or expired"), "{body}");
        let admin = env.admin_token().await;
        let (_, invite) = env
            .call("POST", "/v1/humans/bob/invites", Some(&admin), None)
            .await;
        let path = invite["url"]
            .as_str()
            .unwrap()
            .trim_start_matches(ORIGIN)
            .to_owned();
        let (status, headers, body) = page(&env, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_safe_page(&headers, &body);
        assert!(
            body.contains("<strong>bob</strong>") && body.contains(r#"id="enrol""#),
            "{body}"
        );
        // An agent's request whose reason tries to be HTML.
        let agent = agent(&env).await;
        let p = crate::requests::proof(&env, &agent, "POST", "/v1/requests");
        let asked = json!({ "human": "alice", "reason": "<script>alert(1)</script> & more", "grant": refunds() });
        let (status, _, made) =
            crate::requests::send(&env, "POST", "/v1/requests", Some(&p), Some(asked)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{made}");
        let approve = format!("/approve/{}", made["id"].as_str().unwrap());
        // Without a session: only whom it asks.
        let (status, headers, body) = page(&env, &approve, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_safe_page(&headers, &body);
        assert!(
            body.contains(r#"id="signin""#)
                && !body.contains("alert(1)")
                && !body.contains("refund"),
            "{body}"
        );
        // Alice signed in: the request, escaped, and her choices.
        let (cookie, attrs) = sign_in(&env, &mut auth, "alice").await;
        assert!(cookie.starts_with("warrant_session="), "{cookie}");
        assert_eq!(
            attrs.trim(),
            "HttpOnly; SameSite=Strict; Path=/; Max-Age=900"
        );
        let (status, headers, body) = page(&env, &approve, Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_safe_page(&headers, &body);
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{body}"
        );
        assert!(
            body.contains(
                &warrant_core::inspect::describe(
                    &warrant_core::grant::Grant::from_json(&refunds()).unwrap()
                )
                .replace('"', "&quot;")
            ),
            "{body}"
        );
        assert!(
            body.contains(r#"name="keep""#)
                && body.contains(r#"data-op="le""#)
                && body.contains(r#"id="deny""#),
            "{body}"
        );
        assert!(body.contains(&agent.public().jwk_thumbprint()), "{body}");
        // Bob's session does not show alice's request; a forged cookie is no session.
        let mut bobs = authenticator();
        enrol(&env, &mut bobs, "bob").await;
        let (bob_cookie, _) = sign_in(&env, &mut bobs, "bob").await;
        for c in [bob_cookie.as_str(), "warrant_session=00"] {
            let (_, _, body) = page(&env, &approve, Some(c)).await;
            assert!(
                body.contains(r#"id="signin""#) && !body.contains("alert(1)"),
                "{body}"
            );
        }
        // A sign-in answer is not a decision.
        let (_, c) = env
            .call(
                "POST",
                "/web/signin/challenge",
                None,
                Some(json!({ "human": "alice" })),
            )
            .await;
        let answer = auth
            .do_authentication(
                Url::parse(ORIGIN).unwrap(),
                serde_json::from_value(c["options"].clone()).unwrap(),
            )
            .unwrap();
        let v = json!({ "method": "passkey", "ceremony": c["ceremony"], "credential": answer });
        let id = made["id"].as_str().unwrap();
        assert_eq!(
            decide_with(&env, id, "approve", &v, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        // Once decided, the page says so.
        let v = assert_for(&env, &mut auth, id, "deny", None, ORIGIN).await;
        assert_eq!(
            decide_with(&env, id, "deny", &v, None).await.0,
            StatusCode::OK
        );
        let (status, headers, body) = page(&env, &approve, Some(&cookie)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_safe_page(&headers, &body);
        assert!(body.contains("denied already"), "{body}");
        // Sessions end after 15 minutes.
        env.advance(15 * 60 + 1);
        let (_, _, body) = page(&env, &approve, Some(&cookie)).await;
        assert!(body.contains(r#"id="signin""#), "{body}");
    }
);

#[tokio::test]
async fn the_script_and_style_are_served_with_the_pages_policy() {
    let env = crate::passkeys::env(Db::Sqlite).await;
    for (path, kind) in [
        ("/assets/warrant.js", "text/javascript"),
        ("/assets/warrant.css", "text/css"),
    ] {
        let (status, headers, body) = page(&env, path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(!body.is_empty());
    }
    // With passkeys off, the pages say so as pages.
    let off = Env::new(Db::Sqlite).await.unwrap();
    let (status, headers, body) =
        page(&off, "/approve/00000000000000000000000000000000", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_safe_page(&headers, &body);
    assert!(body.contains("passkeys are off"), "{body}");
}

/// `POST path` as a console form (`application/x-www-form-urlencoded`) with `cookie`.
pub(crate) async fn form(
    env: &Env,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('+', "%2B")
                    .replace('/', "%2F")
                    .replace('=', "%3D")
            )
        })
        .collect();
    let req = axum::http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(axum::http::header::COOKIE, cookie)
        .body(axum::body::Body::from(body.join("&")))
        .unwrap();
    env.send(req).await
}

/// The CSRF token of the console page `body`.
pub(crate) fn csrf(body: &str) -> String {
    let at = body.find(r#"name="csrf" value=""#).expect("a console form")
        + r#"name="csrf" value=""#.len();
    body[at..].split('"').next().unwrap().to_owned()
}

with_passkeys!(
    the_console_shows_a_humans_things_and_changes_them_only_with_its_csrf_token,
    |env: Env| async move {
        let (status, headers, body) = page(&env, "/console", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_safe_page(&headers, &body);
        assert!(
            body.contains(r#"id="signin""#) && body.contains(r#"name="human""#),
            "{body}"
        );
        let mut auth = authenticator();
        enrol(&env, &mut auth, "alice").await;
        let agent = agent(&env).await;
        let id = ask(&env, &agent, refunds()).await;
        let (status, minted) = env.mint("alice", crate::api::read_grant(), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{minted}");
        let token_id = minted["token_id"].as_str().unwrap();
        let (cookie, _) = sign_in(&env, &mut auth, "alice").await;
        let (status, headers, body) = page(&env, "/console", Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_safe_page(&headers, &body);
        for shown in [
            format!("/approve/{id}"),
            token_id.to_owned(),
            "triage bot".to_owned(),
            "laptop".to_owned(),
            "passkey_enrolled".to_owned(),
        ] {
            assert!(body.contains(&shown), "{shown}: {body}");
        }
        let token = csrf(&body);
        // A form without the session's token changes nothing.
        let (status, _, page_) = form(
            &env,
            "/console/revoke",
            &cookie,
            &[("csrf", "0"), ("token_id", token_id)],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page_}");
        assert!(page_.contains("did not come from your console"), "{page_}");
        let (_, feed) = env.call("GET", "/v1/revocations", None, None).await;
        assert!(feed["entries"].as_array().unwrap().is_empty(), "{feed}");
        // With it, the token is revoked, and the console no longer lists it.
        let (status, headers, _) = form(
            &env,
            "/console/revoke",
            &cookie,
            &[("csrf", &token), ("token_id", token_id)],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers["location"], "/console");
        let (_, feed) = env.call("GET", "/v1/revocations", None, None).await;
        assert_eq!(feed["entries"][0]["value"], token_id);
        let (_, _, body) = page(&env, "/console", Some(&cookie)).await;
        assert!(!body.contains(token_id), "{body}");
        // Bob's token is not alice's to revoke.
        let (_, bobs) = env
            .mint(
                "bob",
                crate::api::read_grant(),
                json!({ "role": "support" }),
            )
            .await;
        let (status, _, _) = form(
            &env,
            "/console/revoke",
            &cookie,
            &[
                ("csrf", &token),
                ("token_id", bobs["token_id"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Signing out ends the session: the console asks again.
        let (status, _, _) = form(&env, "/console/signout", &cookie, &[("csrf", &token)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, _, body) = page(&env, "/console", Some(&cookie)).await;
        assert!(body.contains(r#"name="human""#), "{body}");
        let (status, _, _) = form(
            &env,
            "/console/revoke",
            &cookie,
            &[("csrf", &token), ("token_id", token_id)],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
);

with_passkeys!(
    a_human_removes_passkeys_but_never_the_last_way_to_verify_them,
    |env: Env| async move {
        // Carol has no device key: her one passkey is all she has.
        let mut first = authenticator();
        let (_, one) = enrol(&env, &mut first, "carol").await;
        let (cookie, _) = sign_in(&env, &mut first, "carol").await;
        let (_, _, body) = page(&env, "/console", Some(&cookie)).await;
        let token = csrf(&body);
        let remove = |cred: String| {
            let (env, cookie, token) = (&env, cookie.clone(), token.clone());
            async move {
                form(
                    env,
                    "/console/passkeys/remove",
                    &cookie,
                    &[("csrf", &token), ("credential_id", &cred)],
                )
                .await
                .0
            }
        };
        assert_eq!(remove(one.clone()).await, StatusCode::CONFLICT);
        let mut second = authenticator();
        let (_, two) = enrol(&env, &mut second, "carol").await;
        assert_eq!(remove(one.clone()).await, StatusCode::SEE_OTHER);
        assert_eq!(remove(two.clone()).await, StatusCode::CONFLICT);
        assert_eq!(remove(one).await, StatusCode::CONFLICT, "removed already");
        let left = env.state.store.passkeys("carol").await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].credential_id, two);
        // Alice has a device key: her only passkey may go.
        let mut alices = authenticator();
        let (_, hers) = enrol(&env, &mut alices, "alice").await;
        let (cookie, _) = sign_in(&env, &mut alices, "alice").await;
        let (_, _, body) = page(&env, "/console", Some(&cookie)).await;
        let (status, _, _) = form(
            &env,
            "/console/passkeys/remove",
            &cookie,
            &[("csrf", &csrf(&body)), ("credential_id", &hers)],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(env.state.store.passkeys("alice").await.unwrap().is_empty());
        assert!(env
            .audit()
            .await
            .iter()
            .any(|e| e.kind == "passkey_removed"));
    }
);
