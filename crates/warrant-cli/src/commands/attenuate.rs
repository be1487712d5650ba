//! `warrant attenuate`

use clap::ArgMatches;
use rand_core::OsRng;
use warrant_core::token::{attenuate, decode_unverified, encode};

use crate::args::AttenuateArgs;
use crate::error::{CliError, Outcome};
use crate::{grant_flags, io};

pub(crate) fn run(a: &AttenuateArgs, sub: &ArgMatches) -> Result<Outcome, CliError> {
    let token = decode_unverified(&io::token(&a.token)?)?;
    let grant = grant_flags::grant(&a.grant, sub)?;
    let narrower = attenuate(&token, grant, super::now(), &mut OsRng)?;
    io::out(encode(&narrower))?;
    Ok(Outcome::Ok)
}
