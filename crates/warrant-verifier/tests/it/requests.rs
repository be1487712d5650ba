//! A request means what it says: numbers that are not integers in i64, non-canonical
//! resources, malformed names and too many attributes are errors when the request is
//! built, never values that silently change a rule's meaning.

use serde_json::json;
use warrant_verifier::{DenialKind, Request, RequestError, Value, MAX_REQUEST_ATTRS};

use crate::common::{denied_as, mint_text, verifier, NOW};

/// Refunds on any order, but never from 10000 (100.00) up.
fn refund_token() -> String {
    mint_text(&json!({
        "allow": [{"resources": ["orders/*"], "actions": ["refund"]}],
        "deny": [{"resources": ["orders/*"], "actions": ["refund"],
                  "when": [{"attr": "amount", "ge": 10000}]}]
    }))
}

fn refund() -> Request {
    Request::try_new("orders/7", "refund", NOW).unwrap()
}

#[test]
fn the_deny_rule_holds_for_integers() {
    let v = verifier();
    let token = refund_token();
    assert!(v
        .verify(&token, &refund().try_with_attr("amount", 500).unwrap())
        .is_allowed());
    let json = refund()
        .try_with_attr_json("amount", &json!(20000))
        .unwrap();
    denied_as(&v.verify(&token, &json), DenialKind::DeniedByRule);
    let text = refund().try_with_attr_text("amount", "20000").unwrap();
    denied_as(&v.verify(&token, &text), DenialKind::DeniedByRule);
}

#[test]
fn a_number_that_is_not_an_i64_is_an_error_not_a_string() {
    for (json, shown) in [
        (json!(20000.0), "20000.0"),
        (json!(10000.5), "10000.5"),
        (json!(9_223_372_036_854_775_808_u64), "9223372036854775808"),
        (json!(u64::MAX), "18446744073709551615"),
    ] {
        let err = refund().try_with_attr_json("amount", &json).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, RequestError::AttrValue { name, .. } if name == "amount"),
            "{err:?}"
        );
        assert!(
            msg.starts_with(&format!(
                "attribute `amount`: `{shown}` is not an integer in i64"
            )),
            "{msg}"
        );
        assert!(msg.contains("minor units"), "{msg}");
    }
    assert!(refund()
        .try_with_attr_json("amount", &json!(1e300))
        .is_err());
    for text in [
        "20000.0",
        "1e5",
        "20_000",
        "20,000",
        "99999999999999999999",
        " 20000",
    ] {
        let err = refund().try_with_attr_text("amount", text).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "attribute `amount`: `{text}` is not an integer in i64"
            )),
            "{err}"
        );
    }
}

#[test]
fn a_quoted_number_stays_a_string() {
    let req = refund()
        .try_with_attr_json("amount", &json!("20000"))
        .unwrap();
    assert_eq!(req.attr("amount"), Some(&Value::String("20000".into())));
    let req = refund().try_with_attr("amount", "20000").unwrap();
    assert_eq!(req.attr("amount"), Some(&Value::String("20000".into())));
}

#[test]
fn non_canonical_resources_are_refused() {
    for resource in [
        "tickets/../x",
        "tickets/./1",
        "tickets//1",
        "/tickets/1",
        "tickets/1/",
        "",
    ] {
        let err = Request::try_new(resource, "read", NOW).unwrap_err();
        assert!(
            matches!(err, RequestError::Resource(_)),
            "{resource}: {err:?}"
        );
        if !resource.is_empty() {
            assert!(err.to_string().contains(&format!("`{resource}`")), "{err}");
        }
        assert!(Request::try_now(resource, "read").is_err());
    }
    let err = Request::try_new("tickets/\u{0}1", "read", NOW).unwrap_err();
    assert!(matches!(err, RequestError::Resource(_)), "{err:?}");
    let long = "x".repeat(513);
    assert!(Request::try_new(long, "read", NOW).is_err());
    let ok = Request::try_new("tickets/123/email_address", "read", NOW).unwrap();
    assert_eq!(ok.resource(), "tickets/123/email_address");
    assert_eq!(ok.action(), "read");
}

#[test]
fn malformed_actions_are_refused() {
    for action in ["", "re fund", "read,write", "*", "\"read\""] {
        let err = Request::try_new("orders/7", action, NOW).unwrap_err();
        assert!(matches!(err, RequestError::Action(_)), "{action}: {err:?}");
    }
}

#[test]
fn malformed_attribute_names_are_refused() {
    for name in ["", "ticket status", "a\"b", "amount\n"] {
        let err = refund().try_with_attr(name, 1).unwrap_err();
        assert!(
            matches!(err, RequestError::AttrName(_)),
            "{name:?}: {err:?}"
        );
        assert!(
            err.to_string().contains("is not an attribute name"),
            "{err}"
        );
    }
}

#[test]
fn at_most_64_attributes() {
    assert_eq!(MAX_REQUEST_ATTRS, 64);
    let mut req = refund();
    for i in 0..MAX_REQUEST_ATTRS {
        req = req.try_with_attr(format!("a{i}"), 1).unwrap();
    }
    // Setting one again replaces it.
    req = req.try_with_attr("a0", 2).unwrap();
    assert_eq!(req.attr("a0"), Some(&Value::Integer(2)));
    let err = req.clone().try_with_attr("one_more", 1).unwrap_err();
    assert_eq!(err, RequestError::TooManyAttrs);
    assert!(err.to_string().contains("at most 64 attributes"), "{err}");
    assert!(req.check().is_ok());
}

#[test]
fn check_finds_what_the_infallible_builders_let_through() {
    assert!(matches!(
        Request::new("tickets/../x", "read", NOW).check(),
        Err(RequestError::Resource(_))
    ));
    assert!(matches!(
        Request::new("tickets/1", "re ad", NOW).check(),
        Err(RequestError::Action(_))
    ));
    assert!(matches!(
        Request::new("tickets/1", "read", NOW)
            .with_attr("a b", 1)
            .check(),
        Err(RequestError::AttrName(_))
    ));
    let mut many = Request::new("tickets/1", "read", NOW);
    for i in 0..=MAX_REQUEST_ATTRS {
        many = many.with_attr(format!("a{i}"), 1);
    }
    assert_eq!(many.check(), Err(RequestError::TooManyAttrs));
    assert!(Request::new("tickets/1", "read", NOW)
        .with_attr("a", 1)
        .check()
        .is_ok());
}
