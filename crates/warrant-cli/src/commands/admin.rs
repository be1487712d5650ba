//! `warrant admin rotate`

use std::path::Path;

use warrant_issuer::api::{AdminRotateRequest, RotatedAdminCredential};

use crate::args::{AdminArgs, AdminCommand};
use crate::error::{CliError, Outcome};
use crate::io;

pub(crate) fn run(cmd: &AdminCommand) -> Result<Outcome, CliError> {
    let AdminCommand::Rotate(AdminArgs {
        issuer,
        admin_token,
    }) = cmd;
    let base = issuer.trim_end_matches('/');
    let token = io::admin_token(admin_token)?;
    let RotatedAdminCredential {
        token: new,
        id,
        expires_at: expires,
        revoked,
    } = io::post(
        &format!("{base}/v1/admin/rotate"),
        Some(&token),
        &AdminRotateRequest::default(),
    )?;
    let file = Path::new(admin_token);
    if file.is_file() {
        // The old credential is revoked already: replace the file (beside it, then renamed
        // over it), and on failure still hand the new one over.
        if let Err(e) = io::replace_private(file, &format!("{new}\n")) {
            io::out(&new)?;
            return Err(CliError::usage(format!(
                "{e}: the new admin credential (printed above) is the only live one, keep it"
            )));
        }
        io::out(format_args!(
            "rotated: admin credential {id} (expires {expires}) is in `{}`; {revoked} is revoked",
            file.display()
        ))?;
    } else {
        io::out(&new)?;
    }
    Ok(Outcome::Ok)
}
