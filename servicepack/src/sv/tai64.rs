//! TAI64N timestamps as the supervisors write them, and their wall time.
//!
//! A TAI64N stamp is 12 bytes: an 8-byte big-endian label (`2^62 + TAI seconds since
//! 1970-01-01 00:00:00 TAI`) and a 4-byte big-endian nanosecond count. The two families
//! of tools fill the label differently, so the wall time depends on who wrote it:
//!
//! - djb's libtai (daemontools, runit) labels Unix time `t` as `2^62 + 10 + t` and knows
//!   no leap seconds;
//! - skalibs (s6), built without `--enable-tai-clock` as Debian builds it, adds the leap
//!   seconds since 1972 too: `2^62 + 10 + leaps(t) + t` (37 seconds ahead of Unix time
//!   since 2017). Measured: a stamp written by `s6-supervise` at Unix time `t` carries the
//!   label `2^62 + t + 37`, one written by `supervise` or `runsv` `2^62 + t + 10`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::DecodeError;

/// The label of 1970-01-01 00:00:00 TAI.
const EPOCH_LABEL: u64 = 1 << 62;
/// TAI was 10 seconds ahead of UTC when leap seconds began (1972).
const TAI_UTC_1972: u64 = 10;
/// Labels from `2^63` on are reserved by the TAI64 format.
const LABEL_END: u64 = 1 << 63;

/// Unix times at which a leap second had just been inserted (the IERS list up to the
/// one of 2016-12-31, the last announced).
const LEAP_SECONDS: [u64; 27] = [
    78_796_800,
    94_694_400,
    126_230_400,
    157_766_400,
    189_302_400,
    220_924_800,
    252_460_800,
    283_996_800,
    315_532_800,
    362_793_600,
    394_329_600,
    425_865_600,
    489_024_000,
    567_993_600,
    631_152_000,
    662_688_000,
    709_948_800,
    741_484_800,
    773_020_800,
    820_454_400,
    867_715_200,
    915_148_800,
    1_136_073_600,
    1_230_768_000,
    1_341_100_800,
    1_435_708_800,
    1_483_228_800,
];

/// Whose clock wrote the label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scale {
    /// djb's libtai: no leap seconds (daemontools, runit).
    Libtai,
    /// skalibs: leap seconds counted (s6).
    Skalibs,
}

/// One decoded TAI64N stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tai64n {
    label: u64,
    nanos: u32,
}

impl Tai64n {
    /// Reads the 12 bytes of a stamp; `field` names it in errors.
    pub(crate) fn parse(bytes: [u8; 12], field: &'static str) -> Result<Self, DecodeError> {
        let (label, nanos) = bytes.split_at(8);
        let label = u64::from_be_bytes(label.try_into().expect("8 bytes"));
        let nanos = u32::from_be_bytes(nanos.try_into().expect("4 bytes"));
        if !(EPOCH_LABEL..LABEL_END).contains(&label) {
            return Err(DecodeError::Timestamp {
                field,
                reason: format!("label {label:#018x} is outside 2^62..2^63"),
            });
        }
        if nanos >= 1_000_000_000 {
            return Err(DecodeError::Timestamp {
                field,
                reason: format!("nanosecond count {nanos} is not below 10^9"),
            });
        }
        Ok(Self { label, nanos })
    }

    /// The wall time this stamp means on `scale`.
    pub(crate) fn wall_time(
        self,
        scale: Scale,
        field: &'static str,
    ) -> Result<SystemTime, DecodeError> {
        let tai = self.label - EPOCH_LABEL;
        let before_1972 = || DecodeError::Timestamp {
            field,
            reason: format!("{tai} TAI seconds is before 1970-01-01 UTC"),
        };
        let since_epoch = tai.checked_sub(TAI_UTC_1972).ok_or_else(before_1972)?;
        let unix = match scale {
            Scale::Libtai => since_epoch,
            Scale::Skalibs => from_skalibs(since_epoch),
        };
        UNIX_EPOCH
            .checked_add(Duration::new(unix, self.nanos))
            .ok_or_else(|| DecodeError::Timestamp {
                field,
                reason: format!(
                    "{unix} seconds after 1970 is beyond what this system's clock represents"
                ),
            })
    }
}

