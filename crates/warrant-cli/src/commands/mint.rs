//! `warrant mint` (offline: whoever holds the root key is the issuer).

use std::collections::BTreeMap;

use clap::ArgMatches;
use rand_core::OsRng;
use warrant_core::token::{mint, MintRequest};
use warrant_core::value::{AttrName, Value};

use crate::args::MintArgs;
use crate::error::{CliError, Outcome};
use crate::{grant_flags, io};

pub fn run(a: &MintArgs, sub: &ArgMatches) -> Result<Outcome, CliError> {
    let key = io::signing_key(&a.key)?;
    let grant = grant_flags::grant(&a.grant, sub)?;
    let mut human_attrs = BTreeMap::new();
    for spec in &a.human_attr {
        let (name, value) = spec.split_once('=').ok_or_else(|| {
            CliError::usage(format!("--human-attr `{spec}`: expected NAME=VALUE"))
        })?;
        let name: AttrName = name.parse()?;
        human_attrs.insert(name, Value::infer(value));
    }
    let holder = a.holder.as_deref().map(io::public_key).transpose()?;
    let mut req = MintRequest::offline(grant);
    req.human.clone_from(&a.human);
    req.human_attrs = human_attrs;
    req.holder = holder;
    let minted = mint(&key, req, super::now(), &mut OsRng)?;
    io::out(minted.token.to_base64()?)?;
    Ok(Outcome::Ok)
}
