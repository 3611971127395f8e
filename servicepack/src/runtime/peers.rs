//! Dependencies in other processes (SPEC §9.3): [`Runner::peer`] names a service that
//! runs elsewhere and gives a waiter that resolves when it is ready there. The runtime
//! knows nothing of how that is found out (the app layer asks the peer's ops endpoint
//! over HTTP, `SERVICES_PEERS`); it only calls the waiter, under the peer timeout, before
//! a dependent's first run, and counts a wait that fails or times out as a failed attempt
//! of that dependent.
//!
//! The edges to peers are kept as one sorted list of `(node, peer)` pairs: a plan of ten
//! thousand services with no peers costs nothing, and a supervisor finds its own peers by
//! binary search.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::plan::Plan;
use crate::runtime::runner::Runner;
use crate::service::BoxFuture;
use crate::{Error, Result};

/// What [`Runner::peer`] keeps: called once per waiting dependent and attempt.
pub(crate) type PeerWaiter = Arc<dyn Fn() -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// The peers that services of a plan depend on.
pub(crate) struct Peers {
    /// Every peer given to the runner: its name and its waiter.
    waiters: Vec<(String, PeerWaiter)>,
    /// `(node, index in waiters)` for every dependency of a node on a peer, by node.
    edges: Vec<(usize, usize)>,
    /// The most one attempt waits for its peers; zero: no limit.
    pub(crate) timeout: Duration,
}

impl Peers {
    /// The peer edges of `plan`: its dependencies outside the set that `waiters` names.
    pub(crate) fn new(plan: &Plan, waiters: Vec<(String, PeerWaiter)>, timeout: Duration) -> Self {
        let mut edges = Vec::new();
        if !waiters.is_empty() {
            for (node, dependency) in plan.external_edges() {
                if let Some(peer) = waiters.iter().position(|(name, _)| name == dependency) {
                    edges.push((node, peer));
                }
            }
            // Stable: a node's peers stay in the order its dependencies were declared.
            edges.sort_by_key(|&(node, _)| node);
        }
        Self {
            waiters,
            edges,
            timeout,
        }
    }

    /// Whether `name` is a peer (and not a service here).
    pub(crate) fn is_peer(&self, name: &str) -> bool {
        self.waiters.iter().any(|(peer, _)| peer == name)
    }

    /// The peers that `node` depends on, as indices for [`name`](Self::name) and
    /// [`wait`](Self::wait), in the order its dependencies were declared.
    pub(crate) fn of(&self, node: usize) -> impl ExactSizeIterator<Item = usize> + Clone + '_ {
        let first = self.edges.partition_point(|&(of, _)| of < node);
        let last = self.edges.partition_point(|&(of, _)| of <= node);
        self.edges[first..last].iter().map(|&(_, peer)| peer)
    }

    /// Whether `node` depends on any peer.
    pub(crate) fn any_of(&self, node: usize) -> bool {
        self.of(node).len() > 0
    }

    /// The name of peer `peer`.
    pub(crate) fn name(&self, peer: usize) -> &str {
        &self.waiters[peer].0
    }

    /// A fresh wait for peer `peer`.
    pub(crate) fn wait(&self, peer: usize) -> BoxFuture<'static, Result<()>> {
        (self.waiters[peer].1)()
    }
}

impl Default for Peers {
    fn default() -> Self {
        Self {
            waiters: Vec::new(),
            edges: Vec::new(),
            timeout: Duration::ZERO,
        }
    }
}

/// Why an attempt's wait for a peer failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PeerError {
    /// The wait took longer than the peer timeout.
    #[error("peer {peer} is not ready after {}", crate::format_duration(*.timeout))]
    TimedOut {
        /// The peer waited for.
        peer: String,
        /// The peer timeout.
        timeout: Duration,
    },
    /// The waiter returned an error.
    #[error("waiting for peer {peer} failed")]
    Failed {
        /// The peer waited for.
        peer: String,
        /// What the waiter returned.
        #[source]
        source: Error,
    },
}

