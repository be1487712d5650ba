//! `warrant agent keygen`

use rand_core::OsRng;
use warrant_core::keys::SigningKey;

use crate::args::AgentKeygenArgs;
use crate::error::{CliError, Outcome};
use crate::io;

pub fn keygen(a: &AgentKeygenArgs) -> Result<Outcome, CliError> {
    let key = SigningKey::generate(&mut OsRng, None);
    io::write_private(&a.out, &key.to_pem()?)?;
    let public = key.public();
    io::out(public)?;
    io::out(format_args!("jwk-thumbprint: {}", public.jwk_thumbprint()))?;
    Ok(Outcome::Ok)
}
