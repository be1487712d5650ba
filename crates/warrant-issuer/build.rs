//! Decides whether the PostgreSQL and browser tests run. The PostgreSQL tests need a server,
//! named by `WARRANT_TEST_DATABASE_URL`; the browser test needs `chromium` on `PATH`. Without
//! them they are marked ignored (cfgs `warrant_pg_tests_ignored`,
//! `warrant_browser_tests_ignored`), so `cargo test` reports them as ignored rather than
//! passed; with `CI` set they are never ignored, and fail when what they need is missing.

fn main() {
    // The migrations are embedded by `sqlx::migrate!`: a new file must rebuild the crate.
    println!("cargo::rerun-if-changed=migrations");
    println!("cargo::rerun-if-env-changed=WARRANT_TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(warrant_pg_tests_ignored)");
    println!("cargo::rustc-check-cfg=cfg(warrant_browser_tests_ignored)");
    println!("cargo::rerun-if-env-changed=PATH");
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    if !set("WARRANT_TEST_DATABASE_URL") && !ci {
        println!("cargo::rustc-cfg=warrant_pg_tests_ignored");
    }
    // The browser test needs Chromium (Debian's `chromium`): ignored without it, unless CI
    // is set (then it runs, and fails saying what is missing; .ci/run installs it).
    let chromium = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("chromium").is_file()));
    if !chromium && !ci {
        println!("cargo::rustc-cfg=warrant_browser_tests_ignored");
    }
}
