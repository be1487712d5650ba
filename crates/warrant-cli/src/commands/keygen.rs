//! `warrant keygen`

use rand_core::OsRng;
use warrant_core::keys::{KeyId, KeySet, SigningKey};

use crate::args::KeygenArgs;
use crate::error::{CliError, Outcome};
use crate::io;

pub fn run(a: &KeygenArgs) -> Result<Outcome, CliError> {
    if a.public_out.is_some() && a.key_id.is_none() {
        return Err(CliError::usage(
            "--public-out writes a key set, whose entries need a key id: add --key-id N",
        ));
    }
    let key = SigningKey::generate(&mut OsRng, a.key_id.map(KeyId));
    let pem = key.to_pem()?;
    io::write_private(&a.out, &pem)?;
    if let (Some(path), Some(kid)) = (&a.public_out, a.key_id) {
        io::write_public(
            path,
            &(KeySet::single(KeyId(kid), key.public()).to_json() + "\n"),
        )?;
    }
    println!("{}", key.public());
    Ok(Outcome::Ok)
}
