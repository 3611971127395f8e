//! The two system calls the benchmarks need and std does not offer: this process's CPU
//! time (`getrusage`) and sending SIGTERM to a child (`kill`).

use std::io;
use std::time::Duration;

/// The CPU time this process has used so far, user and system, across all its threads.
///
/// # Errors
///
/// The operating system refused `getrusage`.
pub fn cpu_time() -> io::Result<Duration> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable `rusage`; `getrusage` fills it in or fails.
    #[expect(unsafe_code, reason = "std has no getrusage")]
    let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if status != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `getrusage` succeeded, so it initialised `usage` (and zeroed was valid anyway).
    #[expect(unsafe_code, reason = "reading the struct getrusage filled in")]
    let usage = unsafe { usage.assume_init() };
    Ok(timeval(usage.ru_utime) + timeval(usage.ru_stime))
}

fn timeval(time: libc::timeval) -> Duration {
    let secs = u64::try_from(time.tv_sec).unwrap_or(0);
    let micros = u64::try_from(time.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// Sends SIGTERM to the process `pid`.
///
/// # Errors
///
/// No such process, or not allowed to signal it.
pub fn terminate(pid: u32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: `kill` only sends a signal; it touches no memory of ours.
    #[expect(unsafe_code, reason = "std can only send SIGKILL to a child")]
    let status = unsafe { libc::kill(pid, libc::SIGTERM) };
    if status == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
