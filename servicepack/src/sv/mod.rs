//! Read and control runit, daemontools and s6 service directories, as `sv`, `svstat`/`svc`
//! and `s6-svstat`/`s6-svc` do.
//!
//! The supervisor is told from the directory: `runsv` and `supervise` keep a
//! `supervise/ok` FIFO open (their status files are 20 and 18 bytes), `s6-supervise`
//! keeps `supervise/control` open and has no `ok` (its status file is 35 or 43 bytes).
//! A FIFO that nobody reads means the supervisor is gone and what its status file says
//! is stale: that is an [`Error::NotRunning`], never a status.
//!
//! Everything here blocks briefly on the file system and never on the supervisor: the
//! FIFOs are opened and written without blocking, a full control FIFO is retried for
//! at most two seconds, and [`restart`] waits at most its timeout.
//!
//! The status of one directory:
//!
//! ```no_run
//! use servicepack::sv::{self, State};
//!
//! let status = sv::status("/etc/service/api")?;
//! println!(
//!     "{} ({}): {} for {}s, pid {:?}",
//!     status.name, status.record.supervisor, status.record.state, status.seconds, status.record.pid
//! );
//! if status.record.state == State::Down && status.record.want_up {
//!     eprintln!("{} wants up but is down: see its log", status.name);
//! }
//! # Ok::<(), servicepack::sv::Error>(())
//! ```
//!
//! Sending one control command (one byte into `supervise/control`):
//!
//! ```no_run
//! use servicepack::sv::{self, Control};
//!
//! sv::control("/etc/service/api", Control::Hup)?;
//! # Ok::<(), servicepack::sv::Error>(())
//! ```
//!
//! Decoding bytes read elsewhere, here an 18-byte daemontools status of a process up
//! since 2026-12-01 16:00:00 UTC with pid 4242:
//!
//! ```
//! use servicepack::sv::{Record, State, Supervisor};
//!
//! let mut bytes = Vec::new();
//! bytes.extend_from_slice(&((1u64 << 62) + 10 + 1_796_140_800).to_be_bytes());
//! bytes.extend_from_slice(&0u32.to_be_bytes());
//! bytes.extend_from_slice(&4242u32.to_le_bytes());
//! bytes.extend_from_slice(b"\0u");
//! let record = Record::decode(Supervisor::Daemontools, &bytes)?;
//! assert_eq!(record.state, State::Up);
//! assert_eq!(record.pid, Some(4242));
//! assert!(Record::decode(Supervisor::Runit, &bytes).is_err());
//! # Ok::<(), servicepack::sv::DecodeError>(())
//! ```

mod control;
mod daemontools;
mod error;
mod runit;
mod s6;
mod tai64;

pub(crate) mod cli;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

pub use error::{DecodeError, Error};

use control::Open;

/// Which supervisor runs a service directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Supervisor {
    /// runit's `runsv`.
    Runit,
    /// daemontools' `supervise`.
    Daemontools,
    /// s6's `s6-supervise`.
    S6,
}

impl Supervisor {
    /// The name used in output: `runit`, `daemontools`, `s6`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Runit => "runit",
            Self::Daemontools => "daemontools",
            Self::S6 => "s6",
        }
    }
}

impl fmt::Display for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a supervised process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Running.
    Up,
    /// Not running.
    Down,
    /// The process exited and `./finish` runs (runit, s6).
    Finishing,
    /// Running, stopped with `SIGSTOP` by a `pause` command.
    Paused,
}

impl State {
    /// The name used in output: `up`, `down`, `finishing`, `paused`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Finishing => "finishing",
            Self::Paused => "paused",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a status file says, decoded as the supervisor's own status tool decodes it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// Who wrote it.
    pub supervisor: Supervisor,
    /// The process's state.
    pub state: State,
    /// The pid the status tool shows: the process's while up or paused; runit's
    /// `./finish` while finishing (`sv` shows it), none for s6 finishing (`s6-svstat`
    /// shows none).
    pub pid: Option<u32>,
    /// When the process entered this state (the status file's TAI64N stamp as wall time).
    pub since: SystemTime,
    /// s6 only: up and readiness notified (`s6-svstat -o ready`); `None` for runit and
    /// daemontools, which know nothing of readiness.
    pub ready: Option<bool>,
    /// Not running, and the supervisor wants it up (the status tools' "want up").
    pub want_up: bool,
    /// Running, and the supervisor wants it down (the status tools' "want down").
    pub want_down: bool,
}

