//! `warrant serve`

use warrant_issuer::Config;

use crate::args::ServeArgs;
use crate::error::{CliError, Outcome};

pub fn run(a: &ServeArgs) -> Result<Outcome, CliError> {
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
        config.listen = listen.parse().map_err(|_| {
            CliError::usage(format!(
                "--listen `{listen}`: expected an address such as 127.0.0.1:8414"
            ))
        })?;
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
