//! [`App`]: what `fn main(app: &mut servicepack::App)` configures, and the hidden
//! `main` that `#[servicepack::main]` calls.

pub(crate) mod config;
pub(crate) mod notify;
pub(crate) mod peers;
pub(crate) mod signals;
pub(crate) mod telemetry;

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_subscriber::{Layer, Registry};

use crate::runtime::catch::{Panicked, chain};
use crate::service::BoxFuture;
use crate::{Context, Result, Runner, ServiceDef};
use config::{Config, LogFormat};
use signals::FORCED_EXIT;
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
/// SIGINT or SIGTERM; a second signal ends the process at once with status 130.
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
    /// The context's name is `pre-run`. It is cancelled by SIGINT or SIGTERM; when a signal
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
    /// exit (status 130). The context's name is `post-stop`; it is cancelled by a signal
    /// that arrives while the hooks run.
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
    /// [`clap::ArgMatches`] and a context named after the command (cancelled on SIGINT or
    /// SIGTERM); the app exits 0 when it returns `Ok`, 1 with the error on stderr when it
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

/// The body of the `main` that `#[servicepack::main]` writes: runs the user's setup
/// function, parses the command line and the environment, and runs the command. Not
/// public API.
#[doc(hidden)]
#[must_use]
pub fn main(info: AppInfo, setup: Option<fn(&mut App)>) -> ExitCode {
    telemetry::install_panic_hook();
    let config = Config::from_env();
    let format = match &config {
        Ok(config) => config.log.format,
        Err(errors) => errors.format,
    };
    let mut app = App::new();
    if let Some(setup) = setup
        && let Err(payload) = catch_unwind(AssertUnwindSafe(|| setup(&mut app)))
    {
        let panicked = Panicked::from_payload(&*payload);
        return exit(
            format,
            1,
            &format!("the setup function `fn main(app: &mut App)` {panicked}"),
        );
    }
    let registry: &'static [crate::registry::Entry] = &crate::registry::SERVICES;
    match catch_unwind(AssertUnwindSafe(|| {
        crate::cli::main(info, app, registry, config)
    })) {
        Ok(code) => ExitCode::from(code),
        Err(payload) => {
            let panicked = Panicked::from_payload(&*payload);
            exit(
                format,
                1,
                &format!("servicepack {panicked} outside any service or hook"),
            )
        }
    }
}

/// Where `run` is; what the n-th signal means depends on it.
const PRE_RUN: u8 = 0;
const RUNNING: u8 = 1;
const POST_STOP: u8 = 2;

/// `./app run`: the pre-run hooks, the runner, the post-stop hooks, with signals wired to
/// all three. Returns the exit status; a forced exit (130) ends the process right here.
///
/// With `OPS_ADDR` set, the ops endpoint is bound first: a bind failure exits 1 before any
/// hook or service runs, and the endpoint serves until the process exits.
pub(crate) fn run(
    info: AppInfo,
    pre_run: Vec<Hook>,
    post_stop: Vec<Hook>,
    defs: Vec<ServiceDef>,
    config: &Config,
) -> u8 {
    let format = config.log.format;
    let runner = Runner::new()
        .services(defs)
        .shutdown_timeout(config.shutdown_timeout)
        .drain_delay(config.ops.drain_delay)
        .app_info(info.bin_name, info.version, config.env.as_str());
    let runner = config.peers.install(runner);
    let (ops, status) = (config.ops.clone(), runner.status());
    block_on(format, async move {
        let _endpoint = match crate::ops::start(&ops, status.clone()).await {
            Ok(endpoint) => endpoint,
            Err(reason) => {
                return exit_code(format, 1, &format!("{reason}; no service was started"));
            }
        };
        let lifecycle = lifecycle(pre_run, post_stop, runner, format);
        notify::alongside(&config.notify, status, lifecycle).await
    })
}

