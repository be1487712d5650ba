//! Reading tokens, grants and keys; writing key files.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use warrant_core::grant::Grant;
use warrant_core::keys::{HolderPublicKey, HolderSigningKey, KeySet, PublicKey, SigningKey};
use warrant_issuer::api::Problem;

use crate::args::TokenArgs;
use crate::error::CliError;

/// Reads standard input, for `-`.
fn stdin_text(what: &str) -> Result<String, CliError> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| CliError::usage(format!("cannot read {what} from standard input: {e}")))?;
    Ok(s)
}

/// The token a command was given, as URL-safe base64 text: every command that takes a
/// token reads it here, so each gets the same checks and the same advice.
pub(crate) fn token(args: &TokenArgs) -> Result<String, CliError> {
    match (&args.token, &args.token_file) {
        (Some(t), _) => token_arg(t),
        (None, Some(path)) => token_file(path),
        (None, None) => Err(CliError::usage(
            "give --token (`-` reads standard input) or --token-file",
        )),
    }
}

/// `--token TEXT`, or `-` for standard input.
pub(crate) fn token_arg(arg: &str) -> Result<String, CliError> {
    if arg == "-" {
        return token_text(&stdin_text("the token")?, "the token on standard input");
    }
    let trimmed = arg.trim();
    // URL-safe base64 has no `/`, `\` or `.`: such a value is a file name or a JWT.
    if trimmed.contains(['/', '\\', '.']) && !trimmed.contains(char::is_whitespace) {
        if Path::new(trimmed).is_file() {
            return Err(CliError::usage(format!(
                "--token `{trimmed}` is a file name, not a token: use --token-file {trimmed} \
                 (or --token \"$(cat {trimmed})\")"
            )));
        }
        if trimmed.starts_with("eyJ") && trimmed.matches('.').count() == 2 {
            return Err(CliError::usage(
                "--token: this is a JWT (such as a DPoP proof), not a warrant token: \
                 give the token itself (what `warrant mint` printed)",
            ));
        }
        return Err(CliError::usage(format!(
            "--token `{trimmed}` is neither a token (URL-safe base64 has no `/`, `\\` or `.`) \
             nor an existing file: check the file name, and read a file with --token-file FILE"
        )));
    }
    token_text(arg, "--token")
}

/// `--token-file FILE`: base64 text (checked as `--token` is) or raw Biscuit bytes.
pub(crate) fn token_file(path: &Path) -> Result<String, CliError> {
    let raw = fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read `{}`: {e}", path.display())))?;
    let what = format!("`{}`", path.display());
    match std::str::from_utf8(&raw) {
        Ok(text) if looks_like_text(text) => token_text(text, &what),
        _ => {
            use base64::Engine as _;
            Ok(base64::engine::general_purpose::URL_SAFE.encode(&raw))
        }
    }
}

/// Whether a token file holds text (the base64 form, perhaps wrapped or with a scheme)
/// rather than raw Biscuit bytes.
fn looks_like_text(text: &str) -> bool {
    !text.trim().is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=+/ \t\r\n".contains(c))
}

/// Checks token text from `what`; the token without surrounding white space.
///
/// The mistakes refused here are the ones that otherwise end in a bare "not base64":
/// a token wrapped over several lines, and a token copied with its `Authorization` scheme.
pub(crate) fn token_text(text: &str, what: &str) -> Result<String, CliError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(CliError::usage(format!("{what}: the token is empty")));
    }
    if let Some((scheme, _)) = t.split_once(char::is_whitespace) {
        if ["bearer", "dpop"].contains(&scheme.to_ascii_lowercase().as_str()) {
            return Err(CliError::usage(format!(
                "{what} starts with `{scheme} `, the HTTP authorization scheme: give the token alone, without it"
            )));
        }
    }
    if let Some((at, c)) = t.chars().enumerate().find(|(_, c)| c.is_whitespace()) {
        let kind = if c == '\n' || c == '\r' {
            "a line break"
        } else {
            "white space"
        };
        return Err(CliError::usage(format!(
            "{what} contains {kind} at character {}: a token is one line of URL-safe base64, so it \
             was probably wrapped when copied; join the lines (such as with `tr -d ' \\n'`) and try again",
            at + 1
        )));
    }
    Ok(t.to_owned())
}

/// Reads a file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<String, CliError> {
    fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read `{}`: {e}", path.display())))
}

