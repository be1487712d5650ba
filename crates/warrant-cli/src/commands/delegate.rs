//! `warrant delegate`

use clap::ArgMatches;
use rand_core::OsRng;
use warrant_core::token::{decode_unverified, delegate, encode};

use crate::args::DelegateArgs;
use crate::error::{CliError, Outcome};
use crate::{grant_flags, io};

pub(crate) fn run(a: &DelegateArgs, sub: &ArgMatches) -> Result<Outcome, CliError> {
    let token = decode_unverified(&io::token(&a.token)?)?;
    let key = io::holder_signing_key(&a.key)?;
    let next = io::holder_key(&a.to)?;
    let grant = grant_flags::grant(&a.grant, sub)?;
    let delegated = delegate(&token, &key, next, grant, super::now(), &mut OsRng)?;
    io::out(encode(&delegated))?;
    Ok(Outcome::Ok)
}
