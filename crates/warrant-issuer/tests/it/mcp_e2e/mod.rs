//! End to end with a real MCP client: rmcp's OAuth client (`auth`) against an rmcp
//! streamable-HTTP server guarded by the verifier's layer, the issuer as its authorization
//! server, all on loopback.
//!
//! The client connects without a token and gets a 401; it discovers the issuer from the
//! challenge (RFC 9728 metadata, then RFC 8414), asks with PKCE for the scope the challenge
//! names, as the client of a metadata document served on loopback; dana signs in and
//! approves with her software passkey; the code is exchanged at `/token` with a DPoP proof.
//! With that token the client lists the tools, and calling `get_ticket` is refused with 403
//! `insufficient_scope` naming `tickets:read`: it steps up, dana approves, and the call
//! succeeds with the new token. `get_payment_card` is refused the same way naming
//! `cards:read`; dana's role cannot grant it, so the consent page offers only denying, and
//! the client hears `access_denied` and keeps what it had. Last, by hand, what the shims and
//! the mapping stand on: the token sent as rmcp sends tokens (`Bearer`) is refused, and so is
//! a call whose headers disagree with its body or that claims an older protocol version.
//!
//! What is not rmcp: rmcp speaks OAuth with bearer tokens only, so the client has two small
//! DPoP shims written from RFC 9449 alone (a generic Ed25519 key, no warrant code):
//! [`DpopTokenRequests`], an rmcp `OAuthHttpClient` adding a proof to its token requests,
//! and [`DpopHttpClient`], an rmcp `StreamableHttpClient` sending the token it is given as
//! `Authorization: DPoP` with a proof for each request. And the client's metadata URL is
//! `http://` on loopback, which rmcp's `with_client_metadata_url` refuses (https only): it
//! is given as the client id with `with_preregistered_client`, which is what rmcp's
//! metadata-document path does with it, and the issuer fetches the document (allowed for
//! loopback by `dangerous_allow_private_client_metadata`).
//!
//! How a tool call becomes a warrant request: rmcp's client sends SEP-2243 headers from
//! protocol version 2026-07-28 (`Mcp-Method`, `Mcp-Name`, and `Mcp-Param-*` for arguments
//! the tool's schema marks with `x-mcp-header`), and rmcp's server refuses a request whose
//! headers disagree with its body. So the layer maps the head alone: `tools/call` of
//! `get_ticket` with `Mcp-Param-Ticket: 42` reads `tickets/42`; the protocol's own requests
//! (`server/discover`, `tools/list`) are `connect` to `mcp`; anything else, and any request
//! of an older protocol version (whose headers rmcp's server does not check), is refused.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, Method};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use futures::stream::BoxStream;
use rand_core::RngCore as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientConfig, ClientJsonRpcMessage,
    ContentBlock, ErrorData, JsonObject, ListToolsResult, PaginatedRequestParams, ProtocolVersion,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer, RunningService};
use rmcp::transport::auth::{
    default_oauth_http_client, AuthClient, AuthorizationCallback, AuthorizationManager,
    AuthorizationMetadataSource, AuthorizationRequest, AuthorizationSession, OAuthHttpClient,
    OAuthHttpClientFuture, OAuthHttpRequest, WWWAuthenticateParams,
};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{
    StreamableHttpClientTransport, StreamableHttpServerConfig, StreamableHttpService,
};
use rmcp::{ClientLifecycleMode, ClientServiceExt as _, RoleClient, ServerHandler};
use serde_json::{json, Value as J};
use sha2::{Digest as _, Sha256};
use warrant_verifier::http::{matched_route, OriginLayer, ProtectedResourceMetadata, WarrantLayer};
use warrant_verifier::{Claims, KeySet, Request, ResourceUri, Verifier};
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator as _};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::passkeys::authenticator;

/// The protocol version whose requests carry the headers the layer maps.
const MCP_VERSION: ProtocolVersion = ProtocolVersion::V_2026_07_28;