impl Record {
    /// Decodes the bytes of a `supervise/status` file written by `supervisor`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for a length this supervisor never writes (runit 20 bytes,
    /// daemontools 18, s6 35 or 43), a state or want byte it never writes, a TAI64N
    /// stamp outside the format, or a pid that is no process id.
    pub fn decode(supervisor: Supervisor, bytes: &[u8]) -> Result<Self, DecodeError> {
        match supervisor {
            Supervisor::Runit => runit::decode(bytes),
            Supervisor::Daemontools => daemontools::decode(bytes),
            Supervisor::S6 => s6::decode(bytes),
        }
    }

    /// Whole seconds in this state at `now`, counted as the supervisor's status tool
    /// counts them; 0 for a stamp in the future.
    #[must_use]
    pub fn seconds_at(&self, now: SystemTime) -> u64 {
        match self.supervisor {
            Supervisor::Runit | Supervisor::Daemontools => {
                tai64::whole_seconds_between(self.since, now)
            }
            Supervisor::S6 => tai64::elapsed_seconds_between(self.since, now),
        }
    }

    /// [`since`](Self::since) as RFC 3339 UTC with milliseconds.
    #[must_use]
    pub fn since_rfc3339(&self) -> String {
        tai64::rfc3339(self.since)
    }
}

/// The status of one service directory, read from its running supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The directory's name (its last path component).
    pub name: String,
    /// The directory as given.
    pub dir: PathBuf,
    /// The decoded status file.
    pub record: Record,
    /// Whole seconds in this state when it was read.
    pub seconds: u64,
    /// No `down` file in the directory: the supervisor starts it when it starts.
    pub normally_up: bool,
}

/// A command for the supervisor: one byte written to `supervise/control`. The bytes
/// are the same for runit, daemontools and s6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Control {
    /// `u`: start it, and restart it whenever it exits.
    Up,
    /// `d`: send `SIGTERM` then `SIGCONT`, and do not restart it.
    Down,
    /// `o`: start it if down, and do not restart it when it exits.
    Once,
    /// `t`: send `SIGTERM`.
    Term,
    /// `k`: send `SIGKILL`.
    Kill,
    /// `h`: send `SIGHUP`.
    Hup,
    /// `p`: send `SIGSTOP`.
    Pause,
    /// `c`: send `SIGCONT`.
    Cont,
}

impl Control {
    /// Every command, in the order of the command line's help.
    pub const ALL: [Self; 8] = [
        Self::Up,
        Self::Down,
        Self::Once,
        Self::Term,
        Self::Kill,
        Self::Hup,
        Self::Pause,
        Self::Cont,
    ];

    /// The byte written to `supervise/control`.
    #[must_use]
    pub fn byte(self) -> u8 {
        match self {
            Self::Up => b'u',
            Self::Down => b'd',
            Self::Once => b'o',
            Self::Term => b't',
            Self::Kill => b'k',
            Self::Hup => b'h',
            Self::Pause => b'p',
            Self::Cont => b'c',
        }
    }

    /// The command's name: `up`, `down`, `once`, `term`, `kill`, `hup`, `pause`, `cont`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Once => "once",
            Self::Term => "term",
            Self::Kill => "kill",
            Self::Hup => "hup",
            Self::Pause => "pause",
            Self::Cont => "cont",
        }
    }
}

