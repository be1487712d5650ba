//! `warrant`: a thin `main` over the command modules.
//!
//! Exit codes: 0 success or allowed, 1 denied, 2 usage or input error.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod args;
mod commands;
mod error;
mod grant_flags;
mod io;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    let matches = match args::Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print and succeed.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            let e = error::CliError::usage(text.trim_start_matches("error: ").trim_end());
            return report(&e);
        }
    };
    let result = args::Cli::from_arg_matches(&matches)
        .map_err(|e| error::CliError::usage(e.to_string()))
        .and_then(|cli| commands::run(cli, &matches));
    match result {
        Ok(code) => code.into(),
        Err(e) => report(&e),
    }
}

/// Prints an error as `warrant: <message>` on stderr and, when the command line asks for
/// JSON (`--json`), also as `{"error": …, "exit_code": …}` on stdout, so a program reading
/// stdout always gets JSON.
fn report(e: &error::CliError) -> ExitCode {
    eprintln!("warrant: {e}");
    let wants_json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    if wants_json {
        let body = serde_json::json!({ "error": e.to_string(), "exit_code": e.code() });
        let _ = io::out(body);
    }
    e.exit_code()
}
