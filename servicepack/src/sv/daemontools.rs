//! daemontools' `supervise/status`, as `supervise` writes it and `svstat` reads it.
//!
//! 18 bytes: a TAI64N stamp of the last state change (libtai scale), the pid as 4
//! little-endian bytes (0 when down), a paused byte (non-zero after `svc -p`) and the
//! want byte (`u` or `d`, or 0 after `svc -o`: no preference). There is no finish state: daemontools runs no `./finish`.

use super::tai64::{Scale, Tai64n};
use super::{DecodeError, Record, State, Supervisor};

/// What `supervise` writes.
pub(crate) const SIZE: usize = 18;

pub(crate) fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    let bytes: &[u8; SIZE] = bytes.try_into().map_err(|_| DecodeError::Length {
        supervisor: Supervisor::Daemontools,
        len: bytes.len(),
        expected: "18",
    })?;
    let (stamp, rest) = bytes.split_at(12);
    let stamp = Tai64n::parse(stamp.try_into().expect("12 bytes"), "stamp")?;
    let pid = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let [paused, want] = [rest[4], rest[5]];
    let want = super::want_byte(Supervisor::Daemontools, want)?;
    // `svstat`: up is a non-zero pid; "paused" only while up.
    let pid = (pid != 0).then_some(pid);
    let state = match pid {
        None => State::Down,
        Some(_) if paused != 0 => State::Paused,
        Some(_) => State::Up,
    };
    Ok(Record {
        supervisor: Supervisor::Daemontools,
        state,
        pid,
        since: stamp.wall_time(Scale::Libtai, "stamp")?,
        ready: None,
        want_up: pid.is_none() && want == Some(true),
        want_down: pid.is_some() && want == Some(false),
    })
}
