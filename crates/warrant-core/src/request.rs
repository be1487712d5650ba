//! The request facts a verifier supplies: the only facts a token's checks may rely on.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use biscuit_auth::builder::Term;

use crate::time::Timestamp;
use crate::value::Value;

/// The facts of one request, as the verifier states them to the token (the verifier's
/// own `Request` is the HTTP-facing description it builds these from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// `resource("tickets/123/email_address")`
    pub resource: String,
    /// `action("read")`
    pub action: String,
    /// `time(…)`: when the request is made.
    pub time: Timestamp,
    /// `audience("support-api")`: the API checking the token.
    pub audience: Option<String>,
    /// `attr(name, value)`; a date attribute also yields `attr_age(name, seconds)`.
    pub attrs: BTreeMap<String, Value>,
}

impl RequestFacts {
    /// A request for `action` on `resource` at `time`, with no audience or attributes.
    pub fn new(resource: impl Into<String>, action: impl Into<String>, time: Timestamp) -> Self {
        Self {
            resource: resource.into(),
            action: action.into(),
            time,
            audience: None,
            attrs: BTreeMap::new(),
        }
    }

    /// The age in seconds of a date attribute at request time (`attr_age`).
    pub fn attr_age(&self, date: Timestamp) -> i64 {
        self.time.seconds_since(date)
    }

    /// The request facts as Datalog source with parameters.
    pub fn datalog(&self) -> (String, HashMap<String, Term>) {
        let mut src = String::new();
        let mut params = HashMap::new();
        let mut p = |t: Term| {
            let name = format!("q{}", params.len());
            params.insert(name.clone(), t);
            format!("{{{name}}}")
        };
        let _ = writeln!(src, "time({});", p(Term::Date(self.time.unix())));
        let _ = writeln!(src, "resource({});", p(Term::Str(self.resource.clone())));
        let _ = writeln!(src, "action({});", p(Term::Str(self.action.clone())));
        if let Some(a) = &self.audience {
            let _ = writeln!(src, "audience({});", p(Term::Str(a.clone())));
        }
        for (name, value) in &self.attrs {
            let n = Term::Str(name.clone());
            let _ = writeln!(src, "attr({}, {});", p(n.clone()), p(value.to_term()));
            if let Value::Date(d) = value {
                let age = Term::Integer(self.attr_age(*d));
                let _ = writeln!(src, "attr_age({}, {});", p(n), p(age));
            }
        }
        (src, params)
    }
}
