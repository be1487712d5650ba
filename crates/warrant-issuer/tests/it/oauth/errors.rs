//! Every `/authorize` and `/token` error: clear, nothing minted, audited.

use super::*;

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
        refused(status, &e, "invalid_grant");
        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT),
        ];
        let (status, e) = token(&env, Some(&agent), &refresh).await;
        // The family is revoked.
        refused(status, &e, "invalid_grant");
        // A code lives a minute.
        let late = approved_code(&env, &mut auth, &cookie).await;
        env.advance(61);
        let (status, e) = token(&env, Some(&agent), &exchange(&late)).await;
        refused(status, &e, "invalid_grant");
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
