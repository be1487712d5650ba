//! `warrant proof`

use rand_core::OsRng;
use warrant_core::dpop::create_proof;

use crate::args::ProofArgs;
use crate::error::{CliError, Outcome};
use crate::io;

pub fn run(a: &ProofArgs) -> Result<Outcome, CliError> {
    let key = io::signing_key(&a.key)?;
    let token = io::token_text(&a.token)?;
    let proof = create_proof(
        &key,
        &a.method,
        &a.url,
        token.trim(),
        super::now(),
        &mut OsRng,
    )?;
    io::out(proof)?;
    Ok(Outcome::Ok)
}
