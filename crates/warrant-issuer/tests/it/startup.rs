//! What `warrant serve` says when its database cannot be used: the host and the cause, in
//! one line, naming the next step, and none of sqlx's internals.

use std::time::{Duration, Instant};

use warrant_issuer::{Config, State};

use crate::env::PG_ENV;

async fn open_error(database: &str) -> String {
    match State::open(Config::defaults().unwrap(), database, None).await {
        Ok(_) => panic!("`{database}` opened"),
        Err(e) => e.to_string(),
    }
}

fn plain(text: &str) {
    assert!(!text.contains('\n'), "one line: {text}");
    for internal in [
        "sqlx",
        "pool timed out",
        " at line ",
        "error returned from database",
    ] {
        assert!(!text.contains(internal), "`{internal}` in: {text}");
    }
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_named_at_once() {
    let started = Instant::now();
    let text = open_error("postgres://postgres@127.0.0.1:1/postgres").await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        text.starts_with("cannot reach PostgreSQL at `127.0.0.1:1`: connection refused"),
        "{text}"
    );
    plain(&text);
}

#[tokio::test]
#[cfg_attr(
    warrant_pg_tests_ignored,
    ignore = "needs WARRANT_TEST_DATABASE_URL (a PostgreSQL server)"
)]
async fn a_missing_postgres_database_says_createdb() {
    let server = std::env::var(PG_ENV).unwrap_or_else(|_| panic!("{PG_ENV} is not set"));
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let url = format!("{base}/warrant_no_such_database");
    let text = open_error(&url).await;
    assert!(
        text.starts_with("the PostgreSQL database `warrant_no_such_database` does not exist at `"),
        "{text}"
    );
    assert!(text.contains("`createdb -h "), "{text}");
    assert!(text.contains(" warrant_no_such_database`"), "{text}");
    plain(&text);
}

#[tokio::test]
async fn an_sqlite_file_that_cannot_be_created_is_named() {
    let text = open_error("sqlite:///nonexistent-dir/warrant.db").await;
    assert!(
        text.starts_with("cannot open the database `sqlite:///nonexistent-dir/warrant.db`: "),
        "{text}"
    );
    plain(&text);
}
