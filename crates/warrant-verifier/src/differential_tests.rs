//! Native evaluation against Biscuit's Datalog: on random grants, attenuations and
//! requests, the two make the same decision with the same explanation.

use proptest::prelude::*;
use serde_json::{json, Value as J};
use warrant_core::grant::Grant;
use warrant_core::keys::{KeyId, KeySet, SigningKey};
use warrant_core::time::Timestamp;
use warrant_core::token::{attenuate, decode_unverified, encode, mint, MintRequest, Verification};

use crate::{Request, Verifier};

/// The shared test instant, in seconds.
const NOW: u64 = warrant_test::NOW.unix();

fn pattern() -> impl Strategy<Value = String> {
    let seg = prop::sample::select(vec!["a", "b", "c", "*"]);
    (
        prop::collection::vec(seg, 1..4),
        prop::sample::select(vec!["", "/**", "/*"]),
    )
        .prop_map(|(segs, tail)| format!("{}{tail}", segs.join("/")))
        .prop_filter("`*` only as a whole segment", |p| !p.contains("**/"))
}

fn value() -> impl Strategy<Value = J> {
    prop_oneof![
        (0i64..6).prop_map(J::from),
        prop::sample::select(vec!["x", "y", "xy"]).prop_map(J::from),
        any::<bool>().prop_map(J::from),
        (0u64..4).prop_map(|h| J::from(Timestamp::from_unix(NOW - h * 3600).to_string())),
    ]
}

fn condition(allow: bool) -> impl Strategy<Value = J> {
    let attr = prop::sample::select(vec!["n", "s", "d"]);
    (
        attr,
        0usize..10,
        value(),
        prop::collection::vec(value(), 1..3),
    )
        .prop_filter_map("well-typed condition", move |(attr, op, v, mut vs)| {
            let kind = |x: &J| {
                (
                    x.is_i64(),
                    x.is_boolean(),
                    x.as_str().is_some_and(|s| s.ends_with('Z')),
                )
            };
            let first = kind(&vs[0]);
            vs.retain(|x| kind(x) == first);
            let ordered = v.is_i64() || v.as_str().is_some_and(|s| s.ends_with('Z'));
            let c = match op {
                0 => json!({"attr": attr, "eq": v}),
                1 => json!({"attr": attr, "ne": v}),
                2 if ordered => json!({"attr": attr, "lt": v}),
                3 if ordered => json!({"attr": attr, "le": v}),
                4 if ordered => json!({"attr": attr, "gt": v}),
                5 if ordered => json!({"attr": attr, "ge": v}),
                6 => json!({"attr": attr, "in": vs}),
                // In a deny rule `present` always holds: grants refuse it there.
                7 if allow => json!({"attr": attr, "present": true}),
                8 => json!({"attr": attr, "prefix": "x"}),
                9 => json!({"attr": attr, "within": "2h"}),
                _ => return None,
            };
            Some(c)
        })
}

fn rule(allow: bool) -> impl Strategy<Value = J> {
    let actions = prop::sample::select(vec![
        vec!["read"],
        vec!["write"],
        vec!["read", "write"],
        vec!["*"],
    ]);
    (
        prop::collection::vec(prop_oneof![3 => pattern(), 1 => Just("*".to_owned())], 1..3),
        actions,
        prop::collection::vec(condition(allow), 0..2),
        prop::option::weighted(0.3, (any::<bool>(), 1u64..3)),
    )
        .prop_map(move |(resources, actions, when, human)| {
            let mut r = json!({"resources": resources, "actions": actions, "when": when});
            if let Some((passkey_only, hours)) = human.filter(|_| allow) {
                let methods = if passkey_only {
                    vec!["passkey"]
                } else {
                    vec!["passkey", "oidc", "device-key"]
                };
                r["human"] = json!({"methods": methods, "max_age": format!("{hours}h")});
            }
            r
        })
}

