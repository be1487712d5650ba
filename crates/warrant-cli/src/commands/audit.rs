//! `warrant audit export`, `warrant audit verify`

use warrant_core::keys::KeySet;
use warrant_issuer::audit::{parse_export, verify_chain, ChainBreak};

use crate::args::{AuditCommand, AuditExportArgs, AuditVerifyArgs};
use crate::error::{CliError, Outcome};
use crate::io;

/// Rows asked for per request (the issuer answers at most 100 000).
const PAGE: usize = 10_000;

pub(crate) fn run(cmd: &AuditCommand) -> Result<Outcome, CliError> {
    match cmd {
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::Export(a) => export(a),
    }
}

/// The whole chain after entry `since` from `base`, page by page.
fn download(
    base: &str,
    admin_token: &str,
    page_size: usize,
    mut since: i64,
) -> Result<String, CliError> {
    let mut all = String::new();
    loop {
        let page = io::get(
            &format!("{base}/v1/audit?since={since}&limit={page_size}"),
            Some(admin_token),
        )?;
        let lines: Vec<&str> = page.lines().filter(|l| !l.trim().is_empty()).collect();
        let Some(last) = lines.last() else {
            return Ok(all);
        };
        let seq = parse_export(last)
            .ok()
            .and_then(|rows| rows.first().map(|r| r.seq))
            .filter(|s| *s > since)
            .ok_or_else(|| {
                CliError::usage(format!(
                    "`{base}/v1/audit` answered a row without a sequence number after {since}"
                ))
            })?;
        for l in &lines {
            all.push_str(l);
            all.push('\n');
        }
        if lines.len() < page_size {
            return Ok(all);
        }
        since = seq;
    }
}

fn export(a: &AuditExportArgs) -> Result<Outcome, CliError> {
    let base = a.admin.issuer.trim_end_matches('/');
    let token = io::admin_token(&a.admin.admin_token)?;
    if let Some(path) = a.out.as_deref().filter(|p| p.exists()) {
        return Err(CliError::usage(format!(
            "`{}` already exists: refusing to overwrite it",
            path.display()
        )));
    }
    let export = download(base, &token, PAGE, 0)?;
    let entries = export.lines().count();
    match &a.out {
        Some(path) => {
            // Audit entries name humans and agents: owner-only, like the admin token.
            io::write_private(path, &export)?;
            io::out(format_args!(
                "wrote {entries} audit entries to `{}`; check them with `warrant audit verify --file {} --keys {base}/.well-known/warrant-audit-keys`",
                path.display(),
                path.display()
            ))?;
        }
        None if export.is_empty() => {}
        None => io::out(export.trim_end())?,
    }
    Ok(Outcome::Ok)
}

fn verify(a: &AuditVerifyArgs) -> Result<Outcome, CliError> {
    let (rows, keys_source) = match (&a.url, &a.file) {
        (Some(url), _) => {
            let base = url.trim_end_matches('/');
            let token = io::admin_token(a.admin_token.as_deref().unwrap_or_default())?;
            let keys = if a.keys.is_empty() {
                vec![format!("{base}/.well-known/warrant-audit-keys")]
            } else {
                a.keys.clone()
            };
            let page = usize::try_from(a.page_size).unwrap_or(PAGE);
            let export = download(base, &token, page, a.since)?;
            let rows = parse_export(&export).map_err(|e| {
                CliError::denied(format!(
                    "the export from `{base}/v1/audit` is not an audit chain: {e}"
                ))
            })?;
            (rows, keys)
        }
        (None, Some(file)) => {
            if a.keys.is_empty() {
                return Err(CliError::usage(
                    "give --keys (the issuer's key set, a file or its URL): without it nothing vouches for the export",
                ));
            }
            let keys = a.keys.clone();
            let rows = parse_export(&io::read_file(file)?)
                .map_err(|e| CliError::denied(format!("the audit chain is broken: {e}")))?;
            (rows, keys)
        }
        (None, None) => return Err(CliError::usage("give --url (with --admin-token) or --file")),
    };
    let keys = key_sets(&keys_source)?;
    let broken = |e: ChainBreak| CliError::denied(format!("the audit chain is broken: {e}"));
    let report = verify_chain(&rows, &keys).map_err(broken)?;
    // With --url the chain is read from entry `since + 1`: an answer starting later lost
    // its first entries; a file must start there too.
    report.check_start(a.since).map_err(broken)?;
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
        "ok: {} entries, {head}, {} head signatures verified{retired}; entries {first} to {signed} signed, {} after the last signed head, at most {} from one signed head to the next",
        report.entries,
        report.signatures,
        report.unsigned_tail,
        report.widest_gap()
    ))?;
    Ok(Outcome::Ok)
}

/// The keys of every `--keys` source, in one set (a key id may repeat only with the same
/// key).
fn key_sets(sources: &[String]) -> Result<KeySet, CliError> {
    let mut all = KeySet::default();
    for source in sources {
        for entry in io::key_set(source)?.keys {
            match all.keys.iter().find(|k| k.kid == entry.kid) {
                Some(k) if k.public_key == entry.public_key => {}
                Some(_) => {
                    return Err(CliError::usage(format!(
                        "--keys `{source}` has another key with id `{}` than an earlier --keys: give key sets of one issuer",
                        entry.kid.0
                    )))
                }
                None => all.keys.push(entry),
            }
        }
    }
    Ok(all)
}
