//! The request a token is checked against.

use warrant_core::time::Timestamp;
use warrant_core::value::Value;

/// One request, described for the token: resource, action, time, audience, attributes.
///
/// ```
/// use warrant_verifier::{Request, Timestamp};
/// let req = Request::new("orders/7", "refund", Timestamp::from_unix(1_796_032_800))
///     .with_attr("amount", 4999)
///     .with_attr("reason", "duplicate charge");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request(
    pub(crate) warrant_core::request::Request,
    pub(crate) Option<ProofInput>,
);

/// A DPoP proof and the HTTP request it must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProofInput {
    pub(crate) proof: String,
    pub(crate) method: String,
    pub(crate) url: String,
}

impl Request {
    /// `action` on `resource` at `time`.
    pub fn new(resource: impl Into<String>, action: impl Into<String>, time: Timestamp) -> Self {
        Self(
            warrant_core::request::Request::new(resource, action, time),
            None,
        )
    }

    /// `action` on `resource`, now.
    pub fn now(resource: impl Into<String>, action: impl Into<String>) -> Self {
        Self::new(
            resource,
            action,
            Timestamp::from_system_time(std::time::SystemTime::now()),
        )
    }

    /// Adds a typed attribute (`amount` = 4999, `ticket.status` = "open"). Integers are
    /// `i64`: money in minor units.
    #[must_use]
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.attrs.insert(name.into(), value.into());
        self
    }

    /// Sets the audience the request is checked under (overrides the verifier's).
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.0.audience = Some(audience.into());
        self
    }

    /// Adds the DPoP proof sent with the request (the `DPoP` header), and the HTTP method
    /// and URL the request was made with, which the proof must name.
    #[must_use]
    pub fn with_proof(
        mut self,
        proof: impl Into<String>,
        method: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        self.1 = Some(ProofInput {
            proof: proof.into(),
            method: method.into(),
            url: url.into(),
        });
        self
    }

    /// The request's time.
    pub fn time(&self) -> Timestamp {
        self.0.time
    }

    /// The resource requested.
    pub fn resource(&self) -> &str {
        &self.0.resource
    }

    /// The action requested.
    pub fn action(&self) -> &str {
        &self.0.action
    }
}