fn grant(authority: bool) -> impl Strategy<Value = Grant> {
    (
        prop::collection::vec(rule(true), usize::from(authority)..3),
        prop::collection::vec(rule(false), 0..2),
        prop::option::weighted(
            0.3,
            prop::sample::select(vec![vec!["api"], vec!["api", "other"], vec!["other"]]),
        ),
        prop::option::of(2u64..6),
        prop::option::weighted(0.2, 0u64..3),
    )
        .prop_map(|(allow, deny, audience, exp_h, nb_h)| {
            let mut g = json!({"allow": allow, "deny": deny});
            if let Some(a) = audience {
                g["audience"] = json!(a);
            }
            g["expires_at"] =
                json!(Timestamp::from_unix(NOW + exp_h.unwrap_or(8) * 3600).to_string());
            if let Some(h) = nb_h {
                g["not_before"] = json!(Timestamp::from_unix(NOW - 3600 + h * 3600).to_string());
            }
            Grant::from_json(&g).expect("generated grants are valid")
        })
}

/// resource, action, unix time, audience, attributes
type Req = (
    String,
    String,
    u64,
    Option<&'static str>,
    Vec<(&'static str, J)>,
);

fn request() -> impl Strategy<Value = Req> {
    let resource = prop::sample::select(vec!["a", "a/b", "a/b/c", "b/a", "c/c/c/c", "a/x"]);
    let action = prop::sample::select(vec!["read", "write", "delete"]);
    (
        resource,
        action,
        0u64..4 * 3600,
        prop::option::weighted(0.9, prop::sample::select(vec!["api", "api", "other"])),
        prop::collection::vec((prop::sample::select(vec!["n", "s", "d"]), value()), 0..4),
    )
        .prop_map(|(r, a, dt, aud, attrs)| {
            (r.to_owned(), a.to_owned(), NOW - 1800 + dt, aud, attrs)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn native_and_datalog_decide_alike(
        authority in grant(true),
        attenuations in prop::collection::vec(grant(false), 0..3),
        passkey in any::<bool>(),
        requests in prop::collection::vec(request(), 1..8),
    ) {
        let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(1)));
        let now = Timestamp::from_unix(NOW - 3600);
        let mut req = MintRequest::offline(authority);
        if passkey {
            req.verification = Some(Verification { method: warrant_core::grant::Method::Passkey, at: now });
        }
        let minted = mint(&key, req, now, &mut rand_core::OsRng).expect("mint");
        let mut token = decode_unverified(&minted.token.to_base64().expect("base64")).expect("decode");
        for g in attenuations {
            if g.is_empty() { continue; }
            token = attenuate(&token, g, now, &mut rand_core::OsRng).expect("attenuate");
        }
        let text = encode(&token);
        // Decisions are compared, not speed: a loaded machine (two cores shared by a whole
        // test run) must not turn a slow debug-build Datalog run into another answer. The
        // time limit itself is tested with a zero limit (tests/it/errors.rs).
        let roomy = crate::Limits { max_time: std::time::Duration::from_secs(10), ..crate::Limits::DEFAULT };
        let builder = || Verifier::builder(KeySet::single(KeyId(1), key.public())).dangerous_accept_bearer().limits(roomy);
        let native = builder().build();
        let datalog = builder().datalog_only().build();
        let bytes = warrant_core::token::decode_base64(&text).expect("bytes");
        prop_assert!(native.is_lifted(&bytes), "warrant-made tokens lift");
        for (resource, action, t, aud, attrs) in requests {
            let mut r = Request::new(resource, action, Timestamp::from_unix(t));
            if let Some(a) = aud { r = r.with_audience(a); }
            for (name, v) in attrs {
                r = r.with_attr(name, warrant_core::value::Value::from_json(&v).expect("value"));
            }
            let a = native.verify(&text, &r);
            let b = datalog.verify(&text, &r);
            prop_assert_eq!(a, b);
        }
    }
}
