//! The traits a user implements: [`Service`] and, for per-service commands, [`Commander`].

use std::future::Future;
use std::pin::Pin;

use crate::{Context, Result};

/// A boxed, `Send` future: what the runtime stores for dynamic dispatch (hooks, commands).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A long-running (or one-shot) unit of work that the runtime starts, supervises and stops.
///
/// Write `async fn run` (and optionally `async fn stop`) in the impl; both futures must be
/// `Send`. The runtime keeps one instance per service and calls every attempt of `run`,
/// and then `stop`, on that same instance, so state that must change lives behind
/// interior mutability (`AtomicU32`, `Mutex`, …).
///
/// # Examples
///
/// ```
/// use servicepack::prelude::*;
///
/// #[derive(Default)]
/// struct Heartbeat;
///
/// impl Service for Heartbeat {
///     async fn run(&self, ctx: Context) -> Result<()> {
///         loop {
///             tokio::select! {
///                 () = ctx.cancelled() => return Ok(()),
///                 () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {
///                     tracing::info!("heartbeat");
///                 }
///             }
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a service",
    label = "`{Self}` needs `impl Service for {Self}`",
    note = "add `impl servicepack::Service for {Self} {{ async fn run(&self, ctx: servicepack::Context) -> servicepack::Result<()> {{ … }} }}`"
)]
pub trait Service: Send + Sync + 'static {
    /// Does the service's work. Return `Ok(())` when the work is done (a one-shot job) or
    /// when `ctx.cancelled()` resolves; return an error to have the runtime retry per the
    /// service's policy.
    ///
    /// # Errors
    ///
    /// Any error counts as a failed attempt.
    fn run(&self, ctx: Context) -> impl Future<Output = Result<()>> + Send;

    /// Called once at shutdown, at the moment the service's token is cancelled (so it can
    /// unblock a `run` that does not watch the token). `ctx.deadline()` says how long the
    /// runtime waits. The default does nothing.
    ///
    /// # Errors
    ///
    /// An error is logged and makes the process exit with status 1, since cleanup that did
    /// not finish may have lost data.
    fn stop(&self, ctx: Context) -> impl Future<Output = Result<()>> + Send {
        let _ = ctx;
        // A zero-sized future: the runtime's box of it allocates nothing.
        Stopped
    }
}

/// The future of the default `stop`: done at once, and zero-sized. The runtime knows it
/// by its type and does not call a default `stop` at all.
pub(crate) struct Stopped;

impl Future for Stopped {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A service with its own subcommands: `./app <service> <subcommand>`.
///
/// Mark the service `#[service(commands)]`. The command runs instead of the app: only this
/// service is constructed, no service runs, and `stop` is not called.
///
/// # Examples
///
/// ```
/// use servicepack::prelude::*;
///
/// #[derive(clap::Subcommand)]
/// enum MigratorCommand {
///     /// Apply every pending migration.
///     Up,
///     /// Roll back the last migration.
///     Down,
/// }
///
/// #[derive(Default)]
/// struct Migrator;
///
/// impl Service for Migrator {
///     async fn run(&self, _ctx: Context) -> Result<()> {
///         Ok(())
///     }
/// }
///
/// impl Commander for Migrator {
///     type Command = MigratorCommand;
///
///     async fn command(&self, cmd: MigratorCommand, _ctx: Context) -> Result<()> {
///         match cmd {
///             MigratorCommand::Up => println!("migrations applied"),
///             MigratorCommand::Down => println!("migration rolled back"),
///         }
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[service(commands)]` but does not implement `Commander`",
    label = "`{Self}` needs `impl Commander for {Self}`",
    note = "add `impl servicepack::Commander for {Self} {{ type Command = …; async fn command(&self, cmd: Self::Command, ctx: servicepack::Context) -> servicepack::Result<()> {{ … }} }}`, or remove `commands`"
)]
pub trait Commander: Service {
    /// The subcommands, a clap 4 [`clap::Subcommand`].
    type Command: clap::Subcommand + Send + 'static;

    /// Runs one subcommand. `ctx` is cancelled on SIGINT or SIGTERM.
    ///
    /// # Errors
    ///
    /// An error is printed to stderr and the process exits with status 1.
    fn command(&self, cmd: Self::Command, ctx: Context) -> impl Future<Output = Result<()>> + Send;
}
