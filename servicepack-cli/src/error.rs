//! Why a command refused or failed: one message that names the thing and the fix.

use std::fmt;
use std::io;
use std::path::Path;

/// A refusal or a failure; `main` prints it as `error: <message>` and exits 1.
#[derive(Debug)]
pub(crate) struct Failure(String);

impl Failure {
    /// A refusal with its whole message.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// An I/O error while doing `action` (`"write"`, `"read"`, …) on `path`.
    pub(crate) fn io(action: &str, path: &Path, error: &io::Error) -> Self {
        Self(format!("cannot {action} {}: {error}", path.display()))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

impl From<crate::names::NameError> for Failure {
    fn from(error: crate::names::NameError) -> Self {
        Self(error.to_string())
    }
}
