//! The client's DPoP shims: RFC 9449 with a generic Ed25519 key, for rmcp's OAuth client
//! (token requests) and its streamable HTTP client (requests with the token).

use super::*;

/// The agent's DPoP key.
#[derive(Clone)]
pub(super) struct DpopKey(Arc<ed25519_dalek::SigningKey>);

impl DpopKey {
    pub(super) fn generate() -> Self {
        Self(Arc::new(ed25519_dalek::SigningKey::generate(
            &mut rand_core::OsRng,
        )))
    }

    /// An RFC 9449 proof for `method url`, with `ath` when it goes with a token.
    pub(super) fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        let mut htu = Url::parse(url).unwrap();
        htu.set_query(None);
        htu.set_fragment(None);
        let x = B64.encode(self.0.verifying_key().as_bytes());
        let head = json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": x } });
        let mut jti = [0u8; 16];
        rand_core::OsRng.fill_bytes(&mut jti);
        let iat = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims =
            json!({ "htm": method, "htu": htu.as_str(), "iat": iat, "jti": B64.encode(jti) });
        if let Some(t) = token {
            claims["ath"] = json!(B64.encode(Sha256::digest(t.as_bytes())));
        }
        let input = format!(
            "{}.{}",
            B64.encode(head.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self.0.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }
}

/// rmcp's OAuth HTTP client, adding a DPoP proof (no `ath`) to each token request: every
/// form-encoded `POST` the OAuth state machine makes. It records their URLs.
pub(super) struct DpopTokenRequests<C> {
    pub(super) inner: C,
    pub(super) key: DpopKey,
    pub(super) sent: Arc<Mutex<Vec<String>>>,
}

impl<C: OAuthHttpClient> OAuthHttpClient for DpopTokenRequests<C> {
    fn execute(&self, mut request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        let r = &mut request.request;
        let form = r.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
            v.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
        if *r.method() == Method::POST && form {
            let url = r.uri().to_string();
            let proof = self.key.proof("POST", &url, None);
            r.headers_mut()
                .insert("dpop", HeaderValue::from_str(&proof).unwrap());
            self.sent.lock().unwrap().push(url);
        }
        self.inner.execute(request)
    }
}

/// rmcp's streamable HTTP client (reqwest, no redirects followed: a proof names one URL)
/// sending the access token rmcp gives it as `Authorization: DPoP`, with a fresh proof
/// (`ath` included) for each request.
#[derive(Clone)]
pub(super) struct DpopHttpClient {
    http: reqwest::Client,
    key: DpopKey,
}

type Headers = HashMap<HeaderName, HeaderValue>;

impl DpopHttpClient {
    pub(super) fn new(key: DpopKey) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { http, key }
    }

    /// `headers` with the token and its proof for `method uri`.
    fn bind(
        &self,
        method: &str,
        uri: &str,
        token: Option<String>,
        mut headers: Headers,
    ) -> Headers {
        if let Some(token) = token {
            let proof = self.key.proof(method, uri, Some(&token));
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("DPoP {token}")).unwrap(),
            );
            headers.insert(
                HeaderName::from_static("dpop"),
                HeaderValue::from_str(&proof).unwrap(),
            );
        }
        headers
    }
}

type Events = BoxStream<'static, Result<sse_stream::Sse, SseError>>;
type HttpResult<T> = Result<T, StreamableHttpError<reqwest::Error>>;

impl StreamableHttpClient for DpopHttpClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        token: Option<String>,
        headers: Headers,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let headers = self.bind("POST", &uri, token, headers);
        self.http
            .post_message(uri, message, session_id, None, headers)
            .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        token: Option<String>,
        headers: Headers,
        max_sse_event_size: usize,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let headers = self.bind("POST", &uri, token, headers);
        self.http
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id,
                None,
                headers,
                max_sse_event_size,
            )
            .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        token: Option<String>,
        headers: Headers,
        limits: StreamableHttpResponseLimits,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let headers = self.bind("POST", &uri, token, headers);
        self.http
            .post_message_with_response_limits(uri, message, session_id, None, headers, limits)
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        token: Option<String>,
        headers: Headers,
    ) -> HttpResult<()> {
        let headers = self.bind("DELETE", &uri, token, headers);
        self.http
            .delete_session(uri, session_id, None, headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        token: Option<String>,
        headers: Headers,
    ) -> HttpResult<Events> {
        let headers = self.bind("GET", &uri, token, headers);
        self.http
            .get_stream(uri, session_id, last_event_id, None, headers)
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        token: Option<String>,
        headers: Headers,
        max_sse_event_size: usize,
    ) -> HttpResult<Events> {
        let headers = self.bind("GET", &uri, token, headers);
        self.http
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                None,
                headers,
                max_sse_event_size,
            )
            .await
    }
}
