//! One module per command.

mod admin;
mod agent;
mod attenuate;
mod audit;
mod delegate;
mod humans;
mod inspect;
mod keygen;
mod keys;
mod mint;
mod proof;
mod request;
mod revoke;
mod serve;
mod verify;

use clap::ArgMatches;

use crate::args::{Cli, Command};
use crate::error::{CliError, Outcome};

/// Runs the parsed command line; `matches` gives the order of the shorthand flags.
pub(crate) fn run(cli: Cli, matches: &ArgMatches) -> Result<Outcome, CliError> {
    let sub = matches.subcommand().map(|(_, m)| m);
    let sub = || sub.ok_or_else(|| CliError::usage("missing command"));
    match cli.command {
        Command::Serve(a) => serve::run(&a),
        Command::Revoke(a) => revoke::run(&a),
        Command::Keys(k) => keys::run(&k),
        Command::Audit(c) => audit::run(&c),
        Command::Admin(c) => admin::run(&c),
        Command::Keygen(a) => keygen::run(&a),
        Command::Mint(a) => mint::run(&a, sub()?),
        Command::Attenuate(a) => attenuate::run(&a, sub()?),
        Command::Inspect(a) => inspect::run(&a),
        Command::Agent(crate::args::AgentCommand::Keygen(a)) => agent::keygen(&a),
        Command::Agent(crate::args::AgentCommand::Register(a)) => agent::register(&a),
        Command::Humans(crate::args::HumansCommand::Add(a)) => humans::add(&a),
        Command::Humans(crate::args::HumansCommand::Invite(a)) => humans::invite(&a),
        Command::Delegate(a) => delegate::run(&a, sub()?),
        Command::Proof(a) => proof::run(&a),
        Command::Request(a) => request::ask(&a, sub()?),
        Command::Approve(a) => request::approve(&a, sub()?),
        Command::Deny(a) => request::decide(&a.decider, None),
        Command::Verify(a) => verify::run(&a),
    }
}

/// The current time, whole seconds.
fn now() -> warrant_core::time::Timestamp {
    warrant_core::time::Timestamp::from_system_time(std::time::SystemTime::now())
}
