//! `READY_FD=N`: one `\n` written to fd N once the app is ready.
//!
//! Taking ownership of an inherited descriptor by number (`OwnedFd::from_raw_fd`) is
//! `unsafe`, and this crate denies `unsafe_code`. So the fd is reached through
//! `/proc/self/fd/N`: opening that path opens the same pipe (or FIFO, or file) again as a
//! new file of our own, in safe code. It is opened `O_NONBLOCK` (a named FIFO without a
//! reader fails at once with `ENXIO` instead of blocking the runtime) and `O_CLOEXEC` (std's
//! default), written once and dropped, which closes it. The inherited fd N itself stays
//! open until the process exits: closing a descriptor this process does not own is exactly
//! what safe Rust rules out. s6-supervise reads up to the newline, so it sees the app
//! ready at once; a reader that waits for end-of-file sees it when the app exits.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;

/// The reopened notification fd, until the newline is written.
#[derive(Debug)]
pub(super) struct ReadyFd {
    fd: i32,
    file: Option<File>,
}

impl ReadyFd {
    /// Opens fd `fd` again for writing.
    ///
    /// # Errors
    ///
    /// The fd is not open, or cannot be opened for writing through `/proc` (a socket, a
    /// FIFO without a reader, or `/proc` not mounted).
    pub(super) fn open(fd: i32) -> io::Result<Self> {
        let file = File::options()
            .append(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(format!("/proc/self/fd/{fd}"))?;
        Ok(Self {
            fd,
            file: Some(file),
        })
    }

    /// The fd number, for messages.
    pub(super) fn fd(&self) -> i32 {
        self.fd
    }

    /// Writes the newline and closes the reopened fd; later calls do nothing.
    ///
    /// # Errors
    ///
    /// The write failed (the reader is gone, or the pipe is full).
    pub(super) fn ready(&mut self) -> io::Result<()> {
        match self.file.take() {
            Some(mut file) => file.write_all(b"\n"),
            None => Ok(()),
        }
    }
}
