//! Starting the service: storage, keys, seeding from the configuration, the first-run
//! admin token, the listener, graceful shutdown.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::keyring::{Kek, KeyringError};
use crate::state::{AppState, OpenError};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Opening storage, the keys or the identity providers.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The key-encryption key.
    #[error(transparent)]
    Keys(#[from] KeyringError),
    /// Files or the listener.
    #[error("{0}")]
    Io(String),
    /// Issuing the first admin credential, or the invitations of the configuration.
    #[error("{0}")]
    Admin(#[source] crate::error::ApiError),
}

impl AppState {
    /// Issues an admin credential (crate::admin) for the first start or the tests: the
    /// text to present as `Authorization: Bearer …`.
    pub async fn mint_admin_token(&self) -> Result<String, ServeError> {
        self.issue_admin_credential("issuer")
            .await
            .map(|c| c.token)
            .map_err(ServeError::Admin)
    }
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> ServeError {
    ServeError::Io(format!("cannot {what} `{}`: {e}", path.display()))
}

/// Creates `dir` (mode 0700 on Unix) if it does not exist.
fn ensure_private_dir(dir: &Path) -> Result<(), ServeError> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| io("create", dir, &e))
}

fn write_private(path: &Path, text: &str) -> Result<(), ServeError> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| io("write", path, &e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| io("write", path, &e))
}

/// Replaces `path` with a new private file holding `text` (written beside it, then renamed
/// over it, so a crash leaves the old file or the new one). The file beside it has a name
/// of its own, `.<name>.<random>.tmp`, created new: no other file is ever replaced or
/// deleted.
fn replace_private(path: &Path, text: &str) -> Result<(), ServeError> {
    use rand_core::{OsRng, RngCore};
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{:016x}.tmp", OsRng.next_u64()));
    write_private(&tmp, text)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("replace", path, &e)
    })
}

/// Runs the service until SIGTERM or ctrl-c.
pub async fn serve(mut config: Config) -> Result<(), ServeError> {
    ensure_private_dir(&config.data_dir)?;
    let kek = Kek::from_env()?;
    let database = config.database.clone();
    let listen = config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| ServeError::Io(format!("cannot listen on `{listen}`: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| ServeError::Io(e.to_string()))?;
    if config.public_url_is_default {
        config.public_url = format!("http://{bound}");
    }
    let public = config.public_url.clone();
    let admin_path: PathBuf = config.data_dir.join("admin.token");
    let state = AppState::open(config, &database, kek).await?;
    let first_run = ensure_admin_token(&state, &admin_path).await?;
    let next = next_step(
        first_run && state.config.humans.is_empty(),
        &public,
        &admin_path,
    );
    let invites: String = state
        .configured_invites()
        .await
        .map_err(ServeError::Admin)?
        .iter()
        .map(|i| {
            format!(
                "\n  invite:      {} (for `{}` to create a passkey; once, until {})",
                i.url, i.human, i.expires_at
            )
        })
        .collect();
    say(format_args!(
        "warrant issuer listening on {public}\n  key set:     {public}/.well-known/warrant-keys\n  \
         revocations: {public}/v1/revocations\n  \
         next:        {next}{invites}"
    ));
    tracing::info!(%bound, database = %redact(&database), "listening");
    let tickers = Tickers::spawn(&state);
    let last = state.clone();
    // The peer address is the client for the per-client limits.
    let app = crate::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| ServeError::Io(e.to_string()));
    tickers.pruner.abort();
    // The failed verifications tallied since the last minute's record.
    if let Err(e) = last.record_verification_failures().await {
        tracing::warn!(error = %e, "could not record the last failed verifications");
    }
    tickers.signer.abort();
    tickers.keys.abort();
    served
}

/// Makes sure `admin.token` holds an admin credential: issues one on the first start
/// (`true`), and replaces a warrant token left by an older version.
async fn ensure_admin_token(state: &AppState, admin_path: &Path) -> Result<bool, ServeError> {
    match std::fs::read_to_string(admin_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = state.mint_admin_token().await?;
            write_private(admin_path, &format!("{token}\n"))?;
            say(format_args!(
                "warrant issuer: first start. The admin credential (shown once, also in {}):\n\n{token}\n",
                admin_path.display()
            ));
            Ok(true)
        }
        Err(e) => Err(io("read", admin_path, &e)),
        // A data directory from before admin credentials: its admin token (a warrant
        // token) no longer works at the issuer. Replace it, so the upgrade keeps an admin.
        Ok(old) if !crate::admin::is_credential(&old) => {
            let token = state.mint_admin_token().await?;
            replace_private(admin_path, &format!("{token}\n"))?;
            say(format_args!(
                "warrant issuer: the admin token in {0} was a warrant token, which is no longer an admin credential; \
                 {0} now holds a new admin credential:\n\n{token}\n",
                admin_path.display()
            ));
            Ok(false)
        }
        Ok(_) => Ok(false),
    }
}

