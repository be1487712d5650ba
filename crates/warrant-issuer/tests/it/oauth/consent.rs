//! The consent: the signed-in human's, within their ceiling, remembered only when asked; the metadata.

use super::*;

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
