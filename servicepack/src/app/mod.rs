//! The process around the services: [`App`] (what `fn main(app: &mut servicepack::App)`
//! configures), the environment, logs, signals, the shutdown watchdog, exit codes, and
//! the executors of `run` and the commands. Nothing here knows the command line.

pub(crate) mod config;
pub(crate) mod exec;
pub(crate) mod exit;
pub(crate) mod notify;
pub(crate) mod peers;
pub(crate) mod signals;
pub(crate) mod telemetry;
pub(crate) mod terminal;
pub(crate) mod watchdog;

use std::fmt;
use std::future::Future;

use tracing_subscriber::{Layer, Registry};

use crate::service::BoxFuture;
use crate::{Context, Result};
use telemetry::BoxedLayer;

pub(crate) type Hook = Box<dyn FnOnce(Context) -> BoxFuture<'static, Result<()>> + Send>;
pub(crate) type Handler =
    Box<dyn FnOnce(clap::ArgMatches, Context) -> BoxFuture<'static, Result<()>> + Send>;

/// A custom top-level command: its clap definition and its handler.
pub(crate) struct CustomCommand {
    pub(crate) command: clap::Command,
    pub(crate) handler: Handler,
}

/// The app around the services: hooks, custom commands and extra log layers.
///
/// Take it as the parameter of the main function; `#[servicepack::main]` calls that
/// function once, before the command line is parsed, and then runs the app.
///
/// Every hook and command handler gets a [`Context`] that is cancelled on the first
/// SIGINT, SIGTERM or SIGHUP; a second signal ends the process at once with status 128 +
/// its number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
///
/// # Examples
///
/// ```no_run
/// use servicepack::App;
///
/// #[servicepack::main]
/// fn main(app: &mut App) {
///     app.pre_run(|_ctx| async {
///         tracing::info!("warming the cache");
///         Ok(())
///     })
///     .post_stop(|_ctx| async {
///         tracing::info!("flushing metrics");
///         Ok(())
///     });
/// }
/// ```
pub struct App {
    pub(crate) pre_run: Vec<Hook>,
    pub(crate) post_stop: Vec<Hook>,
    pub(crate) commands: Vec<CustomCommand>,
    pub(crate) layers: Vec<BoxedLayer>,
}

impl App {
    pub(crate) fn new() -> Self {
        Self {
            pre_run: Vec::new(),
            post_stop: Vec::new(),
            commands: Vec::new(),
            layers: Vec::new(),
        }
    }

