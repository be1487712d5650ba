//! Loading a key set or a revocation list from a file.

use std::path::Path;

use warrant_core::keys::{KeyError, KeySet};

use crate::revocation::{RevocationError, RevocationSet};

/// Why a file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a valid key set.
    #[error("`{path}`: {source}")]
    KeySet {
        /// The file.
        path: String,
        /// Why.
        source: KeyError,
    },
    /// Not a valid revocation list.
    #[error("`{path}`: {source}")]
    Revocations {
        /// The file.
        path: String,
        /// Why.
        source: RevocationError,
    },
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a key set file (the format of `/.well-known/warrant-keys`).
pub fn key_set_from_file(path: impl AsRef<Path>) -> Result<KeySet, LoadError> {
    let path = path.as_ref();
    KeySet::from_json(&read(path)?).map_err(|source| LoadError::KeySet {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a revocation list file (the feed format).
pub fn revocations_from_file(path: impl AsRef<Path>) -> Result<RevocationSet, LoadError> {
    let path = path.as_ref();
    RevocationSet::from_json(&read(path)?).map_err(|source| LoadError::Revocations {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file() {
        let e = key_set_from_file("/nonexistent/keys.json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read `/nonexistent/keys.json`"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("warrant-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("keys.json");
        std::fs::write(&bad, "{}").unwrap();
        let e = key_set_from_file(&bad).unwrap_err();
        assert!(e.to_string().contains("invalid key set"), "{e}");
        std::fs::write(&bad, r#"{"entries": []}"#).unwrap();
        assert!(revocations_from_file(&bad).unwrap().is_empty());
        std::fs::write(&bad, "[]").unwrap();
        assert!(revocations_from_file(&bad)
            .unwrap_err()
            .to_string()
            .contains("invalid revocation list"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
