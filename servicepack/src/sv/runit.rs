//! runit's `supervise/status`, as `runsv` writes it and `sv status` reads it.
//!
//! 20 bytes: a TAI64N stamp of the last state change (libtai scale), the pid as 4
//! little-endian bytes, a paused byte (non-zero after `p`), the want byte (`u` or `d`),
//! a got-TERM byte, and the state byte (0 down, 1 run, 2 finish). While `./finish`
//! runs, the pid is the finish script's and the stamp still the run's: `sv status`
//! prints both, and so do we.

use super::tai64::{Scale, Tai64n};
use super::{DecodeError, Record, State, Supervisor};

/// What `runsv` writes.
pub(crate) const SIZE: usize = 20;

pub(crate) fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    let bytes: &[u8; SIZE] = bytes.try_into().map_err(|_| DecodeError::Length {
        supervisor: Supervisor::Runit,
        len: bytes.len(),
        expected: "20",
    })?;
    let (stamp, rest) = bytes.split_at(12);
    let stamp = Tai64n::parse(stamp.try_into().expect("12 bytes"), "stamp")?;
    let pid = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let [paused, want, _got_term, state] = [rest[4], rest[5], rest[6], rest[7]];
    let want = super::want_byte(Supervisor::Runit, want)?;
    let state = match state {
        0 => State::Down,
        1 if paused != 0 => State::Paused,
        1 => State::Up,
        2 => State::Finishing,
        other => {
            return Err(DecodeError::Byte {
                supervisor: Supervisor::Runit,
                field: "state",
                value: other,
                expected: "0 (down), 1 (run) or 2 (finish)",
            });
        }
    };
    // `sv` prints the pid for run and finish, and decides "want up"/"want down" on the
    // pid alone.
    let pid = (state != State::Down && pid != 0).then_some(pid);
    Ok(Record {
        supervisor: Supervisor::Runit,
        state,
        pid,
        since: stamp.wall_time(Scale::Libtai, "stamp")?,
        ready: None,
        want_up: pid.is_none() && want == Some(true),
        want_down: pid.is_some() && want == Some(false),
    })
}
