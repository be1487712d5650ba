//! `warrant keys rotate`

use warrant_issuer::api::KeySet;

use crate::args::{AdminArgs, KeysCommand};
use crate::error::{CliError, Outcome};
use crate::io;

pub(crate) fn run(cmd: &KeysCommand) -> Result<Outcome, CliError> {
    let KeysCommand::Rotate(AdminArgs {
        issuer,
        admin_token,
    }) = cmd;
    let base = issuer.trim_end_matches('/');
    let token = io::admin_token(admin_token)?;
    let set: KeySet = io::post_empty(&format!("{base}/v1/keys/rotate"), Some(&token))?;
    io::out(serde_json::to_string_pretty(&set)?)?;
    Ok(Outcome::Ok)
}
