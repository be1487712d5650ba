//! `warrant keygen`

use rand_core::OsRng;
use warrant_core::keys::{KeyId, KeySet, SigningKey};

use crate::args::KeygenArgs;
use crate::error::{CliError, Outcome};
use crate::io;

pub(crate) fn run(a: &KeygenArgs) -> Result<Outcome, CliError> {
    if a.public_out.is_some() && a.key_id.is_none() {
        return Err(CliError::usage(
            "--public-out writes a key set, whose entries need a key id: add --key-id N",
        ));
    }
    if let Some(path) = a.public_out.as_deref().filter(|p| p.exists()) {
        return Err(CliError::usage(format!(
            "`{}` already exists: refusing to overwrite it",
            path.display()
        )));
    }
    let key = SigningKey::generate(&mut OsRng, a.key_id.map(KeyId));
    let pem = key.to_pem()?;
    io::write_private(&a.out, &pem)?;
    if let (Some(path), Some(kid)) = (&a.public_out, a.key_id) {
        let set = KeySet::single(KeyId(kid), key.public()).to_json() + "\n";
        if let Err(e) = io::write_public(path, &set) {
            // A refused command leaves nothing behind, not even the key it just wrote.
            let _ = std::fs::remove_file(&a.out);
            return Err(e);
        }
    }
    io::out(key.public())?;
    Ok(Outcome::Ok)
}
