//! The request a token is checked against.

use warrant_core::pattern::{check_resource, Action, ActionError, ResourceError};
use warrant_core::time::Timestamp;
use warrant_core::value::{AttrName, AttrNameError, Value, ValueError};

/// The most attributes one request may carry (the evaluation budget assumes no more).
pub use warrant_core::budget::MAX_REQUEST_ATTRS;

/// Why a request could not be built: its resource, action or an attribute would not
/// mean what it says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The resource is not a canonical resource name (`tickets/../x`, `a//b`, empty).
    #[error("{0}")]
    Resource(#[from] ResourceError),
    /// The action is not an action name.
    #[error("{0}")]
    Action(#[from] ActionError),
    /// An attribute name is not an attribute name.
    #[error("{0}")]
    AttrName(#[from] AttrNameError),
    /// An attribute value could not be read (a number that is not an integer in `i64`).
    #[error("attribute `{name}`: {source}")]
    AttrValue {
        /// The attribute.
        name: String,
        /// Why its value was refused.
        source: ValueError,
    },
    /// More than [`MAX_REQUEST_ATTRS`] attributes.
    #[error("a request carries at most {MAX_REQUEST_ATTRS} attributes: send only the attributes the API's rules test")]
    TooManyAttrs,
}

/// One request, described for the token: resource, action, time, audience, attributes.
///
/// Build it with [`Request::try_new`] and [`Request::try_with_attr`] to learn at once
/// that a resource, an action or an attribute is malformed:
///
/// ```
/// use warrant_verifier::{Request, RequestError, Timestamp};
/// let at = Timestamp::from_unix(1_796_032_800);
/// let req = Request::try_new("orders/7", "refund", at)?
///     .try_with_attr("amount", 4999)?
///     .try_with_attr("reason", "duplicate charge")?;
/// assert_eq!(req.resource(), "orders/7");
///
/// // Resources are logical names: no `.`, `..` or empty segments.
/// assert!(matches!(Request::try_new("orders/../admin", "refund", at), Err(RequestError::Resource(_))));
/// // A number that is not an integer is an error, never a string.
/// let err = Request::try_new("orders/7", "refund", at)?
///     .try_with_attr_json("amount", &serde_json::json!(20000.0))
///     .unwrap_err();
/// assert!(err.to_string().starts_with("attribute `amount`: `20000.0` is not an integer in i64"));
/// # Ok::<(), RequestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request(
    pub(crate) warrant_core::request::RequestFacts,
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
    /// `action` on `resource` at `time`, unchecked: a resource that is not canonical
    /// (`tickets/../x`, `a//b`) or an action that is not an action name is denied at
    /// verification. Prefer [`Request::try_new`], which says so at once.
    pub fn new(resource: impl Into<String>, action: impl Into<String>, time: Timestamp) -> Self {
        Self(
            warrant_core::request::RequestFacts::new(resource, action, time),
            None,
        )
    }

    /// `action` on `resource`, now, unchecked like [`Request::new`].
    pub fn now(resource: impl Into<String>, action: impl Into<String>) -> Self {
        Self::new(resource, action, system_now())
    }

    /// `action` on `resource` at `time`, or why the resource is not a canonical
    /// resource name (see [`check_resource`]) or the action not an action name.
    pub fn try_new(
        resource: impl Into<String>,
        action: impl Into<String>,
        time: Timestamp,
    ) -> Result<Self, RequestError> {
        let resource = resource.into();
        check_resource(&resource)?;
        let action = action.into();
        action.parse::<Action>()?;
        Ok(Self::new(resource, action, time))
    }

    /// `action` on `resource`, now, checked like [`Request::try_new`].
    pub fn try_now(
        resource: impl Into<String>,
        action: impl Into<String>,
    ) -> Result<Self, RequestError> {
        Self::try_new(resource, action, system_now())
    }

    /// Checks a request however it was built: the resource, the action, every attribute
    /// name and the number of attributes, as [`Request::try_new`] and
    /// [`Request::try_with_attr`] do.
    pub fn check(&self) -> Result<(), RequestError> {
        check_resource(&self.0.resource)?;
        Action::check(&self.0.action)?;
        if self.0.attrs.len() > MAX_REQUEST_ATTRS {
            return Err(RequestError::TooManyAttrs);
        }
        for name in self.0.attrs.keys() {
            AttrName::check(name)?;
        }
        Ok(())
    }

    /// Adds a typed attribute (`amount` = 4999, `ticket.status` = "open"), unchecked: a
    /// malformed name, or more than [`MAX_REQUEST_ATTRS`] attributes, is denied at
    /// verification. Prefer [`Request::try_with_attr`]. Integers are `i64`: money in
    /// minor units. A `&str` or `String` is always a string, even `"20000"`. There is no
    /// floating point, so a float does not compile:
    ///
    /// ```compile_fail
    /// # use warrant_verifier::{Request, Timestamp};
    /// let _ = Request::new("orders/7", "refund", Timestamp::from_unix(0)).with_attr("amount", 20000.0);
    /// ```
    #[must_use]
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.attrs.insert(name.into(), value.into());
        self
    }

    /// Adds a typed attribute, or says why its name is not an attribute name (letters,
    /// digits, `_`, `-`, `.`) or that the request would carry more than
    /// [`MAX_REQUEST_ATTRS`] attributes. Setting a name again replaces its value.
    pub fn try_with_attr(
        mut self,
        name: impl Into<String>,
        value: impl Into<Value>,
    ) -> Result<Self, RequestError> {
        let name: AttrName = name.into().parse()?;
        let name = name.as_str().to_owned();
        if !self.0.attrs.contains_key(&name) && self.0.attrs.len() >= MAX_REQUEST_ATTRS {
            return Err(RequestError::TooManyAttrs);
        }
        self.0.attrs.insert(name, value.into());
        Ok(self)
    }

    /// Adds an attribute from JSON, as [`Value::from_json`] reads it: a number must be an
    /// integer in `i64` (`20000.0`, `1e4` and larger numbers are errors, never strings),
    /// a quoted `"20000"` stays a string, `{"date": "…"}` is a date.
    pub fn try_with_attr_json(
        self,
        name: impl Into<String>,
        value: &serde_json::Value,
    ) -> Result<Self, RequestError> {
        let name = name.into();
        match Value::from_json(value) {
            Ok(v) => self.try_with_attr(name, v),
            Err(source) => Err(RequestError::AttrValue { name, source }),
        }
    }

    /// Adds an attribute from text typed the way a command line is ([`Value::infer`]):
    /// `4999` is an integer, `true`/`false` bools, an RFC 3339 date a date, other text a
    /// string; text written as a number that is not an integer in `i64` (`20000.0`,
    /// `20,000`) is an error, never a string.
    pub fn try_with_attr_text(
        self,
        name: impl Into<String>,
        text: &str,
    ) -> Result<Self, RequestError> {
        let name = name.into();
        match Value::infer(text) {
            Ok(v) => self.try_with_attr(name, v),
            Err(source) => Err(RequestError::AttrValue { name, source }),
        }
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

    /// The value of attribute `name`, if set.
    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.0.attrs.get(name)
    }
}

fn system_now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Timestamp = warrant_test::NOW;

    #[test]
    fn errors_are_one_lowercase_line_naming_the_value() {
        let req = || Request::try_new("orders/7", "refund", AT).unwrap();
        let errors = [
            Request::try_new("orders/../7", "refund", AT).unwrap_err(),
            Request::try_new("orders/7", "re fund", AT).unwrap_err(),
            req().try_with_attr("a b", 1).unwrap_err(),
            req()
                .try_with_attr_json("amount", &serde_json::json!(20000.0))
                .unwrap_err(),
            req().try_with_attr_text("amount", "1e4").unwrap_err(),
        ];
        let named = ["`orders/../7`", "`re fund`", "`a b`", "`20000.0`", "`1e4`"];
        for (e, value) in errors.iter().zip(named) {
            let m = e.to_string();
            assert!(!m.contains('\n'), "{m}");
            assert!(m.chars().next().is_some_and(|c| !c.is_uppercase()), "{m}");
            assert!(m.contains(value), "{m}");
        }
    }
}
