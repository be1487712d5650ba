//! The README's issuer configuration: role `support` (read `tickets/**`, audience
//! `support-api`, tokens of at most 30 minutes) and human `alice`, for tests and benches
//! that start an issuer with it. Tests that need other roles write their own.

/// The README's `[[roles]]` table: `support` may delegate reading `tickets/**` to
/// `support-api`, for at most 30 minutes.
pub const SUPPORT_ROLE: &str = r#"[[roles]]
name = "support"
max_ttl = "30m"
[roles.ceiling]
audience = ["support-api"]
allow = [ { resources = ["tickets/**"], actions = ["read"] } ]
"#;

/// The README's `[[humans]]` table: `alice`, role `support`, with the device key
/// `device_key` (`ed25519/…`, as `warrant keygen` prints it).
pub fn alice(device_key: &str) -> String {
    format!(
        r#"[[humans]]
id = "alice"
roles = ["support"]
device_keys = ["{device_key}"]
"#
    )
}

/// [`SUPPORT_ROLE`] and [`alice`] with `device_key`: the README's whole configuration
/// but its `data_dir`.
pub fn readme(device_key: &str) -> String {
    format!("{SUPPORT_ROLE}\n{}", alice(device_key))
}

#[cfg(test)]
mod tests {
    /// The README, whose issuer section these tables are copied from.
    const README: &str = include_str!("../../../README.md");

    #[test]
    fn the_tables_are_the_readmes() {
        let written = super::readme("$DEVICE");
        assert!(
            README.contains(&written),
            "the README's issuer configuration is no longer\n{written}"
        );
    }
}