/// Unix time of `t` = Unix time plus the leap seconds inserted before it.
fn from_skalibs(t: u64) -> u64 {
    // The n-th leap second (1-based) moved the skalibs label of its Unix time by n.
    let leaps = LEAP_SECONDS
        .iter()
        .zip(1..)
        .take_while(|&(&at, n)| at + n <= t)
        .count() as u64;
    t - leaps
}

/// Whole seconds from `since` to `now`, as libtai's tools count them: the difference of
/// the whole-second labels, 0 for a stamp in the future.
pub(crate) fn whole_seconds_between(since: SystemTime, now: SystemTime) -> u64 {
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    secs(now).saturating_sub(secs(since))
}

/// Whole seconds from `since` to `now`, as skalibs counts them: the exact difference,
/// truncated; 0 for a stamp in the future.
pub(crate) fn elapsed_seconds_between(since: SystemTime, now: SystemTime) -> u64 {
    now.duration_since(since).map_or(0, |d| d.as_secs())
}

/// RFC 3339 UTC with milliseconds: `2026-12-01T16:00:00.000Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    crate::Timestamp::from(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(label: u64, nanos: u32) -> [u8; 12] {
        let mut bytes = [0; 12];
        bytes[..8].copy_from_slice(&label.to_be_bytes());
        bytes[8..].copy_from_slice(&nanos.to_be_bytes());
        bytes
    }

    #[test]
    fn libtai_labels_unix_time_plus_ten() {
        let t = Tai64n::parse(stamp(EPOCH_LABEL + 10 + 1_796_144_728, 5), "stamp").unwrap();
        let wall = t.wall_time(Scale::Libtai, "stamp").unwrap();
        assert_eq!(wall, UNIX_EPOCH + Duration::new(1_796_144_728, 5));
    }

    #[test]
    fn skalibs_labels_count_the_leap_seconds() {
        // Since 2017: 10 + 27 leap seconds.
        let t = Tai64n::parse(stamp(EPOCH_LABEL + 37 + 1_796_144_718, 0), "stamp").unwrap();
        let wall = t.wall_time(Scale::Skalibs, "stamp").unwrap();
        assert_eq!(wall, UNIX_EPOCH + Duration::from_secs(1_796_144_718));
        // Before the first leap second, only the 10 seconds of 1972.
        let t = Tai64n::parse(stamp(EPOCH_LABEL + 10 + 1000, 0), "stamp").unwrap();
        let wall = t.wall_time(Scale::Skalibs, "stamp").unwrap();
        assert_eq!(wall, UNIX_EPOCH + Duration::from_secs(1000));
        // 1990-06-01: 15 leap seconds had been inserted.
        let t = Tai64n::parse(stamp(EPOCH_LABEL + 10 + 15 + 644_198_400, 0), "stamp").unwrap();
        let wall = t.wall_time(Scale::Skalibs, "stamp").unwrap();
        assert_eq!(wall, UNIX_EPOCH + Duration::from_secs(644_198_400));
    }

    #[test]
    fn labels_outside_the_format_are_errors() {
        let low = Tai64n::parse(stamp(EPOCH_LABEL - 1, 0), "stamp").unwrap_err();
        assert!(low.to_string().contains("outside 2^62..2^63"), "{low}");
        let nanos = Tai64n::parse(stamp(EPOCH_LABEL + 20, 1_000_000_000), "stamp").unwrap_err();
        assert!(nanos.to_string().contains("not below 10^9"), "{nanos}");
        let early = Tai64n::parse(stamp(EPOCH_LABEL + 3, 0), "stamp").unwrap();
        let error = early.wall_time(Scale::Libtai, "stamp").unwrap_err();
        assert!(error.to_string().contains("before 1970"), "{error}");
    }

    #[test]
    fn seconds_are_counted_as_each_family_counts_them() {
        let since = UNIX_EPOCH + Duration::new(100, 900_000_000);
        let now = UNIX_EPOCH + Duration::new(102, 100_000_000);
        assert_eq!(whole_seconds_between(since, now), 2);
        assert_eq!(elapsed_seconds_between(since, now), 1);
        assert_eq!(whole_seconds_between(now, since), 0);
        assert_eq!(elapsed_seconds_between(now, since), 0);
    }

    #[test]
    fn formats_rfc3339_with_milliseconds() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::new(1_796_140_800, 123_456_789);
        assert_eq!(rfc3339(t), "2026-12-01T16:00:00.123Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap_day), "2000-02-29T00:00:00.000Z");
    }
}