async fn lifecycle(
    pre_run: Vec<Hook>,
    post_stop: Vec<Hook>,
    runner: Runner,
    format: LogFormat,
) -> u8 {
    let phase = Arc::new(AtomicU8::new(PRE_RUN));
    let pre_run_token = CancellationToken::new();
    let post_stop_token = CancellationToken::new();
    let listening = signals::listen({
        let handle = runner.shutdown_handle();
        let phase = Arc::clone(&phase);
        let pre_run_token = pre_run_token.clone();
        let post_stop_token = post_stop_token.clone();
        move |count| match phase.load(Ordering::SeqCst) {
            // The runner counts on its own: its second request is the forced exit.
            RUNNING => handle.request(),
            PRE_RUN if count >= 2 => signals::forced_exit(
                format,
                "forced exit: a second signal arrived while a pre-run hook was running",
            ),
            PRE_RUN => pre_run_token.cancel(),
            _ if count >= 2 => signals::forced_exit(
                format,
                "forced exit: a second signal arrived while a post-stop hook was running",
            ),
            _ => post_stop_token.cancel(),
        }
    });
    if let Err(error) = listening {
        return exit_code(
            format,
            1,
            &format!("cannot handle SIGINT and SIGTERM: {error}"),
        );
    }

    let count = pre_run.len();
    for (index, hook) in pre_run.into_iter().enumerate() {
        if pre_run_token.is_cancelled() {
            break;
        }
        let ctx = Context::new("pre-run".into(), 1, pre_run_token.clone(), None, None);
        if let Err(error) = call(hook(ctx)).await {
            let number = index + 1;
            return exit_code(
                format,
                1,
                &format!("pre-run hook {number} of {count} {error}; no service was started"),
            );
        }
    }
    // Set the phase first: a signal from here on reaches the runner, one before it has
    // cancelled the token.
    phase.store(RUNNING, Ordering::SeqCst);
    if pre_run_token.is_cancelled() {
        tracing::info!("interrupted during the pre-run hooks; no service was started");
        return 0;
    }

    let report = runner.run().await;
    let mut code = report.exit_code();
    if code == FORCED_EXIT {
        let reason = report.reason().unwrap_or_else(|| "forced exit".to_owned());
        signals::forced_exit(format, &reason);
    }
    let mut reasons: Vec<String> = report.reason().into_iter().collect();

    phase.store(POST_STOP, Ordering::SeqCst);
    let count = post_stop.len();
    for (index, hook) in post_stop.into_iter().enumerate() {
        let ctx = Context::new("post-stop".into(), 1, post_stop_token.clone(), None, None);
        if let Err(error) = call(hook(ctx)).await {
            let number = index + 1;
            let reason = format!("post-stop hook {number} of {count} {error}");
            tracing::error!("{reason}");
            reasons.push(reason);
            code = code.max(1);
        }
    }
    if code != 0 {
        telemetry::exit_reason(format, code, &reasons.join("; "));
    }
    code
}

/// A service command (`label` is `example-migrator up`, `service` its service) or a custom
/// command (`label` is its name, no service): runs `body` with a context that the first
/// SIGINT or SIGTERM cancels; the second one forces the exit. Returns 0 on `Ok`, 1 with
/// the reason on stderr on `Err` or a panic.
pub(crate) fn command(
    label: &str,
    service: Option<&str>,
    body: impl FnOnce(Context) -> BoxFuture<'static, Result<()>>,
    format: LogFormat,
) -> u8 {
    block_on(format, async move {
        let token = CancellationToken::new();
        let forced = format!("forced exit: a second signal arrived while `{label}` was running");
        let listening = signals::listen({
            let token = token.clone();
            move |count| {
                if count >= 2 {
                    signals::forced_exit(format, &forced);
                }
                token.cancel();
            }
        });
        if let Err(error) = listening {
            return exit_code(
                format,
                1,
                &format!("cannot handle SIGINT and SIGTERM: {error}"),
            );
        }
        let name = service.unwrap_or(label);
        let ctx = Context::new(name.into(), 1, token, None, None);
        let future = match service {
            Some(service) => body(ctx).instrument(tracing::error_span!("service", service)),
            None => body(ctx).instrument(tracing::Span::none()),
        };
        match call(future).await {
            Ok(()) => 0,
            Err(error) => exit_code(format, 1, &format!("{label} {error}")),
        }
    })
}

/// Runs `future` on a fresh multi-thread runtime. The runtime is then dropped without
/// waiting: whatever a service left behind (a task that ignored its token, a blocking
/// call) must not keep the process alive once the outcome is known.
fn block_on(format: LogFormat, future: impl Future<Output = u8>) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return exit_code(
                format,
                1,
                &format!("cannot start the tokio runtime: {error}"),
            );
        }
    };
    let code = runtime.block_on(future);
    runtime.shutdown_background();
    code
}

/// Awaits a hook or a command in its own task, so that a panic in it becomes an error:
/// `failed: <error>` or `panicked: <message>`.
async fn call(future: impl Future<Output = Result<()>> + Send + 'static) -> Result<(), String> {
    match tokio::spawn(future).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("failed: {}", chain(&error))),
        Err(join) => match join.try_into_panic() {
            Ok(payload) => Err(Panicked::from_payload(&*payload).to_string()),
            Err(_) => Err("was cancelled".to_owned()),
        },
    }
}

/// Writes the exit reason and returns the code.
fn exit_code(format: LogFormat, code: u8, reason: &str) -> u8 {
    telemetry::exit_reason(format, code, reason);
    code
}

/// Writes the exit reason and returns the code.
fn exit(format: LogFormat, code: u8, reason: &str) -> ExitCode {
    telemetry::exit_reason(format, code, reason);
    ExitCode::from(code)
}
