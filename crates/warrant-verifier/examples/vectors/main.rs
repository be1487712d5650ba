//! Generates the warrant test vectors, `tests/data/warrant-vectors/vectors.json`, from a
//! fixed seed: tokens made from grants, their blocks as biscuit-auth prints them, and
//! requests with the verifier's decision (see the folder's README.md).
//!
//! ```text
//! cargo run -p warrant-verifier --example vectors              # print them
//! cargo run -p warrant-verifier --example vectors -- --write   # rewrite the file
//! cargo run -p warrant-verifier --example vectors -- --check   # fail if the file differs
//! ```
//!
//! Every decision is checked against the one its case states; a disagreement is an error
//! and nothing is written.

use std::process::ExitCode;

#[path = "../../../warrant-core/tests/it/vectors/recipe.rs"]
#[expect(dead_code, reason = "shared with the tests, which use all of it")]
mod recipe;

mod cases;
mod cases_p256;
mod generate;
mod spec;

enum Mode {
    Print,
    Write,
    Check,
}

fn run(mode: &Mode) -> Result<String, String> {
    let text = recipe::manifest_text(&generate::generate()?)?;
    let path = recipe::vectors_dir().join(recipe::MANIFEST);
    match mode {
        Mode::Print => {
            print!("{text}");
            Ok(String::new())
        }
        Mode::Write => {
            std::fs::write(&path, &text).map_err(recipe::ctx(path.display()))?;
            Ok(format!("wrote {}", path.display()))
        }
        Mode::Check => {
            let current = std::fs::read_to_string(&path).map_err(recipe::ctx(path.display()))?;
            if current == text {
                Ok(format!("{} is up to date", path.display()))
            } else {
                Err(format!(
                    "{} is stale: run `cargo run -p warrant-verifier --example vectors -- --write`",
                    path.display()
                ))
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => Mode::Print,
        ["--write"] => Mode::Write,
        ["--check"] => Mode::Check,
        _ => {
            eprintln!("usage: vectors [--write | --check]");
            return ExitCode::from(2);
        }
    };
    match run(&mode) {
        Ok(message) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
