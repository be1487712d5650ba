//! `warrant audit verify`

use warrant_issuer::audit::{parse_export, verify_chain, ChainBreak};
use warrant_issuer::store::AuditRow;

use crate::args::{AuditCommand, AuditVerifyArgs};
use crate::error::{CliError, Outcome};
use crate::io;

pub fn run(cmd: &AuditCommand) -> Result<Outcome, CliError> {
    let AuditCommand::Verify(a) = cmd;
    verify(a)
}

/// Reads the whole chain from the issuer, `page_size` entries at a time.
fn export_pages(base: &str, token: &str, page_size: u32) -> Result<Vec<AuditRow>, CliError> {
    let mut rows: Vec<AuditRow> = Vec::new();
    let mut since = 0;
    loop {
        let url = format!("{base}/v1/audit?since={since}&limit={page_size}");
        let page = parse_export(&io::get(&url, Some(token))?).map_err(|e| {
            CliError::denied(format!(
                "the export from `{url}` is not an audit chain: {e}"
            ))
        })?;
        let Some(last) = page.last() else {
            return Ok(rows);
        };
        if last.seq <= since {
            return Err(CliError::denied(format!(
                "`{url}` answered entries that do not follow entry {since}"
            )));
        }
        since = last.seq;
        rows.extend(page);
    }
}

fn verify(a: &AuditVerifyArgs) -> Result<Outcome, CliError> {
    let (rows, keys_source) = match (&a.url, &a.file) {
        (Some(url), _) => {
            let base = url.trim_end_matches('/');
            let token = io::admin_token(a.admin_token.as_deref().unwrap_or_default())?;
            let keys = a
                .keys
                .clone()
                .unwrap_or_else(|| format!("{base}/.well-known/warrant-keys"));
            (export_pages(base, &token, a.page_size)?, keys)
        }
        (None, Some(file)) => {
            let keys = a.keys.clone().ok_or_else(|| {
                CliError::usage(
                    "give --keys (the issuer's key set, a file or its URL): without it nothing vouches for the export",
                )
            })?;
            let rows = parse_export(&io::read_file(file)?)
                .map_err(|e| CliError::denied(format!("the audit chain is broken: {e}")))?;
            (rows, keys)
        }
        (None, None) => return Err(CliError::usage("give --url (with --admin-token) or --file")),
    };
    let keys = io::key_set(&keys_source)?;
    let broken = |e: ChainBreak| CliError::denied(format!("the audit chain is broken: {e}"));
    let report = verify_chain(&rows, &keys).map_err(broken)?;
    report
        .check_coverage(a.max_unsigned)
        .map_err(|e| CliError::denied(format!("the audit chain is not vouched for: {e}")))?;
    let head = report
        .head
        .as_ref()
        .map_or("empty".to_owned(), |(seq, hash)| {
            format!("head {seq} `{hash}`")
        });
    let first = report.first.unwrap_or(0);
    let signed = report.signed_through.unwrap_or(0);
    let retired = if report.unverifiable > 0 {
        format!(
            ", {} by keys not in the key set (not checked)",
            report.unverifiable
        )
    } else {
        String::new()
    };
    io::out(format_args!(
        "ok: {} entries, {head}, {} head signatures verified{retired}; entries {first} to {signed} signed, {} after the last signed head",
        report.entries, report.signatures, report.unsigned_tail
    ))?;
    Ok(Outcome::Ok)
}
