//! A real browser: headless Chromium, driven over the DevTools protocol, with a WebAuthn
//! virtual authenticator that verifies its user. Alice enrols a passkey from her invitation
//! page; an agent asks for refunds and an e-mail address; alice signs in on the approve page
//! (360 px wide), drops the e-mail address, lowers the refund limit and approves with her
//! passkey; the agent's token allows exactly that. A second request is denied with one
//! click; her console lists the token, the agent and the passkey. Screenshots of the
//! approval page, its result and the console go to `target/tmp/browser/`
//! (`UPDATE_SCREENSHOTS=1` copies the approval page to `docs/approval.png`).

use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::browser_protocol::web_authn::{
    AddVirtualAuthenticatorParams, AuthenticatorProtocol, AuthenticatorTransport, EnableParams,
    VirtualAuthenticatorOptions,
};
use chromiumoxide::page::{Page, ScreenshotParams};
use futures::StreamExt as _;
use serde_json::{json, Value as J};
use warrant_core::keys::SigningKey;
use warrant_issuer::store::AgentRow;

use crate::env::CONFIG;

/// Serves a fresh issuer on loopback at `http://localhost:<port>`: its state and URL.
async fn serve(dir: &std::path::Path) -> (warrant_issuer::State, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://localhost:{port}");
    // With dana, whose role may grant for the OAuth client's resource.
    let oauth = crate::oauth::config("").replace(&crate::oauth::config_head(), "");
    let config = warrant_issuer::Config::from_toml(&format!(
        "public_url = \"{url}\"\n{}\n{oauth}",
        CONFIG.replace("DEVICE", &warrant_test::new_key().public().to_string())
    ))
    .unwrap();
    let database = format!("sqlite://{}", dir.join("warrant.db").display());
    let state = warrant_issuer::State::open(config, &database, None)
        .await
        .unwrap();
    let app = warrant_issuer::app(state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url)
}

/// `chromium` on `PATH`.
fn chromium() -> std::path::PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
        })
        .expect("no `chromium` on PATH (Debian package `chromium`; .ci/run installs it)")
}

