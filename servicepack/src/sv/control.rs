//! The supervisor's FIFOs, always opened for writing without blocking.
//!
//! Opening a FIFO write-only with `O_NONBLOCK` fails with `ENXIO` when no process has it
//! open for reading, which is how `sv`, `svc` and `s6-svc` tell a live supervisor from
//! the files a dead one left behind: `runsv` and `supervise` keep `supervise/ok` open
//! for reading, `s6-supervise` keeps `supervise/control` open. A blocking open would hang
//! on a dead supervisor instead, and a blocking write on a full FIFO.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// How long a write waits for room in a full control FIFO (a supervisor that stopped
/// reading it) before giving up.
pub(crate) const WRITE_BOUND: Duration = Duration::from_secs(2);
const WRITE_PAUSE: Duration = Duration::from_millis(20);

/// What opening a supervisor FIFO found.
#[derive(Debug)]
pub(crate) enum Open {
    /// A supervisor reads it.
    Listening(File),
    /// The FIFO exists and nobody reads it.
    NoReader,
    /// The FIFO does not exist.
    Missing,
}

pub(crate) fn open(path: &Path) -> io::Result<Open> {
    match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => Ok(Open::Listening(file)),
        Err(error) if error.raw_os_error() == Some(libc::ENXIO) => Ok(Open::NoReader),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Open::Missing),
        Err(error) => Err(error),
    }
}

/// Writes `bytes` to an open FIFO, retrying while it is full, for at most
/// [`WRITE_BOUND`]; `Ok(false)` when the bound passed first.
pub(crate) fn write(mut fifo: &File, mut bytes: &[u8]) -> io::Result<bool> {
    let deadline = Instant::now() + WRITE_BOUND;
    while !bytes.is_empty() {
        match fifo.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Ok(false);
                }
                thread::sleep(WRITE_PAUSE);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}
