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

/// Reads a key set file.
pub fn key_set(path: &Path) -> Result<KeySet, CliError> {
    warrant_verifier::key_set_from_file(path).map_err(|e| CliError::usage(e.to_string()))
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
