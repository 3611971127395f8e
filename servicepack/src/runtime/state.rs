//! One service's lifecycle inside its supervisor, as one value with `transition_to_*`
//! methods that say what to do next (the shape of tokio's `runtime/task/state.rs`):
//! live, then ended (no further run will start), then done (the task has finished), and
//! whether it has been ready. Each transition happens once; the outcome of a second try
//! says so, instead of a `bool` the caller has to remember.

/// Where a service is in its supervisor's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Waiting for dependencies, running, or waiting to retry.
    Live,
    /// No further run will start (it may still be running, or stopping).
    Ended,
    /// The supervisor task has finished.
    Done,
}

/// The lifecycle of one service, owned by its supervisor.
#[derive(Debug)]
pub(crate) struct ServiceState {
    stage: Stage,
    ready: bool,
}

/// The outcome of [`ServiceState::transition_to_ready`].
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToReady {
    /// First time ready: settle the gate, so dependents start.
    Ready,
    /// It was ready before: nothing to do.
    AlreadyReady,
}

/// The outcome of [`ServiceState::transition_to_ended`].
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToEnded {
    /// It ended now: settle the gate, tell the coordinator.
    Ended {
        /// Whether it was ready before it ended.
        was_ready: bool,
    },
    /// It had ended already.
    AlreadyEnded,
}

/// The outcome of [`ServiceState::transition_to_done`].
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToDone {
    /// The task finished now: hand over the problems, release the dependencies.
    Done,
    /// It had finished already.
    AlreadyDone,
}

impl ServiceState {
    pub(crate) const fn new() -> Self {
        Self {
            stage: Stage::Live,
            ready: false,
        }
    }

    /// The service is ready (it called `ctx.ready()`, `run` was called for a plain
    /// service, or it returned `Ok(())`).
    pub(crate) fn transition_to_ready(&mut self) -> TransitionToReady {
        if std::mem::replace(&mut self.ready, true) {
            TransitionToReady::AlreadyReady
        } else {
            TransitionToReady::Ready
        }
    }

    /// No further run will start.
    pub(crate) fn transition_to_ended(&mut self) -> TransitionToEnded {
        match self.stage {
            Stage::Live => {
                self.stage = Stage::Ended;
                TransitionToEnded::Ended {
                    was_ready: self.ready,
                }
            }
            Stage::Ended | Stage::Done => TransitionToEnded::AlreadyEnded,
        }
    }

    /// A restart runs an ended service again; `false` if it had not ended (or is done).
    #[must_use]
    pub(crate) fn transition_to_live(&mut self) -> bool {
        if self.stage == Stage::Ended {
            self.stage = Stage::Live;
            true
        } else {
            false
        }
    }

    /// The supervisor task has finished (it must have ended first).
    pub(crate) fn transition_to_done(&mut self) -> TransitionToDone {
        debug_assert!(self.stage != Stage::Live, "done before it ended");
        match self.stage {
            Stage::Done => TransitionToDone::AlreadyDone,
            Stage::Live | Stage::Ended => {
                self.stage = Stage::Done;
                TransitionToDone::Done
            }
        }
    }

    /// Whether no further run will start.
    pub(crate) fn has_ended(&self) -> bool {
        self.stage != Stage::Live
    }

    /// Whether the task has finished.
    pub(crate) fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_transition_happens_once() {
        let mut state = ServiceState::new();
        assert_eq!(state.transition_to_ready(), TransitionToReady::Ready);
        assert_eq!(state.transition_to_ready(), TransitionToReady::AlreadyReady);
        assert_eq!(
            state.transition_to_ended(),
            TransitionToEnded::Ended { was_ready: true }
        );
        assert_eq!(state.transition_to_ended(), TransitionToEnded::AlreadyEnded);
        assert!(!state.is_done());
        assert_eq!(state.transition_to_done(), TransitionToDone::Done);
        assert_eq!(state.transition_to_done(), TransitionToDone::AlreadyDone);
        assert!(state.is_done());
    }

    #[test]
    fn ending_before_ready_says_so() {
        let mut state = ServiceState::new();
        assert_eq!(
            state.transition_to_ended(),
            TransitionToEnded::Ended { was_ready: false }
        );
    }
}