/// Reads a grant file: TOML when it ends in `.toml`, JSON otherwise; `-` is JSON on stdin.
pub(crate) fn grant_file(path: &Path) -> Result<Grant, CliError> {
    let text = if path.as_os_str() == "-" {
        stdin_text("the grant")?
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

/// Reads a private key file (Ed25519: an issuer's or a human's device key).
pub(crate) fn signing_key(path: &Path) -> Result<SigningKey, CliError> {
    SigningKey::from_pem(&read_file(path)?)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

/// Reads an agent's private key file: Ed25519 or P-256.
pub(crate) fn holder_signing_key(path: &Path) -> Result<HolderSigningKey, CliError> {
    HolderSigningKey::from_pem(&read_file(path)?)
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
    let detail = serde_json::from_str::<Problem>(&text).map_or(text, |p| p.detail);
    let message = format!("`{url}` answered {status}: {detail}");
    // A refusal by the issuer is a denial (1); anything else an error (2).
    if status == reqwest::StatusCode::FORBIDDEN || status == reqwest::StatusCode::UNAUTHORIZED {
        Err(CliError::denied(message))
    } else {
        Err(CliError::usage(message))
    }
}

/// Why `url` could not be reached, by the innermost cause (reqwest's own message names
/// only the URL), and what to check.
fn unreachable(url: &str, e: &reqwest::Error) -> CliError {
    let cause = if e.is_timeout() {
        "no answer within 15 seconds".to_owned()
    } else {
        let mut inner: &dyn std::error::Error = e;
        while let Some(next) = inner.source() {
            inner = next;
        }
        inner.to_string()
    };
    CliError::usage(format!(
        "cannot reach `{url}`: {cause}; check the URL and that the server is running"
    ))
}

/// GETs `url` (with an optional bearer token).
pub(crate) fn get(url: &str, bearer: Option<&str>) -> Result<String, CliError> {
    let mut req = client()?.get(url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req.send().map_err(|e| unreachable(url, &e))?;
    answer(url, res)
}

/// POSTs `body` as JSON to `url` (with an optional bearer token); the answer, read as the
/// issuer's wire type `R` (`warrant_issuer::api`).
pub(crate) fn post<B: Serialize, R: DeserializeOwned>(
    url: &str,
    bearer: Option<&str>,
    body: &B,
) -> Result<R, CliError> {
    send(url, bearer, client()?.post(url).json(body))
}

/// POSTs to `url` without a body (with an optional bearer token); the answer, read as `R`.
pub(crate) fn post_empty<R: DeserializeOwned>(
    url: &str,
    bearer: Option<&str>,
) -> Result<R, CliError> {
    send(url, bearer, client()?.post(url))
}

/// Sends `method` to `url` with the DPoP proof `proof` (and `body` as JSON): the status,
/// its `Retry-After` (seconds) and the body of a success, or the problem the answer
/// reports as an error.
pub(crate) fn with_proof<B: Serialize>(
    method: &str,
    url: &str,
    proof: &str,
    body: Option<&B>,
) -> Result<(u16, Option<u64>, String), CliError> {
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| CliError::usage(format!("method `{method}`: {e}")))?;
    let mut req = client()?.request(method, url).header("DPoP", proof);
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().map_err(|e| unreachable(url, &e))?;
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    Ok((status, retry_after, answer(url, res)?))
}

/// Sends `req` to `url`; its JSON answer, read as `R`.
fn send<R: DeserializeOwned>(
    url: &str,
    bearer: Option<&str>,
    mut req: reqwest::blocking::RequestBuilder,
) -> Result<R, CliError> {
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req.send().map_err(|e| unreachable(url, &e))?;
    let text = answer(url, res)?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!(
            "`{url}` answered with JSON this `warrant` cannot read ({e}): is it a warrant issuer of the same version?"
        ))
    })
}

/// A file's text, or a URL's body.
pub(crate) fn fetch(source: &str) -> Result<String, CliError> {
    if is_url(source) {
        get(source, None)
    } else {
        read_file(Path::new(source))
    }
}

