//! Go duration syntax: `"500ms"`, `"10s"`, `"1m30s"`, `"1.5h"`.
//!
//! This file depends on `core` and `std` only: `servicepack-macros` and
//! `servicepack-cli` compile it too (`servicepack-macros/src/shared/duration.rs` is a
//! symlink to it), so that `#[service(delay = "2s")]` is checked at compile time by the
//! very parser that reads `RUNNER_SHUTDOWNTIMEOUT` at run time.

use std::fmt;
use std::time::Duration;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    input: String,
    reason: String,
}

impl DurationError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// What was wrong with the input, without the input itself.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration {:?}: {}; write a number and a unit (ns, us, ms, s, m, h) like \"500ms\", \"10s\" or \"1m30s\"",
            self.input, self.reason
        )
    }
}

impl std::error::Error for DurationError {}

const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

fn unit_nanos(unit: &str) -> Option<u128> {
    UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|&(_, nanos)| nanos)
}

/// Parses a Go duration: one or more `<number><unit>` pairs such as `"1m30s"`, where a
/// number may have a fraction (`"1.5s"`) and a unit is `ns`, `us` (or `µs`), `ms`, `s`,
/// `m` or `h`. A bare `"0"` is zero. Negative durations are refused.
///
/// # Errors
///
/// A [`DurationError`] naming the input and what is wrong with it.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let text = input.strip_prefix('+').unwrap_or(input);
    if text.is_empty() {
        return Err(DurationError::new(input, "it is empty"));
    }
    if text.starts_with('-') {
        return Err(DurationError::new(
            input,
            "negative durations are not allowed",
        ));
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(DurationError::new(
                input,
                format!("expected a number before {unit:?}"),
            ));
        }
        if fraction.contains('.') {
            return Err(DurationError::new(
                input,
                format!("{number:?} is not a number"),
            ));
        }
        if unit.is_empty() {
            return Err(DurationError::new(input, format!("{number:?} has no unit")));
        }
        let Some(scale) = unit_nanos(unit) else {
            return Err(DurationError::new(input, format!("unknown unit {unit:?}")));
        };
        let too_large = || DurationError::new(input, "it is too large");
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let mut part = whole.checked_mul(scale).ok_or_else(too_large)?;
        // Digits past the 18th cannot change a nanosecond count of any real unit.
        let fraction = &fraction[..fraction.len().min(18)];
        if !fraction.is_empty() {
            let digits: u128 = fraction.parse().map_err(|_| too_large())?;
            part += digits * scale / 10u128.pow(u32::try_from(fraction.len()).unwrap_or(18));
        }
        total = total.checked_add(part).ok_or_else(too_large)?;
        rest = next;
    }
    let secs = u64::try_from(total / 1_000_000_000)
        .map_err(|_| DurationError::new(input, "it is too large"))?;
    #[allow(clippy::cast_possible_truncation)] // always below 1e9
    let nanos = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Formats a duration the way Go prints one: `1m30s`, `500ms`, `2s`, `0s`.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    use std::fmt::Write as _;

    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{}µs", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let mut out = String::new();
    let hours = nanos / 3_600_000_000_000;
    let minutes = nanos / 60_000_000_000 % 60;
    let seconds = nanos % 60_000_000_000;
    // Writing to a String cannot fail.
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    let whole = seconds / 1_000_000_000;
    let fraction = seconds % 1_000_000_000;
    if fraction == 0 {
        let _ = write!(out, "{whole}s");
    } else {
        let digits = format!("{fraction:09}");
        let _ = write!(out, "{whole}.{}s", digits.trim_end_matches('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_forms() {
        let cases = [
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("500ms", Duration::from_millis(500)),
            ("10s", Duration::from_secs(10)),
            ("1m30s", Duration::from_secs(90)),
            ("1.5h", Duration::from_secs(5400)),
            ("2h45m", Duration::from_secs(2 * 3600 + 45 * 60)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("7ns", Duration::from_nanos(7)),
            ("+3s", Duration::from_secs(3)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        let cases = [
            ("", "it is empty"),
            ("ten", "expected a number before \"ten\""),
            ("10", "\"10\" has no unit"),
            ("10x", "unknown unit \"x\""),
            ("-1s", "negative durations are not allowed"),
            ("1..5s", "\"1..5\" is not a number"),
            ("1s5", "\"5\" has no unit"),
            ("99999999999999999999999h", "it is too large"),
        ];
        for (text, reason) in cases {
            let error = parse_duration(text).unwrap_err();
            assert_eq!(error.reason(), reason, "{text}");
            assert!(error.to_string().contains(&format!("{text:?}")), "{error}");
        }
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(2), "2s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_micros(3), "3µs"),
        ];
        for (duration, text) in cases {
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration(text), Ok(duration));
        }
    }
}
