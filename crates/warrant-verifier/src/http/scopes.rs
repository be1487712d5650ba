//! The OAuth scopes a route needs, as the layer names them in its challenges (`scope="…"`):
//! hints for the client's step-up, never what is checked.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::Method;

use super::mapper::matched_route;

/// A scope that cannot be named in a challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an OAuth scope: use printable ASCII without spaces, `\"` or `\\` (RFC 6749 section 3.3)")]
pub struct ScopeError(pub String);

/// Whether `s` is an RFC 6749 `scope-token`: `1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// The scope tokens of `scopes` that are scope tokens, each once, in order, joined by
/// spaces; `None` when none is.
pub(crate) fn join<I, T>(scopes: I) -> Option<Arc<str>>
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut joined = String::new();
    for scope in scopes {
        let scope = scope.as_ref();
        if is_scope_token(scope) && !joined.split(' ').any(|s| s == scope) {
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(scope);
        }
    }
    (!joined.is_empty()).then(|| Arc::from(joined))
}

/// Scopes checked when the layer is built: every one a scope token, or the first that is
/// not.
fn checked(scopes: Vec<String>) -> Result<Vec<String>, ScopeError> {
    match scopes.iter().find(|s| !is_scope_token(s)) {
        Some(bad) => Err(ScopeError(bad.escape_debug().to_string())),
        None => Ok(scopes),
    }
}

/// A function from a request to the scopes it needs.
pub(crate) type ScopeFn = Arc<dyn Fn(&Parts) -> Vec<String> + Send + Sync>;

/// What a layer's builder was told about scopes.
#[derive(Clone, Default)]
pub(crate) struct ScopeConfig {
    pub(crate) every_route: Vec<String>,
    pub(crate) routes: Vec<(Method, String, Vec<String>)>,
    pub(crate) computed: Option<ScopeFn>,
}

/// The scopes each request needs: computed by a function if one was given, else those
/// of its method and route template, else those of every route.
#[derive(Clone, Default)]
pub(crate) struct ScopeTable {
    every_route: Option<Arc<str>>,
    routes: Vec<(Method, String, Arc<str>)>,
    computed: Option<ScopeFn>,
    /// Every scope declared (not computed), for `scopes_supported`.
    declared: Vec<String>,
}

impl ScopeTable {
    /// The table, or the first scope that is not a scope token.
    pub(crate) fn new(config: ScopeConfig) -> Result<Self, ScopeError> {
        let every_route = checked(config.every_route)?;
        let mut declared = every_route.clone();
        let mut routes = Vec::with_capacity(config.routes.len());
        for (method, route, scopes) in config.routes {
            let scopes = checked(scopes)?;
            declared.extend(scopes.iter().cloned());
            if let Some(joined) = join(&scopes) {
                routes.push((method, route, joined));
            }
        }
        let mut seen = std::collections::HashSet::new();
        declared.retain(|s| seen.insert(s.clone()));
        Ok(Self {
            every_route: join(&every_route),
            routes,
            computed: config.computed,
            declared,
        })
    }

    /// The scopes `parts` needs, joined by spaces, or `None`.
    pub(crate) fn for_request(&self, parts: &Parts) -> Option<Arc<str>> {
        if let Some(f) = &self.computed {
            return join(f(parts));
        }
        let route = matched_route(parts);
        self.routes
            .iter()
            .find(|(method, template, _)| *method == parts.method && route == Some(template))
            .map(|(_, _, scopes)| Arc::clone(scopes))
            .or_else(|| self.every_route.clone())
    }

    /// Every scope declared for a route or every route, each once.
    pub(crate) fn declared(&self) -> &[String] {
        &self.declared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_are_printable_ascii_without_space_quote_or_backslash() {
        for ok in ["read", "tickets:read", "https://api.example/x", "a!#[]~"] {
            assert!(is_scope_token(ok), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "a\\b", "caf\u{e9}", "a\r\nb", "a\tb"] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
        assert_eq!(
            join(["a", "b c", "a", "", "b", "\"x\""]).as_deref(),
            Some("a b")
        );
        assert_eq!(join(["bad scope"]), None);
        let e = ScopeTable::new(ScopeConfig {
            every_route: vec!["ok".into(), "not\nok".into()],
            ..ScopeConfig::default()
        })
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "`not\\nok` is not an OAuth scope: use printable ASCII without spaces, `\"` or `\\` (RFC 6749 section 3.3)"
        );
    }
}
