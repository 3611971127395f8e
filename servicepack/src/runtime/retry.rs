//! The retry arithmetic of one service: how many runs, how long to wait, when to reset.
//!
//! [`Attempts`] is a small state machine without I/O: the supervisor tells it what
//! happened (`transition_to_running`, `transition_to_failed`, ...) and it answers what
//! to do next, so every rule of the retry policy is tested here on its own.

use std::sync::Arc;
use std::time::Duration;

use crate::{Backoff, Policy, Restart, Retries};

/// A source of numbers in `[0, 1)` for jitter.
pub(crate) type JitterSource = Box<dyn FnMut() -> f64 + Send>;

/// After a failed attempt: try again after `delay`, or give up.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    Retry { delay: Duration },
    Final,
}

/// After a clean return: run again after `delay` (`restart = "always"`), or end.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterExit {
    Restart { delay: Duration },
    End,
}

/// The retry bookkeeping of one service: run count and failure count.
#[derive(Debug)]
pub(crate) struct Attempts {
    /// Shared: consecutive services with equal policies share one copy.
    pub(crate) policy: Arc<Policy>,
    runs: u32,
    failures: u32,
}

impl Attempts {
    pub(crate) fn new(policy: Arc<Policy>) -> Self {
        Self {
            policy,
            runs: 0,
            failures: 0,
        }
    }

    /// A run starts; returns its 1-based number.
    #[must_use]
    pub(crate) fn transition_to_running(&mut self) -> u32 {
        self.runs = self.runs.saturating_add(1);
        self.runs
    }

    /// The run that lasted `ran_for` failed.
    pub(crate) fn transition_to_failed(
        &mut self,
        ran_for: Duration,
        jitter: impl FnOnce() -> f64,
    ) -> AfterFailure {
        if self
            .policy
            .retry_reset
            .is_some_and(|reset| ran_for >= reset)
        {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        let retry = match (self.policy.restart, self.policy.retries) {
            (Restart::Never, _) => false,
            (_, Retries::Limited(n)) => self.failures <= n,
            (_, Retries::Unlimited) => true,
        };
        if retry {
            AfterFailure::Retry {
                delay: retry_delay(&self.policy, self.failures, jitter),
            }
        } else {
            AfterFailure::Final
        }
    }

    /// The run that lasted `ran_for` failed while shutting down: counts it, to tell a
    /// final failure from one that would have been retried (no delay is needed).
    pub(crate) fn count_failure(&mut self, ran_for: Duration) -> AfterFailure {
        // No jitter: the delay is thrown away.
        self.transition_to_failed(ran_for, || 0.5)
    }

    /// The run returned `Ok(())`; a clean return also clears the failure count.
    pub(crate) fn transition_to_exited(&mut self, jitter: impl FnOnce() -> f64) -> AfterExit {
        self.failures = 0;
        if self.policy.restart == Restart::Always {
            AfterExit::Restart {
                delay: retry_delay(&self.policy, 1, jitter),
            }
        } else {
            AfterExit::End
        }
    }

    pub(crate) fn runs(&self) -> u32 {
        self.runs
    }
}

/// The wait before the retry that follows the `failures`-th failure in a row: the delay,
/// doubled per earlier failure and capped by `max_delay` for exponential backoff, then
/// scaled by a factor in `[0.75, 1.25)` with jitter (and capped again).
pub(crate) fn retry_delay(
    policy: &Policy,
    failures: u32,
    jitter: impl FnOnce() -> f64,
) -> Duration {
    let (base, cap) = match policy.backoff {
        Backoff::Constant => (policy.delay, None),
        Backoff::Exponential { max_delay } => {
            let factor = 1u32
                .checked_shl(failures.saturating_sub(1))
                .unwrap_or(u32::MAX);
            (
                policy.delay.saturating_mul(factor).min(max_delay),
                Some(max_delay),
            )
        }
    };
    if !policy.jitter || base.is_zero() {
        return base;
    }
    let unit = jitter();
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let jittered =
        Duration::try_from_secs_f64(base.as_secs_f64() * (0.75 + 0.5 * unit)).unwrap_or(base);
    cap.map_or(jittered, |cap| jittered.min(cap))
}

/// A small, seedable generator (`SplitMix64`) for jitter when no source is injected.
pub(crate) fn default_jitter() -> JitterSource {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut state = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Box::new(move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits, as a fraction of 2^53: uniform in [0, 1).
        #[allow(clippy::cast_precision_loss)]
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        unit
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn no_jitter() -> f64 {
        panic!("jitter source called without jitter")
    }

    #[test]
    fn limited_retries_allow_n_plus_one_runs() {
        let mut attempts = Attempts::new(Arc::new(Policy::new().retries(Retries::Limited(2))));
        assert!(matches!(
            attempts.transition_to_failed(SECOND, no_jitter),
            AfterFailure::Retry { .. }
        ));
        assert!(matches!(
            attempts.transition_to_failed(SECOND, no_jitter),
            AfterFailure::Retry { .. }
        ));
        assert_eq!(
            attempts.transition_to_failed(SECOND, no_jitter),
            AfterFailure::Final
        );
    }

    #[test]
    fn restart_never_turns_retries_off() {
        let policy = Policy::new()
            .retries(Retries::Unlimited)
            .restart(Restart::Never);
        let mut attempts = Attempts::new(Arc::new(policy));
        assert_eq!(
            attempts.transition_to_failed(SECOND, no_jitter),
            AfterFailure::Final
        );
        assert_eq!(attempts.transition_to_exited(no_jitter), AfterExit::End);
    }

    #[test]
    fn retry_reset_clears_the_failure_count() {
        let policy = Policy::new()
            .retries(Retries::Limited(1))
            .retry_reset(Duration::from_secs(60));
        let mut attempts = Attempts::new(Arc::new(policy));
        let _ = attempts.transition_to_failed(SECOND, no_jitter);
        let long = Duration::from_secs(60);
        assert!(matches!(
            attempts.transition_to_failed(long, no_jitter),
            AfterFailure::Retry { .. }
        ));
        assert_eq!(
            attempts.transition_to_failed(SECOND, no_jitter),
            AfterFailure::Final
        );
    }

    #[test]
    fn exponential_delay_doubles_and_caps() {
        let policy = Policy::new().delay(SECOND).backoff(Backoff::Exponential {
            max_delay: Duration::from_secs(5),
        });
        let delays: Vec<u64> = (1..=5)
            .map(|failures| retry_delay(&policy, failures, no_jitter).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        assert_eq!(
            retry_delay(&policy, u32::MAX, no_jitter),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn jitter_spans_plus_minus_a_quarter() {
        let policy = Policy::new().delay(Duration::from_secs(4)).jitter(true);
        assert_eq!(retry_delay(&policy, 1, || 0.0), Duration::from_secs(3));
        assert_eq!(retry_delay(&policy, 1, || 0.5), Duration::from_secs(4));
        assert_eq!(retry_delay(&policy, 1, || 1.0), Duration::from_secs(5));
    }

    #[test]
    fn default_jitter_stays_in_the_unit_interval() {
        let mut source = default_jitter();
        assert!((0..1000).map(|_| source()).all(|x| (0.0..1.0).contains(&x)));
    }
}