/// Reads the status of the service directory `dir` from its running supervisor.
///
/// # Errors
///
/// [`Error::NotRunning`] when the supervisor's FIFO has no reader (what the status
/// file says would be stale), [`Error::NotSupervised`] for a directory no supervisor
/// ever ran, and the [`Error`] for a status file that is missing, unreadable or does
/// not decode.
///
/// ```no_run
/// let status = servicepack::sv::status("/etc/sv/api")?;
/// println!("{}: {} (pid {:?})", status.name, status.record.state, status.record.pid);
/// # Ok::<(), servicepack::sv::Error>(())
/// ```
pub fn status(dir: impl AsRef<Path>) -> Result<Status, Error> {
    let dir = dir.as_ref();
    let (family, _fifo) = probe(dir)?;
    let path = dir.join("supervise/status");
    let (bytes, file_len) = read_status(&path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => Error::NoStatus {
            dir: dir.to_path_buf(),
            path: path.clone(),
        },
        _ => Error::io(dir, path.clone(), source),
    })?;
    let now = SystemTime::now();
    let supervisor = match (family, bytes.len()) {
        (Family::Libtai, runit::SIZE) => Supervisor::Runit,
        (Family::Libtai, daemontools::SIZE) => Supervisor::Daemontools,
        (Family::S6, s6::SIZE_WITHOUT_PGID | s6::SIZE_WITH_PGID) => Supervisor::S6,
        (_, _) => {
            return Err(Error::UnknownLayout {
                dir: dir.to_path_buf(),
                path,
                len: file_len,
            });
        }
    };
    let record = Record::decode(supervisor, &bytes).map_err(|source| Error::Decode {
        dir: dir.to_path_buf(),
        path,
        source,
    })?;
    Ok(Status {
        name: name_of(dir),
        dir: dir.to_path_buf(),
        seconds: record.seconds_at(now),
        record,
        normally_up: !dir.join("down").exists(),
    })
}

/// Sends one command to the supervisor of `dir`.
///
/// # Errors
///
/// [`Error::NotRunning`] or [`Error::NotSupervised`] as for [`status`], and
/// [`Error::ControlFull`] when the supervisor has not read its commands for two seconds.
///
/// ```no_run
/// use servicepack::sv::{self, Control};
///
/// // `sv down`, `svc -d` or `s6-svc -d`, whichever supervises it.
/// sv::control("/etc/sv/api", Control::Down)?;
/// # Ok::<(), sv::Error>(())
/// ```
pub fn control(dir: impl AsRef<Path>, command: Control) -> Result<(), Error> {
    let dir = dir.as_ref();
    let (family, fifo) = probe(dir)?;
    let path = dir.join("supervise/control");
    // s6's liveness check opened the control FIFO already; runit and daemontools
    // answered on `ok`, and their control FIFO is read by the same process.
    let control = match (family, fifo) {
        (Family::S6, fifo) => fifo,
        (Family::Libtai, _) => match control::open(&path) {
            Ok(Open::Listening(file)) => file,
            Ok(Open::NoReader) => {
                return Err(Error::NotRunning {
                    dir: dir.to_path_buf(),
                    fifo: path,
                });
            }
            Ok(Open::Missing) => {
                return Err(Error::NotSupervised {
                    dir: dir.to_path_buf(),
                });
            }
            Err(source) => {
                return Err(Error::io(dir, path, source));
            }
        },
    };
    match control::write(&control, &[command.byte()]) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::ControlFull {
            dir: dir.to_path_buf(),
            path,
            command: command.as_str(),
        }),
        Err(source) => Err(Error::io(dir, path, source)),
    }
}

