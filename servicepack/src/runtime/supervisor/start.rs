//! Before a service's first attempt: the wait for its dependencies' readiness gates
//! (through the task slot's waker), and, for a service with peers in other processes,
//! the wait for them (SPEC §9.3), retried like attempts.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use super::{Life, wait};
use crate::runtime::lifecycle::{Lifecycle, Skip};
use crate::runtime::peers::PeerError;
use crate::runtime::shared::{Ending, GateState};

/// How the wait for a service's peers ended.
enum PeerWait {
    /// Every peer answered ready.
    Ready,
    /// Shutdown began first.
    ShutdownBegan,
    /// An attempt failed for good: the service has ended.
    Ended,
}

impl Life {
    /// Ready once every dependency is ready, or with the reason to skip this service if
    /// one never will be (the first such in order), or if shutdown began first (it
    /// settles every pending gate). Until then the task is woken when one settles.
    fn poll_dependencies(&self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), Skip<'_>>> {
        let shared = &*self.shared;
        let mut registered = false;
        for &dep in shared.plan().dependencies(self.node()) {
            let Some(gate) = shared.gate(dep) else {
                continue;
            };
            let mut state = gate.state();
            if state == GateState::Pending && !registered {
                // Registered, then checked again: a settle that found no waker to wake
                // settled the gate before it looked.
                self.slot().register_watcher(cx);
                registered = true;
                state = gate.state();
            }
            let name = shared.plan().name(dep);
            match state {
                GateState::Ready => {}
                GateState::Pending => return Poll::Pending,
                GateState::Failed => return Poll::Ready(Err(Skip::DependencyFailed(name))),
                _ if shared.shutdown_began() => return Poll::Ready(Err(Skip::ShutdownBegan)),
                GateState::Skipped => return Poll::Ready(Err(Skip::DependencySkipped(name))),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The task is finished: ends the service (if it has not ended yet), leaves the
    /// problems for the coordinator, lets its dependencies stop once nothing else holds
    /// them, and wakes the coordinator if it was the last task. Once.
    /// Whether the service may start: its dependencies are ready and shutdown has not
    /// begun. If not, it is reported skipped.
    pub(super) async fn may_start(&mut self) -> bool {
        let mut waited = Ok(());
        if !self.shared.plan().dependencies(self.node()).is_empty() {
            waited = poll_fn(|cx| self.poll_dependencies(cx)).await;
        }
        if waited.is_ok() && self.shared.shutdown_began() {
            waited = Err(Skip::ShutdownBegan);
        }
        if let Err(reason) = waited {
            self.emit(&Lifecycle::Skipped(reason));
            self.ended(Ending::Skipped);
            return false;
        }
        true
    }

    /// After [`may_start`](Self::may_start), for a service with peers: whether every
    /// peer answered ready. If not, the service was reported skipped (shutdown began) or
    /// failed for good.
    pub(super) async fn may_start_after_peers(&mut self) -> bool {
        match self.wait_for_peers().await {
            PeerWait::Ready if !self.shared.shutdown_began() => true,
            PeerWait::Ready | PeerWait::ShutdownBegan => {
                self.emit(&Lifecycle::Skipped(Skip::ShutdownBegan));
                self.ended(Ending::Skipped);
                false
            }
            PeerWait::Ended => false,
        }
    }

    /// Waits, attempt after attempt, until every peer of this service (SPEC §9.3) has
    /// answered ready once: a wait that fails or outlasts the peer timeout is a failed
    /// attempt, retried per the policy (the next attempt waits only for the peers not
    /// seen ready yet). Shutdown ends the wait at once.
    async fn wait_for_peers(&mut self) -> PeerWait {
        let shared = Arc::clone(&self.shared);
        let peers = shared.peers();
        let all: Vec<usize> = peers.of(self.node()).collect();
        // The peers before `next` have answered ready.
        let mut next = 0;
        loop {
            let waited = {
                let each = async {
                    while let Some(&peer) = all.get(next) {
                        let name = peers.name(peer);
                        self.emit(&Lifecycle::WaitingForPeer(name));
                        peers.wait(peer).await.map_err(|source| PeerError::Failed {
                            peer: name.to_owned(),
                            source,
                        })?;
                        self.emit(&Lifecycle::PeerReady(name));
                        next += 1;
                    }
                    Ok(())
                };
                let timed = async {
                    if peers.timeout.is_zero() {
                        return each.await;
                    }
                    tokio::time::timeout(peers.timeout, each)
                        .await
                        .unwrap_or_else(|_| {
                            Err(PeerError::TimedOut {
                                peer: String::new(),
                                timeout: peers.timeout,
                            })
                        })
                };
                tokio::select! {
                    biased;
                    () = shared.shutdown_begins() => return PeerWait::ShutdownBegan,
                    waited = timed => waited,
                }
            };
            let error = match waited {
                Ok(()) => return PeerWait::Ready,
                // The timeout cut the wait for the peer at `next`.
                Err(PeerError::TimedOut { timeout, .. }) => PeerError::TimedOut {
                    peer: all
                        .get(next)
                        .map_or_else(String::new, |&peer| peers.name(peer).to_owned()),
                    timeout,
                },
                Err(error) => error,
            };
            let attempt = self.attempts.transition_to_running();
            self.emit(&Lifecycle::PeerAttempt { attempt });
            let Some(delay) = self.judge(Err(error.into())) else {
                return if self.state.has_ended() {
                    PeerWait::Ended
                } else {
                    PeerWait::ShutdownBegan
                };
            };
            if !wait(delay, &shared, self.token()).await {
                return PeerWait::ShutdownBegan;
            }
        }
    }
}