    /// Adds a hook that `./app run` awaits before any service starts. Hooks run one after
    /// the other, in the order they were added; an error or a panic stops `run` there,
    /// with exit status 1, before any service is constructed.
    ///
    /// The context's name is `pre-run`. It is cancelled by SIGINT, SIGTERM or SIGHUP; when a signal
    /// arrives during a hook, the hook is awaited, no further hook runs, no service starts
    /// and the app exits with the hook's result (0 if it returned `Ok`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// #[servicepack::main]
    /// fn main(app: &mut servicepack::App) {
    ///     app.pre_run(|ctx| async move {
    ///         tokio::select! {
    ///             () = ctx.cancelled() => Err("interrupted while migrating".into()),
    ///             () = tokio::time::sleep(std::time::Duration::from_millis(10)) => Ok(()),
    ///         }
    ///     });
    /// }
    /// ```
    pub fn pre_run<F, Fut>(&mut self, hook: F) -> &mut Self
    where
        F: FnOnce(Context) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.pre_run.push(Box::new(move |ctx| Box::pin(hook(ctx))));
        self
    }

    /// Adds a hook that `./app run` awaits after every service has stopped. Hooks run one
    /// after the other, in the order they were added, and all of them run even when one
    /// fails; a failure (error or panic) is logged and makes the exit status 1.
    ///
    /// Post-stop hooks run only when every pre-run hook succeeded, and not after a forced
    /// exit. They run inside the shutdown budget (`RUNNER_SHUTDOWNTIMEOUT`, counted from the
    /// start of the shutdown): the context's [`deadline`](Context::deadline) is the end of
    /// the budget, a hook still running then is abandoned (logged with its position, exit
    /// status 1) and the hooks after it do not run. The context's name is `post-stop`; it
    /// is cancelled by a signal that arrives while the hooks run.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// #[servicepack::main]
    /// fn main(app: &mut servicepack::App) {
    ///     app.post_stop(|_ctx| async {
    ///         println!("goodbye");
    ///         Ok(())
    ///     });
    /// }
    /// ```
    pub fn post_stop<F, Fut>(&mut self, hook: F) -> &mut Self
    where
        F: FnOnce(Context) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.post_stop
            .push(Box::new(move |ctx| Box::pin(hook(ctx))));
        self
    }

    /// Adds a top-level command, `./app <name> [args]`, next to `run` and the service
    /// commands. No service is constructed, no hook runs. The handler gets the command's
    /// [`clap::ArgMatches`] and a context named after the command (cancelled on SIGINT,
    /// SIGTERM or SIGHUP); the app exits 0 when it returns `Ok`, 1 with the error on stderr when it
    /// returns `Err` or panics.
    ///
    /// A name that is already taken (by a built-in command, a service with commands or
    /// another custom command) makes every invocation of the app exit with status 1
    /// and a message naming both.
    ///
    /// # Examples
    ///
    /// With the builder API:
    ///
    /// ```no_run
    /// use clap::{Arg, Command};
    ///
    /// #[servicepack::main]
    /// fn main(app: &mut servicepack::App) {
    ///     let greet = Command::new("greet")
    ///         .about("Print a greeting")
    ///         .arg(Arg::new("who").default_value("world"));
    ///     app.command(greet, |matches, _ctx| async move {
    ///         let who: &String = matches.get_one("who").expect("has a default");
    ///         println!("hello, {who}");
    ///         Ok(())
    ///     });
    /// }
    /// ```
    ///
    /// With clap's derive API:
    ///
    /// ```no_run
    /// use clap::{CommandFactory, FromArgMatches, Parser};
    ///
    /// /// Load demo data.
    /// #[derive(Parser)]
    /// #[command(name = "seed")]
    /// struct Seed {
    ///     /// How many rows.
    ///     #[arg(long, default_value_t = 10)]
    ///     rows: u32,
    /// }
    ///
    /// #[servicepack::main]
    /// fn main(app: &mut servicepack::App) {
    ///     app.command(Seed::command(), |matches, _ctx| async move {
    ///         let seed = Seed::from_arg_matches(&matches)?;
    ///         println!("seeding {} rows", seed.rows);
    ///         Ok(())
    ///     });
    /// }
    /// ```
    pub fn command<F, Fut>(&mut self, command: clap::Command, handler: F) -> &mut Self
    where
        F: FnOnce(clap::ArgMatches, Context) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.commands.push(CustomCommand {
            command,
            handler: Box::new(move |matches, ctx| Box::pin(handler(matches, ctx))),
        });
        self
    }

    /// Adds a `tracing` layer next to the built-in one (which writes to stderr). The layer
    /// sees every span and event, whatever `LOG_LEVEL` says: give it its own filter with
    /// [`Layer::with_filter`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tracing_subscriber::Layer as _;
    /// use tracing_subscriber::filter::LevelFilter;
    ///
    /// #[servicepack::main]
    /// fn main(app: &mut servicepack::App) {
    ///     let file = std::fs::File::create("app.log").expect("app.log is writable");
    ///     let layer = tracing_subscriber::fmt::layer()
    ///         .json()
    ///         .with_writer(std::sync::Mutex::new(file))
    ///         .with_filter(LevelFilter::DEBUG);
    ///     app.layer(layer);
    /// }
    /// ```
    pub fn layer<L>(&mut self, layer: L) -> &mut Self
    where
        L: Layer<Registry> + Send + Sync + 'static,
    {
        self.layers.push(Box::new(layer));
        self
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("pre_run", &self.pre_run.len())
            .field("post_stop", &self.post_stop.len())
            .field(
                "commands",
                &self
                    .commands
                    .iter()
                    .map(|custom| custom.command.get_name())
                    .collect::<Vec<_>>(),
            )
            .field("layers", &self.layers.len())
            .finish()
    }
}

/// What `#[servicepack::main]` knows about the binary. Not public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct AppInfo {
    /// `env!("CARGO_BIN_NAME")`: the name of the clap app.
    pub bin_name: &'static str,
    /// `env!("CARGO_PKG_VERSION")`: what `--version` prints.
    pub version: &'static str,
    /// `env!("CARGO_PKG_DESCRIPTION")`: the first line of `--help` (empty: a stock one).
    pub description: &'static str,
}
