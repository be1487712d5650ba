//! Decides whether the PostgreSQL tests run. They need a server, named by
//! `WARRANT_TEST_DATABASE_URL`. Without one they are marked ignored (cfg
//! `warrant_pg_tests_ignored`), so `cargo test` reports them as ignored rather than passed;
//! with `CI` set they are never ignored, and fail when the variable is missing.

fn main() {
    // The migrations are embedded by `sqlx::migrate!`: a new file must rebuild the crate.
    println!("cargo::rerun-if-changed=migrations");
    println!("cargo::rerun-if-env-changed=WARRANT_TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(warrant_pg_tests_ignored)");
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    if !set("WARRANT_TEST_DATABASE_URL") && !ci {
        println!("cargo::rustc-cfg=warrant_pg_tests_ignored");
    }
}