mod dpop_client;

use dpop_client::{DpopHttpClient, DpopKey, DpopTokenRequests};

// ---------------------------------------------------------------------------------------
// The MCP server: two tools behind the layer.
// ---------------------------------------------------------------------------------------

/// A help desk: `get_ticket` reads `tickets/{ticket_id}`, `get_payment_card` reads
/// `customers/{customer_id}/payment_card`. Each argument is promoted to a header.
#[derive(Clone)]
struct HelpDesk;

fn tools() -> Vec<Tool> {
    let schema = |param: &str, header: &str| -> JsonObject {
        let s = json!({
            "type": "object",
            "properties": { param: { "type": "string", "x-mcp-header": header } },
            "required": [param],
        });
        s.as_object().unwrap().clone()
    };
    vec![
        Tool::new(
            "get_ticket",
            "Reads a support ticket",
            schema("ticket_id", "Ticket"),
        ),
        Tool::new(
            "get_payment_card",
            "Reads a customer's payment card",
            schema("customer_id", "Customer"),
        ),
    ]
}

impl ServerHandler for HelpDesk {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(&[ProtocolVersion::V_2026_07_28])
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().into_iter().find(|t| t.name == name)
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    /// Reached only through the layer: the verified claims are in the request's parts.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let human = context
            .extensions
            .get::<Parts>()
            .and_then(|p| p.extensions.get::<Claims>())
            .and_then(|c| c.human.clone())
            .ok_or_else(|| ErrorData::internal_error("no verified warrant", None))?;
        let arg = |name: &str| {
            request
                .arguments
                .as_ref()
                .and_then(|a| a.get(name))
                .and_then(J::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ErrorData::invalid_params(format!("`{name}` is required"), None))
        };
        let text = match request.name.as_ref() {
            "get_ticket" => format!(
                "ticket {}: printer on fire (read for {human})",
                arg("ticket_id")?
            ),
            "get_payment_card" => format!("customer {}: card ending 4242", arg("customer_id")?),
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool `{other}`"),
                    None,
                ))
            }
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

/// The warrant request of an MCP request head (see the module documentation).
fn map(parts: &Parts) -> Option<Request> {
    let header = |name: &str| parts.headers.get(name)?.to_str().ok();
    if parts.method != Method::POST
        || matched_route(parts) != Some("/mcp")
        || header("mcp-protocol-version")? != MCP_VERSION.as_str()
    {
        return None;
    }
    // An argument as a path segment: plain characters only (no `/`, no Base64 form).
    let plain = |v: &str| {
        (!v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .then(|| v.to_owned())
    };
    let (resource, action) = match header("mcp-method")? {
        "tools/call" => match header("mcp-name")? {
            "get_ticket" => (
                format!("tickets/{}", plain(header("mcp-param-ticket")?)?),
                "read",
            ),
            "get_payment_card" => (
                format!(
                    "customers/{}/payment_card",
                    plain(header("mcp-param-customer")?)?
                ),
                "read",
            ),
            _ => return None,
        },
        "server/discover" | "tools/list" => ("mcp".to_owned(), "connect"),
        _ => return None,
    };
    Request::try_now(resource, action).ok()
}

/// The scopes an MCP request needs, named in its challenges.
fn scopes(parts: &Parts) -> Vec<String> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let mut scopes = vec!["mcp".to_owned()];
    match (header("mcp-method"), header("mcp-name")) {
        (Some("tools/call"), Some("get_ticket")) => scopes.push("tickets:read".to_owned()),
        (Some("tools/call"), Some("get_payment_card")) => scopes.push("cards:read".to_owned()),
        _ => {}
    }
    scopes
}

