//! What no grant may name: the issuer's own audience and, for a grant reaching it, its
//! `admin/…` resources. A leaf module: config, minting and the admin API all check it.

use warrant_core::grant::Grant;
use warrant_core::pattern::{Audience, ResourcePattern};

/// The audience reserved for the issuer itself: no grant may name it.
pub const ADMIN_AUDIENCE: &str = "warrant-issuer";

/// Whether `a` is the issuer's reserved audience in any spelling: compared without regard
/// to case (`Warrant-Issuer`, `WARRANT-ISSUER`) or surrounding white space, so that no
/// variant of it can be saved and mistaken for it by a person or a looser verifier.
fn is_admin_audience(a: &Audience) -> bool {
    a.as_str().trim().to_lowercase() == ADMIN_AUDIENCE
}

/// Whether a grant with this audience reaches the issuer: one naming no audience reaches
/// every audience, the issuer's included.
fn reaches_issuer(audience: &[Audience]) -> bool {
    audience.is_empty() || audience.iter().any(is_admin_audience)
}

/// Whether `p` names the issuer's `admin/…` resources: it covers some of them and no
/// resource outside `admin/`. `**`, `*/**` and `*/x` name no namespace in particular and
/// pass; `admin/**`, `admin/*`, `admin/audit` do not.
fn names_admin(p: &ResourcePattern) -> bool {
    let (Ok(admin), Ok(elsewhere)) = (
        "admin/**".parse::<ResourcePattern>(),
        "not-the-issuer/**".parse::<ResourcePattern>(),
    ) else {
        return true;
    };
    p.overlaps(&admin) && !p.overlaps(&elsewhere)
}

/// Refuses a grant that could only be meant for the issuer itself: the audience
/// `warrant-issuer`, or — when it reaches the issuer's audience (`audience`, the audience
/// that applies: a request naming none inherits its ceiling's) — an allow rule naming
/// `admin/…`. The reason, one line, for a 400 or a refusal.
pub fn reserved(grant: &Grant, audience: &[Audience]) -> Result<(), String> {
    if let Some(a) = grant.audience.iter().find(|a| is_admin_audience(a)) {
        return Err(format!(
            "audience `{a}` is reserved for the issuer's own admin credentials (`{ADMIN_AUDIENCE}` in any case): no grant may name it"
        ));
    }
    if !reaches_issuer(audience) {
        return Ok(());
    }
    for (i, rule) in grant.allow.iter().enumerate() {
        if let Some(p) = rule.resources.iter().find(|p| names_admin(p)) {
            return Err(format!(
                "allow[{i}]: `{p}` names the issuer's `admin/…` resources, and the grant names no audience: name the API it is for in `audience` (the issuer's admin authority is an admin credential, never a grant)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserved_audience_is_matched_in_any_case() {
        for (a, reserved) in [
            ("warrant-issuer", true),
            ("Warrant-Issuer", true),
            ("WARRANT-ISSUER", true),
            ("warrant-issuers", false),
            ("support-api", false),
        ] {
            let a: warrant_core::pattern::Audience = a.parse().unwrap();
            assert_eq!(is_admin_audience(&a), reserved, "{a}");
        }
    }

    #[test]
    fn admin_patterns_are_named_or_not() {
        for (p, named) in [
            ("admin/**", true),
            ("admin/*", true),
            ("admin/audit", true),
            ("**", false),
            ("*/**", false),
            ("*/audit", false),
            ("tickets/**", false),
            ("admin", false),
        ] {
            assert_eq!(names_admin(&p.parse().unwrap()), named, "{p}");
        }
    }
}