/// Headless Chromium with a fresh profile.
async fn browser(dir: &std::path::Path) -> Browser {
    let config = BrowserConfig::builder()
        .chrome_executable(chromium())
        .new_headless_mode()
        .no_sandbox()
        .user_data_dir(dir.join("profile"))
        .args([
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .request_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (browser, mut handler) = Browser::launch(config).await.unwrap_or_else(|e| {
        panic!("cannot start `chromium` (Debian package `chromium`; .ci/run installs it): {e}")
    });
    tokio::spawn(async move { while handler.next().await.is_some() {} });
    browser
}

/// A page 360 px wide, with a virtual platform authenticator that verifies its user.
async fn phone(browser: &Browser) -> Page {
    let page = browser.new_page("about:blank").await.unwrap();
    page.execute(SetDeviceMetricsOverrideParams::new(360, 900, 2.0, true))
        .await
        .unwrap();
    page.execute(EnableParams::default()).await.unwrap();
    let options = VirtualAuthenticatorOptions::builder()
        .protocol(AuthenticatorProtocol::Ctap2)
        .transport(AuthenticatorTransport::Internal)
        .has_resident_key(true)
        .has_user_verification(true)
        .is_user_verified(true)
        .automatic_presence_simulation(true)
        .build()
        .unwrap();
    page.execute(AddVirtualAuthenticatorParams::new(options))
        .await
        .unwrap();
    page
}

/// The text of `#message` once the page has written one (at most 15 s).
async fn message(page: &Page) -> String {
    for _ in 0..150 {
        let text: String = page
            .evaluate("document.getElementById('message')?.textContent ?? ''")
            .await
            .unwrap()
            .into_value()
            .unwrap();
        if !text.is_empty() {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the page wrote no message: {}",
        page.content().await.unwrap()
    );
}

/// Waits until `selector` is on the page (at most 15 s).
async fn wait_for(page: &Page, selector: &str) {
    for _ in 0..150 {
        if page.find_element(selector).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no `{selector}` on the page: {}",
        page.content().await.unwrap()
    );
}

async fn screenshot(page: &Page, name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    page.save_screenshot(
        ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(true)
            .build(),
        &path,
    )
    .await
    .unwrap();
    path
}

/// The agent's HTTP calls, each with a fresh DPoP proof by its key.
struct Agent {
    key: SigningKey,
    http: reqwest::Client,
    url: String,
}

impl Agent {
    async fn call(&self, method: &str, path: &str, body: Option<J>) -> (u16, J) {
        let url = format!("{}{path}", self.url);
        let proof = warrant_core::dpop::create_proof(
            &self.key,
            method,
            &url,
            "",
            warrant_core::time::Timestamp::from_system_time(std::time::SystemTime::now()),
            &mut rand_core::OsRng,
        )
        .unwrap();
        let req = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url).json(&body.unwrap_or(json!({}))),
        };
        let res = req.header("DPoP", proof).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(J::Null))
    }

    async fn ask(&self, grant: J) -> J {
        let (status, made) = self
            .call(
                "POST",
                "/v1/requests",
                Some(json!({ "human": "alice", "reason": "refund order 7, charged twice", "grant": grant })),
            )
            .await;
        assert_eq!(status, 202, "{made}");
        made
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    warrant_browser_tests_ignored,
    ignore = "needs `chromium` on PATH (Debian package `chromium`)"
)]
async fn a_human_enrols_and_approves_narrowed_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (state, url) = serve(dir.path()).await;
    let key = warrant_test::new_key();
    state
        .store
        .add_agent(
            &AgentRow {
                id: key.public().jwk_thumbprint(),
                name: "refund bot".into(),
                public_key: key.public().to_string(),
                owner: Some("alice".into()),
                disabled: false,
                created_at: 1,
            },
            "test",
        )
        .await
        .unwrap();
    let agent = Agent {
        key,
        http: reqwest::Client::new(),
        url: url.clone(),
    };
    let browser = browser(dir.path()).await;
    let page = phone(&browser).await;
    // Alice opens her invitation and creates a passkey.
    let invite = state.invite("admin:test", "alice").await.unwrap();
    page.goto(invite.url.as_str()).await.unwrap();
    page.find_element("#enrol input[name=name]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("phone")
        .await
        .unwrap();
    page.find_element("#enrol button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let said = message(&page).await;
    assert!(said.contains("enrolled"), "{said}");
    // An agent asks; alice signs in on the approve page.
    let made = agent
        .ask(json!({ "audience": ["support-api"], "ttl": "10m", "allow": [
            { "resources": ["orders/*"], "actions": ["refund"], "when": [ { "attr": "amount", "le": 10000 } ] },
            { "resources": ["tickets/123/email_address"], "actions": ["read"] }
        ] }))
        .await;
    let approve = made["approve_url"].as_str().unwrap();
    assert!(approve.starts_with(&url), "{approve}");
    page.goto(approve).await.unwrap();
    page.find_element("#signin button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&page, "#decide").await;
    let content = page.content().await.unwrap();
    assert!(
        content.contains("refund bot") && content.contains("charged twice"),
        "{content}"
    );
    let shot = screenshot(&page, "approval.png").await;
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        std::fs::copy(
            &shot,
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/approval.png"),
        )
        .unwrap();
    }
    // She drops the e-mail address, lowers the limit to 20.00 and approves.
    page.find_element("input[name=keep][value='1']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let limit = page.find_element("input[data-op=le]").await.unwrap();
    limit.click().await.unwrap();
    page.evaluate("document.querySelector('input[data-op=le]').value = ''")
        .await
        .unwrap();
    limit.type_str("2000").await.unwrap();
    page.find_element("#decide button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let said = message(&page).await;
    assert!(
        said.starts_with("Approved: refund `orders/*` while `amount` is at most 2000"),
        "{said}"
    );
    screenshot(&page, "approved.png").await;
    // The agent collects a token that allows exactly that.
    let id = made["id"].as_str().unwrap();
    let (status, state_) = agent.call("GET", &format!("/v1/requests/{id}"), None).await;
    assert_eq!(status, 200, "{state_}");
    let token = state_["token"]["token"].as_str().unwrap();
    let keys = warrant_core::keys::KeySet::from_json(
        &reqwest::get(format!("{url}/.well-known/warrant-keys"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let verifier = warrant_verifier::Verifier::builder(keys)
        .audience("support-api")
        .build();
    let now = warrant_core::time::Timestamp::from_system_time(std::time::SystemTime::now());
    let check = |request: warrant_verifier::Request| {
        let api = "https://support.example/x";
        let proof = warrant_core::dpop::create_proof(
            &agent.key,
            "POST",
            api,
            token,
            now,
            &mut rand_core::OsRng,
        )
        .unwrap();
        verifier.verify(token, &request.with_proof(proof, "POST", api))
    };
    let refund = |amount: i64| {
        warrant_verifier::Request::new("orders/7", "refund", now).with_attr("amount", amount)
    };
    let allowed = check(refund(2000));
    assert_eq!(
        allowed
            .claims()
            .expect("allowed")
            .verification_method
            .as_deref(),
        Some("passkey")
    );
    assert_eq!(check(refund(2001)).denial().unwrap().block, Some(2));
    let email = warrant_verifier::Request::new("tickets/123/email_address", "read", now);
    assert_eq!(check(email).denial().unwrap().block, Some(2));
    // Another request, denied with one click (the session is still open).
    let made = agent
        .ask(json!({ "allow": [ { "resources": ["orders/8"], "actions": ["refund"] } ] }))
        .await;
    page.goto(made["approve_url"].as_str().unwrap())
        .await
        .unwrap();
    wait_for(&page, "#decide").await;
    page.find_element("#deny")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let said = message(&page).await;
    assert!(said.starts_with("Denied"), "{said}");
    let id = made["id"].as_str().unwrap();
    assert_eq!(
        agent
            .call("GET", &format!("/v1/requests/{id}"), None)
            .await
            .0,
        403
    );
    // Her console lists the agent's live token, her agent and her passkey.
    page.goto(format!("{url}/console")).await.unwrap();
    wait_for(&page, "form[action='/console/revoke']").await;
    let content = page.content().await.unwrap();
    let token_id = state_["token"]["token_id"].as_str().unwrap();
    assert!(
        content.contains(token_id) && content.contains("refund bot") && content.contains("phone"),
        "{content}"
    );
    screenshot(&page, "console.png").await;
    oauth_consent(&state, &url, &page).await;
}

/// A standard OAuth client's authorization, consented in the browser: alice signs out;
/// dana enrols a passkey, signs in on the consent page, approves, and the browser lands on
/// the client's redirect URI with a code that `/token` exchanges for a DPoP-bound token.
async fn oauth_consent(state: &warrant_issuer::State, url: &str, page: &Page) {
    use crate::oauth::{authorize_query, RESOURCE};
    page.find_element("form[action='/console/signout'] button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(page, "#signin").await;
    let invite = state.invite("admin:test", "dana").await.unwrap();
    page.goto(invite.url.as_str()).await.unwrap();
    page.find_element("#enrol button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(message(page).await.contains("enrolled"));
    // The client's redirect URI, listening on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:7777")
        .await
        .unwrap();
    let back = axum::Router::new().route(
        "/callback",
        axum::routing::get(|| async { "back at the client" }),
    );
    tokio::spawn(async move { axum::serve(listener, back).await });
    page.goto(format!("{url}/authorize?{}", authorize_query(&[])))
        .await
        .unwrap();
    page.find_element("#signin input[name=human]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("dana")
        .await
        .unwrap();
    page.find_element("#signin button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(page, "#decide button[type=submit]").await;
    let content = page.content().await.unwrap();
    assert!(
        content.contains("Test CLI") && content.contains(RESOURCE),
        "{content}"
    );
    screenshot(page, "consent.png").await;
    page.find_element("#decide button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut landed = String::new();
    for _ in 0..150 {
        landed = page.url().await.unwrap().unwrap_or_default();
        if landed.starts_with(crate::oauth::REDIRECT) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let q = crate::oauth::query_of(&landed);
    assert_eq!(
        (q["state"].as_str(), q["iss"].as_str()),
        ("xyz&1", url),
        "{landed}"
    );
    // The client exchanges the code, with a DPoP proof by its key.
    let client = warrant_test::new_key();
    let now = warrant_core::time::Timestamp::from_system_time(std::time::SystemTime::now());
    let proof = crate::oauth::token_proof_at(&client, &format!("{url}/token"), now);
    let form = crate::oauth::exchange_form(&q["code"]);
    let res = reqwest::Client::new()
        .post(format!("{url}/token"))
        .header("DPoP", proof)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let tokens: J = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
}
