//! s6's `supervise/status`, as `s6-supervise` writes it and `s6-svstat` reads it.
//!
//! Two layouts, told apart by length, both big-endian, stamps on the skalibs scale:
//!
//! - 35 bytes (what Debian's s6 2.11 writes, measured): stamp (12), ready stamp (12),
//!   pid (8), wait status (2), flags (1);
//! - 43 bytes (later upstream releases): the same with the process group id (8) after
//!   the pid.
//!
//! Flags: 1 paused, 2 finishing, 4 want up, 8 ready; other bits are ignored, as
//! `s6_svstatus_unpack` ignores them. While `./finish` runs the pid field holds the finish
//! script's pid and the finishing flag is set; `s6-svstat` then says "down" with no pid,
//! and we say `finishing` with no pid.

use super::tai64::{Scale, Tai64n};
use super::{DecodeError, Record, State, Supervisor};

/// The layout without the process group id.
pub(crate) const SIZE_WITHOUT_PGID: usize = 35;
/// The layout with the process group id.
pub(crate) const SIZE_WITH_PGID: usize = 43;

const PAUSED: u8 = 1;
const FINISHING: u8 = 2;
const WANT_UP: u8 = 4;
const READY: u8 = 8;

pub(crate) fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    let flags_at = match bytes.len() {
        SIZE_WITHOUT_PGID => 34,
        SIZE_WITH_PGID => 42,
        len => {
            return Err(DecodeError::Length {
                supervisor: Supervisor::S6,
                len,
                expected: "35 or 43",
            });
        }
    };
    let stamp = |at: usize, field| {
        let mut raw = [0; 12];
        raw.copy_from_slice(&bytes[at..at + 12]);
        Tai64n::parse(raw, field)
    };
    let since = stamp(0, "stamp")?.wall_time(Scale::Skalibs, "stamp")?;
    // The ready stamp is checked like the stamp, though no field shows it: a file whose
    // second stamp is garbage is not a status file.
    stamp(12, "ready stamp")?.wall_time(Scale::Skalibs, "ready stamp")?;
    let mut raw = [0; 8];
    raw.copy_from_slice(&bytes[24..32]);
    let raw_pid = u64::from_be_bytes(raw);
    let pid = u32::try_from(raw_pid)
        .ok()
        .filter(|&pid| i32::try_from(pid).is_ok())
        .ok_or(DecodeError::Pid {
            supervisor: Supervisor::S6,
            pid: raw_pid,
        })?;
    let flags = bytes[flags_at];
    let finishing = flags & FINISHING != 0;
    let wants_up = flags & WANT_UP != 0;
    let state = match () {
        () if pid == 0 => State::Down,
        () if finishing => State::Finishing,
        () if flags & PAUSED != 0 => State::Paused,
        () => State::Up,
    };
    // `s6-svstat`: up is a pid and not finishing; ready is a pid and the ready flag.
    let up = pid != 0 && !finishing;
    Ok(Record {
        supervisor: Supervisor::S6,
        state,
        pid: up.then_some(pid),
        since,
        ready: Some(pid != 0 && flags & READY != 0),
        want_up: !up && wants_up,
        want_down: up && !wants_up,
    })
}