/// Restarts the service of `dir`: sends `down`, waits at most `timeout` for the down
/// state (a `./finish` script runs to its end first), then sends `up` and waits, within
/// the same `timeout`, until the supervisor has taken it. Returns that status.
///
/// # Errors
///
/// The errors of [`control`](fn@control) and [`status`], and [`Error::RestartTimeout`] when the
/// service was not down in time; `up` has been sent then too, so the supervisor starts
/// it again once the old process exits; [`Error::NotStarted`] when the supervisor did
/// not take `up` in time.
///
/// ```no_run
/// use std::time::Duration;
///
/// let status = servicepack::sv::restart("/etc/sv/api", Duration::from_secs(7))?;
/// println!("{} is {} again", status.name, status.record.state);
/// # Ok::<(), servicepack::sv::Error>(())
/// ```
pub fn restart(dir: impl AsRef<Path>, timeout: Duration) -> Result<Status, Error> {
    const POLL: Duration = Duration::from_millis(50);
    let dir = dir.as_ref();
    control(dir, Control::Down)?;
    let started = Instant::now();
    let mut last = status(dir)?;
    while last.record.state != State::Down && started.elapsed() < timeout {
        thread::sleep(POLL.min(timeout.saturating_sub(started.elapsed())));
        last = status(dir)?;
    }
    control(dir, Control::Up)?;
    if last.record.state != State::Down {
        return Err(Error::RestartTimeout {
            dir: dir.to_path_buf(),
            state: last.record.state,
            waited_secs: started.elapsed().as_secs(),
        });
    }
    // The supervisor reads `u` when it gets to it; the restart is done once it has
    // (started, or wanted up while it waits out its restart delay).
    let started_up = |status: &Status| status.record.state != State::Down || status.record.want_up;
    loop {
        let status = status(dir)?;
        if started_up(&status) {
            return Ok(status);
        }
        if started.elapsed() >= timeout {
            return Err(Error::NotStarted {
                dir: dir.to_path_buf(),
                waited_secs: started.elapsed().as_secs(),
            });
        }
        thread::sleep(POLL.min(timeout.saturating_sub(started.elapsed())));
    }
}

/// Which FIFO tells the supervisor is alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// `supervise/ok`: runit and daemontools.
    Libtai,
    /// `supervise/control`: s6.
    S6,
}

/// Finds who supervises `dir` and checks that it runs; returns the FIFO it reads.
fn probe(dir: &Path) -> Result<(Family, fs::File), Error> {
    let io_error = |path: PathBuf, source| Error::io(dir, path, source);
    let ok = dir.join("supervise/ok");
    match control::open(&ok).map_err(|source| io_error(ok.clone(), source))? {
        Open::Listening(file) => return Ok((Family::Libtai, file)),
        Open::NoReader => {
            return Err(Error::NotRunning {
                dir: dir.to_path_buf(),
                fifo: ok,
            });
        }
        Open::Missing => {}
    }
    let control = dir.join("supervise/control");
    match control::open(&control).map_err(|source| io_error(control.clone(), source))? {
        Open::Listening(file) => Ok((Family::S6, file)),
        Open::NoReader => Err(Error::NotRunning {
            dir: dir.to_path_buf(),
            fifo: control,
        }),
        Open::Missing => Err(Error::NotSupervised {
            dir: dir.to_path_buf(),
        }),
    }
}

/// The status file, read up to a little past the longest layout (whatever else sits at
/// that path is not read whole), and its length.
fn read_status(path: &Path) -> io::Result<(Vec<u8>, u64)> {
    let file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut bytes = Vec::with_capacity(64);
    file.take(64).read_to_end(&mut bytes)?;
    let len = if bytes.len() < 64 {
        bytes.len() as u64
    } else {
        len
    };
    Ok((bytes, len))
}

/// The last component of `dir`, resolving `.` and `..` when there is none.
fn name_of(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    name.or_else(|| {
        dir.canonicalize().ok().and_then(|dir| {
            dir.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
    })
    .unwrap_or_else(|| dir.display().to_string())
}

/// The want byte of runit and daemontools: `Some(true)` for `u`, `Some(false)` for `d`,
/// and for daemontools `None` for the 0 that `supervise` writes after `svc -o` (no
/// preference: `svstat` shows neither "want up" nor "want down").
fn want_byte(supervisor: Supervisor, byte: u8) -> Result<Option<bool>, DecodeError> {
    match (supervisor, byte) {
        (_, b'u') => Ok(Some(true)),
        (_, b'd') => Ok(Some(false)),
        (Supervisor::Daemontools, 0) => Ok(None),
        (Supervisor::Daemontools, value) => Err(DecodeError::Byte {
            supervisor,
            field: "want",
            value,
            expected: "'u', 'd' or 0",
        }),
        (_, value) => Err(DecodeError::Byte {
            supervisor,
            field: "want",
            value,
            expected: "'u' or 'd'",
        }),
    }
}