/// What to do next, as the start-up banner says it: enrol a human first when `enrol`.
fn next_step(enrol: bool, public: &str, admin_path: &Path) -> String {
    if enrol {
        format!(
            "no human is enrolled yet. Enrol one with a role and a device key (`warrant keygen`):\n               \
             in the configuration file (`[[roles]]` and `[[humans]]`, then start with --config), or\n               \
             with the admin credential through `POST /v1/roles`, then `POST /v1/humans`:\n               \
             warrant humans add <id> --role <role> --device-key <file> --url {public} --admin-token {admin}\n               \
             (docs/issuer.md, \"Enrolling a human\"); then:\n               \
             warrant mint --issuer {public} --human <id> --device-key <file> --allow read:<resource>",
            admin = admin_path.display()
        )
    } else {
        format!(
            "warrant mint --issuer {public} --human <id> --device-key <file> --allow read:<resource>"
        )
    }
}

/// The background tasks of a running issuer.
struct Tickers {
    /// Follows key rotations by other replicas.
    keys: tokio::task::JoinHandle<()>,
    /// Signs the audit head every `audit_sign_interval`.
    signer: tokio::task::JoinHandle<()>,
    /// Deletes expired rows every [`crate::limits::PRUNE_INTERVAL`].
    pruner: tokio::task::JoinHandle<()>,
}

impl Tickers {
    fn spawn(state: &AppState) -> Self {
        let reloader = state.clone();
        let keys = tokio::spawn(async move {
            // Admin tokens and the audit signer use the keys too: follow rotations by other
            // replicas even when no key set is fetched and nothing is minted here.
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tick.tick().await;
                if let Err(e) = reloader.reload_keys().await {
                    tracing::warn!(error = %e, "could not reload the signing keys");
                }
            }
        });
        let head = state.clone();
        let every = std::time::Duration::from_secs(state.config.audit_sign_interval.seconds());
        let signer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = head.sign_current_head().await {
                    tracing::warn!(error = %e, "could not sign the audit head");
                }
            }
        });
        let prune = state.clone();
        let pruner = tokio::spawn(async move {
            // Expired challenges and records go, so anonymous requests leave nothing behind.
            let mut tick = tokio::time::interval(crate::limits::PRUNE_INTERVAL);
            loop {
                tick.tick().await;
                if let Err(e) = prune.prune().await {
                    tracing::warn!(error = %e, "could not prune expired rows");
                }
            }
        });
        Self {
            keys,
            signer,
            pruner,
        }
    }
}

/// The log filter when `RUST_LOG` is not set: one line per request, and warnings.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Sends the service's logs to standard error: the `RUST_LOG` filter (default
/// [`DEFAULT_LOG_FILTER`]), JSON lines if `json`, colour only when standard error is a
/// terminal and `NO_COLOR` is not set. Does nothing if a logger is already installed.
pub fn init_logging(json: bool) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Prints to standard output; a reader that went away is no reason to stop serving.
fn say(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:…@{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    /// Replacing `admin.token` touches no other file, `admin.new` included, and leaves
    /// nothing beside it.
    #[test]
    fn replacing_a_private_file_touches_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("admin.token");
        let mine = dir.path().join("admin.new");
        std::fs::write(&token, "old\n").unwrap();
        std::fs::write(&mine, "the operator's\n").unwrap();
        super::replace_private(&token, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&token).unwrap(), "new\n");
        assert_eq!(std::fs::read_to_string(&mine).unwrap(), "the operator's\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:…@h/db"
        );
        assert_eq!(
            super::redact("sqlite://warrant-data/w.db"),
            "sqlite://warrant-data/w.db"
        );
    }
}
