//! `warrant`: a thin `main` over the command modules.
//!
//! Exit codes: 0 success or allowed, 1 denied, 2 usage or input error.

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
            eprintln!("warrant: {}", text.trim_start_matches("error: ").trim_end());
            return ExitCode::from(2);
        }
    };
    let result = args::Cli::from_arg_matches(&matches)
        .map_err(|e| error::CliError::usage(e.to_string()))
        .and_then(|cli| commands::run(cli, &matches));
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("warrant: {e}");
            e.exit_code()
        }
    }
}
