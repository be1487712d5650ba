//! Reading tokens, grants and keys; writing key files.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use warrant_core::grant::Grant;
use warrant_core::keys::{KeySet, PublicKey, SigningKey};

use crate::error::CliError;

/// Reads `-` as standard input, anything else as the value itself.
pub fn token_text(arg: &str) -> Result<String, CliError> {
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| {
            CliError::usage(format!("cannot read the token from standard input: {e}"))
        })?;
        Ok(s)
    } else {
        Ok(arg.to_owned())
    }
}

/// Reads a file, naming it in the error.
pub fn read_file(path: &Path) -> Result<String, CliError> {
    fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read `{}`: {e}", path.display())))
}

/// Reads a grant file: TOML when it ends in `.toml`, JSON otherwise; `-` is JSON on stdin.
pub fn grant_file(path: &Path) -> Result<Grant, CliError> {
    let text = if path.as_os_str() == "-" {
        token_text("-")?
    } else {
        read_file(path)?
    };
    let parsed = if path.extension().is_some_and(|e| e == "toml") {
        Grant::from_toml_str(&text)
    } else {
        Grant::from_json_str(&text)
    };
    parsed.map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

/// Reads a private key file.
pub fn signing_key(path: &Path) -> Result<SigningKey, CliError> {
    SigningKey::from_pem(&read_file(path)?)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// The HTTP client for talking to an issuer: bounded in time.
fn client() -> Result<reqwest::blocking::Client, CliError> {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| CliError::usage(format!("cannot make an HTTP client: {e}")))
}

/// The body of a response, or the problem it reports as an error.
fn answer(url: &str, res: reqwest::blocking::Response) -> Result<String, CliError> {
    let status = res.status();
    let text = res
        .text()
        .map_err(|e| CliError::usage(format!("`{url}`: cannot read the answer: {e}")))?;
    if status.is_success() {
        return Ok(text);
    }
    let detail = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_owned))
        .unwrap_or(text);
    let message = format!("`{url}` answered {status}: {detail}");
    // A refusal by the issuer is a denial (1); anything else an error (2).
    if status == reqwest::StatusCode::FORBIDDEN || status == reqwest::StatusCode::UNAUTHORIZED {
        Err(CliError::denied(message))
    } else {
        Err(CliError::usage(message))
    }
}

/// GETs `url` (with an optional bearer token).
pub fn get(url: &str, bearer: Option<&str>) -> Result<String, CliError> {
    let mut req = client()?.get(url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req
        .send()
        .map_err(|e| CliError::usage(format!("cannot reach `{url}`: {e}")))?;
    answer(url, res)
}

/// POSTs JSON to `url` (with an optional bearer token); the JSON answer.
pub fn post(
    url: &str,
    bearer: Option<&str>,
    body: &serde_json::Value,
) -> Result<serde_json::Value, CliError> {
    let mut req = client()?.post(url).json(body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req
        .send()
        .map_err(|e| CliError::usage(format!("cannot reach `{url}`: {e}")))?;
    let text = answer(url, res)?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::usage(format!("`{url}` answered with invalid JSON: {e}")))
}

/// A file's text, or a URL's body.
pub fn fetch(source: &str) -> Result<String, CliError> {
    if is_url(source) {
        get(source, None)
    } else {
        read_file(Path::new(source))
    }
}

/// Reads a key set from a file or a URL.
pub fn key_set(source: &str) -> Result<KeySet, CliError> {
    if is_url(source) {
        KeySet::from_json(&fetch(source)?).map_err(|e| CliError::usage(format!("{source}: {e}")))
    } else {
        warrant_verifier::key_set_from_file(source).map_err(|e| CliError::usage(e.to_string()))
    }
}

/// Reads a revocation list from a file, or the whole feed from a URL.
pub fn revocations(source: &str) -> Result<warrant_verifier::RevocationSet, CliError> {
    if !is_url(source) {
        return warrant_verifier::revocations_from_file(source)
            .map_err(|e| CliError::usage(e.to_string()));
    }
    let mut set = warrant_verifier::RevocationSet::new();
    loop {
        let since = set.cursor().unwrap_or(0);
        let sep = if source.contains('?') { '&' } else { '?' };
        let page = warrant_verifier::RevocationSet::parse(&get(
            &format!("{source}{sep}since={since}"),
            None,
        )?)
        .map_err(|e| CliError::usage(format!("{source}: {e}")))?;
        let empty = page.entries.is_empty();
        set.apply(&page)
            .map_err(|e| CliError::usage(format!("{source}: {e}")))?;
        if empty || set.cursor().unwrap_or(0) == since {
            return Ok(set);
        }
    }
}

/// An admin token given inline or as a file.
pub fn admin_token(arg: &str) -> Result<String, CliError> {
    let p = Path::new(arg);
    if p.exists() {
        Ok(read_file(p)?.trim().to_owned())
    } else {
        Ok(arg.trim().to_owned())
    }
}

/// Parses `ed25519/<hex>`.
pub fn public_key(text: &str) -> Result<PublicKey, CliError> {
    text.parse()
        .map_err(|e: warrant_core::keys::KeyError| CliError::usage(e.to_string()))
}

/// Writes a new file readable only by its owner (0600 on Unix), refusing to overwrite.
pub fn write_private(path: &Path, contents: &str) -> Result<(), CliError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| write_error(path, &e))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| write_error(path, &e))
}

/// Writes a new public file, refusing to overwrite.
pub fn write_public(path: &Path, contents: &str) -> Result<(), CliError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| write_error(path, &e))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| write_error(path, &e))
}

fn write_error(path: &Path, e: &std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        CliError::usage(format!(
            "`{}` already exists: refusing to overwrite it",
            path.display()
        ))
    } else {
        CliError::usage(format!("cannot write `{}`: {e}", path.display()))
    }
}

/// Writes `text` and a newline to standard output. A reader that has gone away (`| head -1`)
/// is not an error: there is no one left to tell.
pub fn out(text: impl std::fmt::Display) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::usage(format!(
            "cannot write to standard output: {e}"
        ))),
        _ => Ok(()),
    }
}
