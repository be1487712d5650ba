//! `warrant serve`

use std::net::{SocketAddr, ToSocketAddrs};

use warrant_issuer::Config;

use crate::args::ServeArgs;
use crate::error::{CliError, Outcome};

pub(crate) fn run(a: &ServeArgs) -> Result<Outcome, CliError> {
    let mut config = match &a.config {
        Some(path) => Config::from_file(path)?,
        None => Config::defaults()?,
    };
    if let Some(dir) = &a.data_dir {
        let default_db = format!("sqlite://{}", config.data_dir.join("warrant.db").display());
        if config.database == default_db {
            config.database = format!("sqlite://{}", dir.join("warrant.db").display());
        }
        config.data_dir.clone_from(dir);
    }
    if let Some(db) = &a.database {
        config.database.clone_from(db);
    }
    if let Some(listen) = &a.listen {
        config.listen = listen_addr(listen)?;
        if config.public_url_is_default {
            config.public_url = format!("http://{}", config.listen);
        }
    }
    warrant_issuer::init_logging(a.log_json);
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::usage(format!("cannot start the runtime: {e}")))?;
    rt.block_on(warrant_issuer::serve(config))?;
    Ok(Outcome::Ok)
}

/// `--listen`: an address (`127.0.0.1:8414`, `[::1]:8414`) or a host name with a port
/// (`localhost:8414`), resolved here; an IPv4 address is preferred when a name has both.
fn listen_addr(text: &str) -> Result<SocketAddr, CliError> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let form = "write HOST:PORT, such as 127.0.0.1:8414, localhost:8414 or [::1]:8414";
    if text
        .rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        return Err(CliError::usage(format!(
            "--listen `{text}` has no port: {form}"
        )));
    }
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| {
            CliError::usage(format!(
                "--listen `{text}`: cannot resolve it ({e}): {form}"
            ))
        })?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| CliError::usage(format!("--listen `{text}` resolves to no address: {form}")))
}
