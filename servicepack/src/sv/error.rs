//! What can go wrong reading or controlling a service directory.

use std::io;
use std::path::{Path, PathBuf};

use super::Supervisor;

/// Why [`status`](super::status), [`control`](fn@super::control) or
/// [`restart`](super::restart) failed for one directory. Every message names the
/// directory and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The directory has neither `supervise/ok` (runit, daemontools) nor
    /// `supervise/control` (s6): no supervisor has ever run it.
    #[error(
        "{}: not a supervised service directory (no supervise/ok or supervise/control in it); start a supervisor on it (`runsv DIR`, `supervise DIR`, `s6-supervise DIR`) or a scanner on its parent (runsvdir, svscan, s6-svscan)",
        dir.display()
    )]
    NotSupervised {
        /// The service directory.
        dir: PathBuf,
    },
    /// The supervisor's FIFO exists but nobody reads it: the supervisor is gone and
    /// its status file is stale.
    #[error(
        "{}: no supervisor is running it ({} has no reader, so its status file is stale); start runsv, supervise or s6-supervise on it, or the scanner that owns it",
        dir.display(),
        fifo.display()
    )]
    NotRunning {
        /// The service directory.
        dir: PathBuf,
        /// The FIFO that has no reader: `supervise/ok`, or `supervise/control` for s6.
        fifo: PathBuf,
    },
    /// The supervisor runs but has not written its status file yet.
    #[error("{}: the supervisor has not written {} yet; retry in a moment", dir.display(), path.display())]
    NoStatus {
        /// The service directory.
        dir: PathBuf,
        /// `supervise/status`.
        path: PathBuf,
    },
    /// The status file has a length that none of the supported supervisors writes.
    #[error(
        "{}: {} has {len} bytes, and neither runit (20), daemontools (18) nor s6 (35 or 43) writes that; is this a runit, daemontools or s6 service directory?",
        dir.display(),
        path.display()
    )]
    UnknownLayout {
        /// The service directory.
        dir: PathBuf,
        /// `supervise/status`.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
    },
    /// The status file has the right length for its supervisor but does not decode.
    #[error("{}: {}: {source}; the file is damaged: restart the supervisor on {} so it rewrites it", dir.display(), path.display(), dir.display())]
    Decode {
        /// The service directory.
        dir: PathBuf,
        /// `supervise/status`.
        path: PathBuf,
        /// What is wrong with the bytes.
        #[source]
        source: DecodeError,
    },
    /// The supervisor's files are not accessible to this user.
    #[error(
        "{}: permission denied opening {}; supervise/ is accessible only to the user the supervisor runs as (often root): run this as that user",
        dir.display(),
        path.display()
    )]
    PermissionDenied {
        /// The service directory.
        dir: PathBuf,
        /// The file or FIFO.
        path: PathBuf,
    },
    /// Reading a file or opening a FIFO failed for another reason.
    #[error("{}: cannot read or open {}: {source}", dir.display(), path.display())]
    Io {
        /// The service directory.
        dir: PathBuf,
        /// The file or FIFO.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The control FIFO stayed full: the supervisor is not reading its commands.
    #[error(
        "{}: {} stayed full for 2s, so `{command}` was not sent; the supervisor is not reading its commands (stopped or hung): check it with `ps`",
        dir.display(),
        path.display()
    )]
    ControlFull {
        /// The service directory.
        dir: PathBuf,
        /// `supervise/control`.
        path: PathBuf,
        /// The command that was not sent.
        command: &'static str,
    },
    /// `restart` sent `down`, and the service did not reach the down state in time.
    #[error(
        "{}: still {state} {waited_secs}s after `down`; `up` was sent anyway, so it starts again once the process exits; the `kill` command ends that process now, or give `--timeout` more time",
        dir.display()
    )]
    RestartTimeout {
        /// The service directory.
        dir: PathBuf,
        /// The state it was last seen in.
        state: super::State,
        /// How long `restart` waited, in whole seconds.
        waited_secs: u64,
    },
    /// `restart` sent `up` after the down state, and the supervisor did not take it in
    /// time.
    #[error(
        "{}: `up` was sent {waited_secs}s into the restart and the supervisor has not taken it; it is not reading its commands (stopped or hung): check it with `ps`",
        dir.display()
    )]
    NotStarted {
        /// The service directory.
        dir: PathBuf,
        /// How long `restart` waited in all, in whole seconds.
        waited_secs: u64,
    },
}

impl Error {
    /// The error for a failed read or open of `path` in `dir`.
    pub(crate) fn io(dir: &Path, path: PathBuf, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::PermissionDenied {
            Self::PermissionDenied {
                dir: dir.to_path_buf(),
                path,
            }
        } else {
            Self::Io {
                dir: dir.to_path_buf(),
                path,
                source,
            }
        }
    }
}

/// Why bytes do not decode as a supervisor's status file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The length is not what this supervisor writes.
    #[error("{len} bytes, but {supervisor} writes {expected}")]
    Length {
        /// Whose layout was expected.
        supervisor: Supervisor,
        /// The length found.
        len: usize,
        /// The lengths this supervisor writes.
        expected: &'static str,
    },
    /// A one-byte field holds a value this supervisor never writes.
    #[error("{field} byte {value:#04x}, but {supervisor} writes {expected}")]
    Byte {
        /// Whose layout was expected.
        supervisor: Supervisor,
        /// The field.
        field: &'static str,
        /// The byte found.
        value: u8,
        /// The values this supervisor writes.
        expected: &'static str,
    },
    /// A TAI64N stamp is outside what the format allows or this system can represent.
    #[error("{field}: {reason}")]
    Timestamp {
        /// Which stamp.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The pid does not fit a process id.
    #[error("pid {pid} is not a process id")]
    Pid {
        /// Whose layout was expected.
        supervisor: Supervisor,
        /// The value found.
        pid: u64,
    },
}
