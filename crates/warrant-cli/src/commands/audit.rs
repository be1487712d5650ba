//! `warrant audit verify`

use warrant_issuer::audit::{parse_export, verify_chain};

use crate::args::{AuditCommand, AuditVerifyArgs};
use crate::error::{CliError, Outcome};
use crate::io;

pub fn run(cmd: &AuditCommand) -> Result<Outcome, CliError> {
    let AuditCommand::Verify(a) = cmd;
    verify(a)
}

fn verify(a: &AuditVerifyArgs) -> Result<Outcome, CliError> {
    let (export, keys_source) = match (&a.url, &a.file) {
        (Some(url), _) => {
            let base = url.trim_end_matches('/');
            let token = io::admin_token(a.admin_token.as_deref().unwrap_or_default())?;
            let keys = a
                .keys
                .clone()
                .unwrap_or_else(|| format!("{base}/.well-known/warrant-keys"));
            (
                io::get(&format!("{base}/v1/audit"), Some(&token))?,
                Some(keys),
            )
        }
        (None, Some(file)) => (io::read_file(file)?, a.keys.clone()),
        (None, None) => return Err(CliError::usage("give --url (with --admin-token) or --file")),
    };
    let keys = keys_source.as_deref().map(io::key_set).transpose()?;
    let rows = parse_export(&export).map_err(|e| CliError::denied(e.to_string()))?;
    match verify_chain(&rows, keys.as_ref()) {
        Ok(report) => {
            let head = report.head.map_or("empty".to_owned(), |(seq, hash)| {
                format!("head {seq} `{hash}`")
            });
            let sigs = if keys.is_some() {
                format!("{} head signatures verified", report.signatures)
            } else {
                "head signatures not checked (give --keys)".to_owned()
            };
            io::out(format_args!(
                "ok: {} entries, {head}, {sigs}",
                report.entries
            ))?;
            Ok(Outcome::Ok)
        }
        Err(broken) => Err(CliError::denied(format!(
            "the audit chain is broken: {broken}"
        ))),
    }
}