impl Runner {
    /// Says that the service `name` runs in another process, and how to know that it is
    /// ready there (SPEC §9.3; `SERVICES_PEERS` in an app). A service here that depends on
    /// `name`, when `name` is not one of this runner's services, waits in state `pending`
    /// (its status says `waiting for peer <name>`) until a call of `waiter` returns
    /// `Ok(())`, then starts as if that dependency were local and ready. Only the start
    /// waits: once the peer was seen ready, nothing here watches it any more.
    ///
    /// `waiter` is called once per waiting dependent and attempt; the future it returns
    /// should resolve when the peer is ready (it is dropped when shutdown begins, and the
    /// dependent is then skipped). An `Err` fails that attempt, which is retried per the
    /// dependent's policy, as is a wait longer than [`peer_timeout`](Runner::peer_timeout).
    /// A dependency that is neither a service here nor a peer is skipped with a warning.
    /// Naming the same peer twice keeps the last waiter; a peer that is also a service of
    /// this runner is ignored (the local one is waited for).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use servicepack::prelude::*;
    /// use servicepack::{Runner, ServiceDef, State};
    ///
    /// struct Api;
    /// impl Service for Api {
    ///     async fn run(&self, ctx: Context) -> Result<()> {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
    /// // The database runs elsewhere and is ready after 3 s.
    /// let runner = Runner::new()
    ///     .service(ServiceDef::new("api", Api).depends_on(["database"]))
    ///     .peer("database", || async {
    ///         tokio::time::sleep(Duration::from_secs(3)).await;
    ///         Ok(())
    ///     });
    /// let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    /// let run = tokio::spawn(runner.run());
    /// tokio::time::sleep(Duration::from_secs(1)).await;
    /// let api = status.snapshot().services[0].clone();
    /// assert_eq!(api.state, State::Pending);
    /// assert_eq!(api.reason.as_deref(), Some("waiting for peer database"));
    /// tokio::time::sleep(Duration::from_secs(3)).await;
    /// assert_eq!(status.snapshot().services[0].state, State::Ready);
    /// shutdown.request();
    /// assert_eq!(run.await.unwrap().exit_code(), 0);
    /// # });
    /// ```
    #[must_use]
    pub fn peer<F, Fut>(mut self, name: impl Into<String>, waiter: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let name = name.into();
        let waiter: PeerWaiter = Arc::new(move || Box::pin(waiter()));
        self.peers.retain(|(known, _)| *known != name);
        self.peers.push((name, waiter));
        self
    }

    /// Sets how long a dependent waits for its peers ([`peer`](Runner::peer)) in one
    /// attempt (`RUNNER_PEERTIMEOUT` in an app): past it, the attempt fails with an error
    /// naming the peer, and is retried per the dependent's policy (the next attempt waits
    /// again, after the retry delay). Zero, the default, means no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use servicepack::prelude::*;
    /// use servicepack::{Policy, Retries, Runner, ServiceDef};
    ///
    /// struct Api;
    /// impl Service for Api {
    ///     async fn run(&self, ctx: Context) -> Result<()> {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
    /// let report = Runner::new()
    ///     .service(
    ///         ServiceDef::new("api", Api)
    ///             .depends_on(["database"])
    ///             .policy(Policy::new().retries(Retries::Limited(1))),
    ///     )
    ///     .peer("database", || std::future::pending()) // never ready
    ///     .peer_timeout(Duration::from_secs(1))
    ///     .run()
    ///     .await;
    /// assert_eq!(report.exit_code(), 1);
    /// assert!(report.reason().unwrap().contains("peer database is not ready after 1s"));
    /// # });
    /// ```
    #[must_use]
    pub fn peer_timeout(mut self, timeout: Duration) -> Self {
        self.peer_timeout = timeout;
        self
    }
}