/// Reads a key set from a file or a URL.
pub(crate) fn key_set(source: &str) -> Result<KeySet, CliError> {
    if is_url(source) {
        KeySet::from_json(&fetch(source)?).map_err(|e| CliError::usage(format!("{source}: {e}")))
    } else if source.starts_with("ed25519/") {
        Err(CliError::usage(format!(
            "--keys `{source}` is a public key, not a key-set file: give it as --public-key {source}"
        )))
    } else {
        let text = read_file(Path::new(source))?;
        if text.contains("PRIVATE KEY-----") {
            return Err(CliError::usage(format!(
                "--keys `{source}` is a private key: verifiers need only the public key set \
                 (`warrant keygen --public-out keys.json` writes it) or --public-key ed25519/…; \
                 keep the private key with the issuer"
            )));
        }
        KeySet::from_json(&text).map_err(|e| CliError::usage(format!("`{source}`: {e}")))
    }
}

/// Reads a revocation list from a file, or the whole feed from a URL.
pub(crate) fn revocations(source: &str) -> Result<warrant_verifier::RevocationSet, CliError> {
    if !is_url(source) {
        return warrant_verifier::revocations_from_file(source)
            .map_err(|e| CliError::usage(e.to_string()));
    }
    let mut follower = warrant_verifier::RevocationFollower::new();
    loop {
        let page = get(&follower.next_query().url(source), None)?;
        let step = follower
            .apply_page(&page)
            .map_err(|e| CliError::usage(format!("{source}: {e}")))?;
        if step.caught_up {
            return Ok(follower.into_revocations());
        }
    }
}

/// An admin token given inline or as a file (sent as `Authorization: Bearer …`).
///
/// A value that names no file but looks like a path (it has a `/` or `\\`, or ends in
/// `.token`) is a mistyped file name: it is refused rather than sent as the token.
pub(crate) fn admin_token(arg: &str) -> Result<String, CliError> {
    let p = Path::new(arg);
    if p.exists() {
        return token_text(&read_file(p)?, &format!("--admin-token file `{arg}`"));
    }
    let t = arg.trim();
    if t.contains(['/', '\\']) || t.ends_with(".token") {
        return Err(CliError::usage(format!(
            "--admin-token `{t}`: no such file; give the admin token, or the file holding it \
             (the issuer writes it to warrant-data/admin.token)"
        )));
    }
    token_text(t, "--admin-token")
}

/// An HTTP method as a DPoP proof names it: methods are case-sensitive (RFC 9110) and a
/// proof for `get` does not match a `GET` request, so lower case is refused, naming the
/// upper-case form.
pub(crate) fn http_method(text: &str) -> Result<&str, CliError> {
    const TCHAR: &str = "!#$%&'*+-.^_`|~";
    if text.is_empty()
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || TCHAR.contains(c))
    {
        return Err(CliError::usage(format!(
            "--method `{text}` is not an HTTP method: write it as the request does, such as GET or POST"
        )));
    }
    if text.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(CliError::usage(format!(
            "--method `{text}`: HTTP methods are case-sensitive and a request's is upper case: write --method {}",
            text.to_ascii_uppercase()
        )));
    }
    Ok(text)
}

/// Parses `ed25519/<hex>`.
pub(crate) fn public_key(text: &str) -> Result<PublicKey, CliError> {
    text.parse()
        .map_err(|e: warrant_core::keys::KeyError| CliError::usage(e.to_string()))
}

/// Parses an agent's public key: `ed25519/<hex>` or `secp256r1/<hex>`.
pub(crate) fn holder_key(text: &str) -> Result<HolderPublicKey, CliError> {
    text.parse()
        .map_err(|e: warrant_core::keys::KeyError| CliError::usage(e.to_string()))
}

/// Writes a new file readable only by its owner (0600 on Unix), refusing to overwrite.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), CliError> {
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

/// Replaces `path` with a new private file holding `contents`: written beside it under a
/// name of its own (`.<name>.<random>.tmp`, created new, so no other file is ever replaced
/// or deleted), then renamed over it, so a crash leaves the old file or the new one.
pub(crate) fn replace_private(path: &Path, contents: &str) -> Result<(), CliError> {
    use rand_core::{OsRng, RngCore};
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{:016x}.tmp", OsRng.next_u64()));
    write_private(&tmp, contents)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        CliError::usage(format!("cannot replace `{}`: {e}", path.display()))
    })
}

/// Writes a new public file, refusing to overwrite.
pub(crate) fn write_public(path: &Path, contents: &str) -> Result<(), CliError> {
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
pub(crate) fn out(text: impl std::fmt::Display) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::usage(format!(
            "cannot write to standard output: {e}"
        ))),
        _ => Ok(()),
    }
}
