//! The CLI's error: a one-line message and an exit code.

use std::fmt;

/// What a command returns when it succeeds: 0 (ok or allowed) or 1 (denied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1.
    Denied,
}

impl From<Outcome> for std::process::ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => Self::SUCCESS,
            Outcome::Denied => Self::from(1),
        }
    }
}

/// A usage or input error (exit 2), or a denial reported as an error (exit 1).
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    /// A usage or input error: exit 2.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }

    /// A denial: exit 1.
    pub(crate) fn denied(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }

    /// The exit code as a number.
    pub(crate) const fn code(&self) -> u8 {
        self.code
    }

    /// The process exit code.
    pub(crate) fn exit_code(&self) -> std::process::ExitCode {
        std::process::ExitCode::from(self.code)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.trim_end())
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        Self::usage(e.to_string())
    }
}