/// Serves the help desk on `listener` as the resource `resource` of `issuer`.
async fn serve_mcp(listener: tokio::net::TcpListener, resource: &str, issuer: &str) {
    let keys = reqwest::get(format!("{issuer}/.well-known/warrant-keys"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys = KeySet::from_json(&keys).unwrap();
    let resource: ResourceUri = resource.parse().unwrap();
    let metadata = ProtectedResourceMetadata::new(resource.clone(), issuer)
        .scopes_supported(["mcp", "tickets:read", "cards:read"])
        .resource_name("Help desk");
    let verifier = Verifier::builder(keys).audience(resource.clone()).build();
    let layer = WarrantLayer::builder(verifier, map)
        .protected_resource(&metadata)
        .scopes_with(scopes)
        .build()
        .unwrap();
    let mcp: StreamableHttpService<HelpDesk, LocalSessionManager> = StreamableHttpService::new(
        || Ok(HelpDesk),
        Arc::default(),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_stateless_protocol_metadata_required(true),
    );
    let app = axum::Router::new()
        .route_service("/mcp", mcp)
        .route_layer(layer.clone())
        .layer(OriginLayer::new([resource.origin()]).unwrap())
        .merge(layer.metadata_router());
    tokio::spawn(async move { axum::serve(listener, app).await });
}

// ---------------------------------------------------------------------------------------
// The issuer, the client's metadata document, and dana's browser.
// ---------------------------------------------------------------------------------------

/// Serves an issuer on `listener` at `url` for the MCP server `resource`: dana's role may
/// connect and read tickets there, not payment cards.
async fn serve_issuer(
    listener: tokio::net::TcpListener,
    url: &str,
    resource: &str,
    dir: &std::path::Path,
) -> warrant_issuer::State {
    let config = format!(
        r#"public_url = "{url}"

[[roles]]
name = "help-desk"
max_ttl = "30m"
[roles.ceiling]
audience = ["{resource}"]
allow = [
  {{ resources = ["mcp"], actions = ["connect"] }},
  {{ resources = ["tickets/**"], actions = ["read"] }},
]

[[humans]]
id = "dana"
roles = ["help-desk"]

[oauth]
dangerous_allow_private_client_metadata = true

[oauth.scopes]
"mcp" = {{ allow = [ {{ resources = ["mcp"], actions = ["connect"] }} ] }}
"tickets:read" = {{ allow = [ {{ resources = ["tickets/**"], actions = ["read"] }} ] }}
"cards:read" = {{ allow = [ {{ resources = ["customers/*/payment_card"], actions = ["read"] }} ] }}
"#
    );
    let config = warrant_issuer::Config::from_toml(&config).unwrap();
    let database = format!("sqlite://{}", dir.join("warrant.db").display());
    let state = warrant_issuer::State::open(config, &database, None)
        .await
        .unwrap();
    let app = warrant_issuer::app(state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    state
}

/// Serves the client's metadata document on loopback: its URL (the client id) and the
/// redirect URI it names.
async fn serve_client_metadata() -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (client_id, redirect) = (format!("{base}/client.json"), format!("{base}/callback"));
    let doc = json!({
        "client_id": client_id,
        "client_name": "Help desk agent",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || async move { axum::Json(doc) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (client_id, redirect)
}

/// Dana's browser: the issuer's URL, a cookie jar of one, her passkey.
struct Browser {
    http: reqwest::Client,
    issuer: String,
    cookie: String,
    passkey: SoftPasskey,
}

impl Browser {
    async fn post(&self, path: &str, body: &J) -> (u16, J, reqwest::header::HeaderMap) {
        let mut req = self.http.post(format!("{}{path}", self.issuer));
        if !self.cookie.is_empty() {
            req = req.header(header::COOKIE, &self.cookie);
        }
        if !body.is_null() {
            req = req.json(body);
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(J::String(text)),
            headers,
        )
    }

    /// Dana enrols a passkey from her invitation and signs in.
    async fn dana(state: &warrant_issuer::State, issuer: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut me = Self {
            http,
            issuer: issuer.to_owned(),
            cookie: String::new(),
            passkey: authenticator(),
        };
        let origin = Url::parse(issuer).unwrap();
        let invite = state.invite("admin:test", "dana").await.unwrap();
        let secret = invite.url.rsplit('/').next().unwrap().to_owned();
        let (status, c, _) = me
            .post(&format!("/v1/invites/{secret}/challenge"), &J::Null)
            .await;
        assert_eq!(status, 200, "{c}");
        let created = me
            .passkey
            .do_registration(
                origin.clone(),
                serde_json::from_value(c["options"].clone()).unwrap(),
            )
            .unwrap();
        let body = json!({ "ceremony": c["ceremony"], "credential": created, "name": "laptop" });
        let (status, done, _) = me
            .post(&format!("/v1/invites/{secret}/passkey"), &body)
            .await;
        assert_eq!(status, 201, "{done}");
        let (status, c, _) = me
            .post("/web/signin/challenge", &json!({ "human": "dana" }))
            .await;
        assert_eq!(status, 200, "{c}");
        let answer = me
            .passkey
            .do_authentication(
                origin,
                serde_json::from_value(c["options"].clone()).unwrap(),
            )
            .unwrap();
        let body = json!({ "human": "dana", "ceremony": c["ceremony"], "credential": answer });
        let (status, _, headers) = me.post("/web/signin", &body).await;
        assert_eq!(status, 200);
        let set = headers[header::SET_COOKIE].to_str().unwrap();
        me.cookie = set.split_once(';').unwrap().0.to_owned();
        me
    }

    /// Dana opens the authorization URL the client gives her, reads the consent page and
    /// decides `verdict` with her passkey: the page and where her browser is sent back.
    async fn consent(&mut self, authorization_url: &str, verdict: &str) -> (String, String) {
        assert!(
            authorization_url.starts_with(&format!("{}/authorize?", self.issuer)),
            "{authorization_url}"
        );
        let get = |url: String| {
            self.http
                .get(url)
                .header(header::COOKIE, &self.cookie)
                .send()
        };
        let res = get(authorization_url.to_owned()).await.unwrap();
        assert_eq!(res.status().as_u16(), 303, "{}", res.text().await.unwrap());
        let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
        let id = location.strip_prefix("/consent/").unwrap().to_owned();
        let page = get(format!("{}{location}", self.issuer))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let body = json!({ "human": "dana", "verdict": verdict, "remember": false });
        let (status, c, _) = self
            .post(&format!("/oauth/consent/{id}/passkey"), &body)
            .await;
        assert_eq!(status, 200, "{c}");
        let answer = self
            .passkey
            .do_authentication(
                Url::parse(&self.issuer).unwrap(),
                serde_json::from_value(c["options"].clone()).unwrap(),
            )
            .unwrap();
        let body = json!({
            "human": "dana", "remember": false,
            "verification": { "method": "passkey", "ceremony": c["ceremony"], "credential": answer },
        });
        let (status, d, _) = self
            .post(&format!("/oauth/consent/{id}/{verdict}"), &body)
            .await;
        assert_eq!(status, 200, "{d}");
        (page, d["redirect_to"].as_str().unwrap().to_owned())
    }
}

// ---------------------------------------------------------------------------------------
// The test.
// ---------------------------------------------------------------------------------------

type Client = RunningService<RoleClient, ClientConfig>;

fn stateless() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![MCP_VERSION],
    }
}

fn call(tool: &str, param: &str, value: &str) -> CallToolRequestParams {
    let mut args = JsonObject::new();
    args.insert(param.to_owned(), json!(value));
    CallToolRequestParams::new(tool.to_owned()).with_arguments(args)
}

/// The text of a tool call's answer.
async fn text_of(client: &Client, tool: &str, param: &str, value: &str) -> String {
    let result = client.call_tool(call(tool, param, value)).await.unwrap();
    let v = serde_json::to_value(&result).unwrap();
    assert_ne!(v["isError"], json!(true), "{v}");
    v["content"][0]["text"].as_str().unwrap().to_owned()
}

/// The challenge of a tool call refused at the HTTP layer, parsed by rmcp.
async fn refused(
    client: &Client,
    tool: &str,
    param: &str,
    value: &str,
    mcp: &Url,
) -> WWWAuthenticateParams {
    let error = client
        .call_tool(call(tool, param, value))
        .await
        .unwrap_err();
    let challenge = error
        .auth_challenge()
        .unwrap_or_else(|| panic!("{tool}: no challenge: {error:?}"));
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    WWWAuthenticateParams::parse(challenge, mcp)
}

/// `tools/call` of `get_ticket` by hand, the header naming one ticket and the body another
/// (`tickets`), with `token` sent as DPoP with a proof by `key`, or as a bearer token without
/// one: the status and the body.
async fn raw_call(
    mcp_url: &str,
    key: Option<&DpopKey>,
    token: &str,
    version: &str,
    (in_header, in_body): (&str, &str),
) -> (u16, String) {
    let body = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {
            "name": "get_ticket", "arguments": { "ticket_id": in_body },
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    });
    let mut req = reqwest::Client::new()
        .post(mcp_url)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header("mcp-protocol-version", version)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "get_ticket")
        .header("mcp-param-ticket", in_header)
        .json(&body);
    req = match key {
        Some(k) => req
            .header(header::AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", k.proof("POST", mcp_url, Some(token))),
        None => req.bearer_auth(token),
    };
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn an_rmcp_client_authorizes_with_dpop_calls_a_tool_and_steps_up() {
    let dir = tempfile::tempdir().unwrap();
    let issuer_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // Passkeys need a host name: the issuer is `localhost`; the MCP server is 127.0.0.1.
    let issuer = format!(
        "http://localhost:{}",
        issuer_listener.local_addr().unwrap().port()
    );
    let mcp_url = format!("http://{}/mcp", mcp_listener.local_addr().unwrap());
    let mcp = Url::parse(&mcp_url).unwrap();
    let state = serve_issuer(issuer_listener, &issuer, &mcp_url, dir.path()).await;
    serve_mcp(mcp_listener, &mcp_url, &issuer).await;
    let (client_id, redirect) = serve_client_metadata().await;
    let mut dana = Browser::dana(&state, &issuer).await;

    // 1. Without a token: 401, both schemes offered, naming the metadata and the scope.
    let error = ClientConfig::default()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(mcp_url.clone()),
            stateless(),
        )
        .await
        .map(|_| ())
        .unwrap_err();
    let challenge = error
        .auth_challenge()
        .unwrap_or_else(|| panic!("{error:?}"))
        .to_owned();
    let params = WWWAuthenticateParams::parse(&challenge, &mcp);
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("DPoP "),
        "{challenge}"
    );
    assert_eq!(
        params.resource_metadata_url.as_ref().map(Url::as_str),
        Some(
            format!(
                "{}/.well-known/oauth-protected-resource/mcp",
                mcp.origin().ascii_serialization()
            )
            .as_str()
        )
    );
    assert_eq!(params.scope.as_deref(), Some("mcp"));

    // 2. Discovery from the challenge: the resource's metadata names the issuer, whose
    //    RFC 8414 metadata rmcp checks (issuer, PKCE S256).
    let key = DpopKey::generate();
    let token_requests = Arc::new(Mutex::new(Vec::new()));
    let oauth_http = DpopTokenRequests {
        inner: default_oauth_http_client().unwrap(),
        key: key.clone(),
        sent: Arc::clone(&token_requests),
    };
    let mut manager =
        AuthorizationManager::new_with_oauth_http_client(&mcp_url, Arc::new(oauth_http))
            .await
            .unwrap();
    let resolution = manager
        .resolve_metadata_from_challenge(Some(&challenge))
        .await
        .unwrap();
    assert_eq!(
        resolution.source,
        AuthorizationMetadataSource::ProtectedResourceMetadata
    );
    assert_eq!(resolution.metadata.issuer.as_deref(), Some(issuer.as_str()));
    assert_eq!(
        resolution.metadata.token_endpoint,
        format!("{issuer}/token")
    );
    manager.set_metadata(resolution.metadata);

    // 3. The authorization request: PKCE, the resource, the challenge's scope, the client's
    //    metadata URL as its id.
    let request = AuthorizationRequest::new(&redirect)
        .with_preregistered_client(&client_id)
        .with_initial_scope_selection();
    let session = AuthorizationSession::new(manager, request)
        .await
        .map_err(|(_, e)| e)
        .unwrap();
    let url = Url::parse(session.get_authorization_url()).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(
        (
            q["client_id"].as_str(),
            q["redirect_uri"].as_str(),
            q["resource"].as_str(),
            q["scope"].as_str(),
            q["code_challenge_method"].as_str()
        ),
        (
            client_id.as_str(),
            redirect.as_str(),
            mcp_url.as_str(),
            "mcp",
            "S256"
        ),
    );

    // 4. Dana approves on the consent page, which names the client, its metadata URL and
    //    the resource; her browser goes back with code, state and iss, and rmcp exchanges
    //    the code (checking `iss`) with the shim's proof.
    let (page, back) = dana
        .consent(session.get_authorization_url(), "approve")
        .await;
    for shown in ["Help desk agent", client_id.as_str(), mcp_url.as_str()] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(back.starts_with(&format!("{redirect}?")), "{back}");
    let tokens = session.handle_callback_url(&back).await.unwrap();
    let tokens = serde_json::to_value(&tokens).unwrap();
    // (rmcp's oauth2 crate keeps the token type in lower case.)
    assert_eq!(tokens["token_type"], "dpop", "{tokens}");
    assert_eq!(tokens["scope"], "mcp", "{tokens}");
    let first = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(*token_requests.lock().unwrap(), [format!("{issuer}/token")]);

    // 5. Connected with the token, sent as DPoP: the tools are listed.
    let auth = AuthClient::new(DpopHttpClient::new(key.clone()), session.auth_manager);
    let manager = Arc::clone(&auth.auth_manager);
    let transport = StreamableHttpClientTransport::with_client(
        auth,
        StreamableHttpClientTransportConfig::with_uri(mcp_url.clone()),
    );
    let client: Client = ClientConfig::default()
        .serve_with_lifecycle(transport, stateless())
        .await
        .unwrap();
    let listed = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["get_ticket", "get_payment_card"]);

    // 6. A ticket is outside the grant: 403 `insufficient_scope`, naming all the scopes
    //    the call needs. The client steps up for them; dana approves.
    let params = refused(&client, "get_ticket", "ticket_id", "42", &mcp).await;
    assert!(params.is_insufficient_scope(), "{params:?}");
    assert_eq!(params.scope.as_deref(), Some("mcp tickets:read"));
    assert!(params.resource_metadata_url.is_some());
    let upgrade = manager
        .lock()
        .await
        .request_scope_upgrade(params.scope.as_deref().unwrap())
        .await
        .unwrap();
    let scope: HashMap<String, String> = Url::parse(&upgrade)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(scope["scope"], "mcp tickets:read");
    let (_, back) = dana.consent(&upgrade, "approve").await;
    let cb = AuthorizationCallback::from_redirect_url(&back).unwrap();
    manager
        .lock()
        .await
        .exchange_code_for_token_with_issuer(&cb.code, &cb.csrf_token, cb.issuer.as_deref())
        .await
        .unwrap();
    let second = manager.lock().await.get_access_token().await.unwrap();
    assert_ne!(second, first);
    assert_eq!(token_requests.lock().unwrap().len(), 2);
    assert_eq!(
        text_of(&client, "get_ticket", "ticket_id", "42").await,
        "ticket 42: printer on fire (read for dana)"
    );

    // 7. A payment card is outside it too. The client steps up for `cards:read`, but no
    //    role of dana's can grant it: the page offers only denying, and she denies.
    let params = refused(&client, "get_payment_card", "customer_id", "7", &mcp).await;
    assert!(params.is_insufficient_scope(), "{params:?}");
    assert_eq!(params.scope.as_deref(), Some("mcp cards:read"));
    let upgrade = manager
        .lock()
        .await
        .request_scope_upgrade(params.scope.as_deref().unwrap())
        .await
        .unwrap();
    let asked: HashMap<String, String> = Url::parse(&upgrade)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(asked["scope"], "mcp tickets:read cards:read");
    let (page, back) = dana.consent(&upgrade, "deny").await;
    assert!(page.contains("You cannot approve this"), "{page}");
    let answer: HashMap<String, String> = Url::parse(&back)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        (
            answer["error"].as_str(),
            answer["state"].as_str(),
            answer["iss"].as_str()
        ),
        ("access_denied", asked["state"].as_str(), issuer.as_str()),
    );
    // rmcp has no code to exchange; the client keeps the token it had, which still reads
    // tickets and still may not read cards.
    assert!(AuthorizationCallback::from_redirect_url(&back).is_err());
    assert_eq!(token_requests.lock().unwrap().len(), 2);
    assert_eq!(
        manager.lock().await.get_access_token().await.unwrap(),
        second
    );
    assert!(text_of(&client, "get_ticket", "ticket_id", "43")
        .await
        .starts_with("ticket 43"));
    let params = refused(&client, "get_payment_card", "customer_id", "7", &mcp).await;
    assert!(params.is_insufficient_scope(), "{params:?}");

    // 8. What the shims and the mapping stand on, by hand: the token is bound to the key,
    //    so rmcp's plain `Bearer` is refused; rmcp's server refuses a call whose headers
    //    (what the layer decided on) disagree with its body; the layer refuses a call of an
    //    older protocol version, whose headers rmcp's server would not check.
    let bearer = raw_call(&mcp_url, None, &second, MCP_VERSION.as_str(), ("42", "42")).await;
    assert_eq!(bearer.0, 401, "{bearer:?}");
    let tampered = raw_call(
        &mcp_url,
        Some(&key),
        &second,
        MCP_VERSION.as_str(),
        ("42", "99"),
    )
    .await;
    assert_eq!(tampered.0, 400, "{tampered:?}");
    assert!(
        tampered.1.contains("-32020") && tampered.1.contains("Mcp-Param-Ticket"),
        "{tampered:?}"
    );
    let older = raw_call(&mcp_url, Some(&key), &second, "2025-11-25", ("42", "42")).await;
    assert_eq!(older.0, 403, "{older:?}");
    assert!(older.1.contains("not mapped"), "{older:?}");
    let fair = raw_call(
        &mcp_url,
        Some(&key),
        &second,
        MCP_VERSION.as_str(),
        ("42", "42"),
    )
    .await;
    assert_eq!(fair.0, 200, "{fair:?}");
    assert!(fair.1.contains("ticket 42"), "{fair:?}");

    // The issuer's audit: two approvals and two tokens, one denial.
    let admin = state.mint_admin_token().await.unwrap();
    let export = reqwest::Client::new()
        .get(format!("{issuer}/v1/audit"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let audit = warrant_issuer::audit::parse_export(&export).unwrap();
    let count = |kind: &str| audit.iter().filter(|e| e.kind == kind).count();
    assert_eq!(
        (
            count("oauth_approved"),
            count("mint"),
            count("oauth_denied")
        ),
        (2, 2, 1)
    );
    client.cancel().await.unwrap();
}
