//! Where services come from: the link-time registry that `#[service]` fills, and
//! [`ServiceDef`], the one shape the runtime runs, whether a service came from the
//! registry or was assembled by hand.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;

use crate::runtime::erased::{self, Construct, Instance};
use crate::service::BoxFuture;
use crate::{Commander, Context, Policy, Result, Service};

/// Every service that `#[service]` registered in the binary, in link order.
#[linkme::distributed_slice]
pub static SERVICES: [Entry];

/// Implemented by `#[service]`: the service's name and how to construct it. Not public API.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a service, so it cannot be a dependency",
    label = "not a `#[service]` type",
    note = "add `#[service]` to `{Self}`, or name a service of another process as a string: `depends_on = [\"name\"]`"
)]
pub trait Registered: Service + Sized {
    /// The service name.
    const NAME: &'static str;

    /// Builds the instance: `Default::default()` or the `new = path` constructor.
    ///
    /// # Errors
    ///
    /// What the user's constructor returned.
    fn construct() -> Result<Self>;
}

/// One registered service, as `#[service]` writes it into [`SERVICES`]. Not public API.
#[doc(hidden)]
pub struct Entry {
    /// The service name.
    pub name: &'static str,
    /// `module::path::Type`, for diagnostics.
    pub type_name: &'static str,
    /// How to run it.
    pub policy: Policy,
    /// Names of the services it depends on.
    pub depends_on: &'static [&'static str],
    /// Builds the instance, type-erased: for checking a constructor without running the
    /// service. The runtime constructs through `launch`, inside the service's supervisor.
    pub construct: fn() -> Result<Box<dyn Any + Send + Sync>>,
    /// Its subcommands, with `#[service(commands)]`.
    pub commands: Option<CommandsEntry>,
    /// The type-erased constructor (no allocation: the constructor is a fn item).
    launch: fn() -> Construct,
}

/// Runs a parsed command on the running instance, which comes type-erased. Not public
/// API.
#[doc(hidden)]
pub type DispatchFn = fn(Instance, clap::ArgMatches, Context) -> BoxFuture<'static, Result<()>>;

/// The subcommands of a `#[service(commands)]` service. Not public API.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct CommandsEntry {
    /// Adds the subcommands to the service's clap command.
    pub augment: fn(clap::Command) -> clap::Command,
    /// Parses the matched subcommand, constructs the service and runs the command.
    pub run: fn(clap::ArgMatches, Context) -> BoxFuture<'static, Result<()>>,
    /// Parses the matched subcommand and runs the command on the running instance
    /// (SPEC §8); the instance comes type-erased from the runtime.
    pub dispatch: DispatchFn,
}

impl Entry {
    /// The entry for `S`, without commands.
    #[must_use]
    pub const fn new<S: Registered>(
        type_name: &'static str,
        policy: Policy,
        depends_on: &'static [&'static str],
    ) -> Self {
        Self {
            name: S::NAME,
            type_name,
            policy,
            depends_on,
            construct: construct_erased::<S>,
            commands: None,
            launch: launch_registered::<S>,
        }
    }

    /// Adds the subcommands of `S`.
    #[must_use]
    pub const fn with_commands<S: Registered + Commander>(mut self) -> Self {
        self.commands = Some(CommandsEntry {
            augment: <S::Command as clap::Subcommand>::augment_subcommands,
            run: run_command::<S>,
            dispatch: dispatch_command::<S>,
        });
        self
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("policy", &self.policy)
            .field("depends_on", &self.depends_on)
            .field("commands", &self.commands.is_some())
            .finish_non_exhaustive()
    }
}

fn construct_erased<S: Registered>() -> Result<Box<dyn Any + Send + Sync>> {
    Ok(Box::new(S::construct()?))
}

fn launch_registered<S: Registered>() -> Construct {
    erased::lazy(S::construct)
}

fn run_command<S: Registered + Commander>(
    matches: clap::ArgMatches,
    ctx: Context,
) -> BoxFuture<'static, Result<()>> {
    Box::pin(async move {
        let command = <S::Command as clap::FromArgMatches>::from_arg_matches(&matches)?;
        let service = S::construct()?;
        service.command(command, ctx).await
    })
}

fn dispatch_command<S: Registered + Commander>(
    instance: Instance,
    matches: clap::ArgMatches,
    ctx: Context,
) -> BoxFuture<'static, Result<()>> {
    Box::pin(async move {
        let command = <S::Command as clap::FromArgMatches>::from_arg_matches(&matches)?;
        let Some(service) = instance.downcast_ref::<S>() else {
            return Err(format!(
                "the running instance is not a `{}`",
                std::any::type_name::<S>()
            )
            .into());
        };
        service.command(command, ctx).await
    })
}

/// A service as the runtime runs it: a name, a [`Policy`], dependencies, and a lazy
/// constructor. `#[service]` types become one of these; build your own to run services
/// without the macros.
///
/// It keeps the service's type behind one small box (the constructor); from there on
/// the runtime sees the service only through boxed `run` and `stop` futures, so one
/// supervisor, compiled once, runs every type.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use servicepack::prelude::*;
/// use servicepack::{Policy, Retries, ServiceDef};
///
/// struct Cache;
///
/// impl Service for Cache {
///     async fn run(&self, ctx: Context) -> Result<()> {
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// let cache = ServiceDef::new("cache", Cache)
///     .policy(Policy::new().retries(Retries::Limited(3)).delay(Duration::from_secs(1)))
///     .depends_on(["database"]);
/// assert_eq!(cache.name(), "cache");
/// ```
pub struct ServiceDef {
    pub(crate) name: Cow<'static, str>,
    pub(crate) policy: Policy,
    pub(crate) depends_on: Vec<Cow<'static, str>>,
    /// Taken when the runtime spawns the supervisor.
    pub(crate) launch: Option<Construct>,
}

impl ServiceDef {
    /// A service from an instance that already exists.
    pub fn new<S: Service>(name: impl Into<Cow<'static, str>>, service: S) -> Self {
        Self::with_launch(name, erased::built(service))
    }

    /// A service constructed only if it runs: `construct` is called when the runtime is
    /// about to start it, and an error (or a panic) there is a failure of the service.
    pub fn lazy<S, F>(name: impl Into<Cow<'static, str>>, construct: F) -> Self
    where
        S: Service,
        F: FnOnce() -> Result<S> + Send + 'static,
    {
        Self::with_launch(name, erased::lazy(construct))
    }

    /// The definition of a `#[service]` type, with the policy and dependencies its
    /// attribute gives: what `#[servicepack::main]` runs for it. Construction stays lazy.
    ///
    /// # Panics
    ///
    /// When no `#[service]` registration with `T`'s name is linked into the binary (it
    /// always is for a `#[service]` type the binary names).
    ///
    /// # Examples
    ///
    /// ```
    /// use servicepack::prelude::*;
    /// use servicepack::ServiceDef;
    ///
    /// #[service(retries = 2, depends_on = ["database"])]
    /// #[derive(Default)]
    /// struct PaymentsApi;
    ///
    /// impl Service for PaymentsApi {
    ///     async fn run(&self, ctx: Context) -> Result<()> {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let api = ServiceDef::of::<PaymentsApi>();
    /// assert_eq!(api.name(), "payments-api");
    /// assert_eq!(api.get_policy().max_runs(), Some(3));
    /// assert_eq!(api.dependencies().collect::<Vec<_>>(), ["database"]);
    /// ```
    #[must_use]
    pub fn of<T: Registered>() -> Self {
        let type_name = std::any::type_name::<T>();
        let short = type_name.rsplit("::").next().unwrap_or(type_name);
        let mut named = SERVICES.iter().filter(|entry| entry.name == T::NAME);
        let first = named.next();
        // Two registrations of one name (an invalid app, which `check` reports): the
        // type's own ident picks.
        let entry = match named.next() {
            None => first,
            Some(second) => [first, Some(second)]
                .into_iter()
                .flatten()
                .chain(named)
                .find(|entry| entry.type_name.rsplit("::").next() == Some(short)),
        };
        let Some(entry) = entry else {
            panic!(
                "no `#[service]` registration named `{}` is linked for `{type_name}`",
                T::NAME
            );
        };
        Self::from_entry(entry)
    }

    /// The definition of a registered service. Not public API.
    #[doc(hidden)]
    #[must_use]
    pub fn from_entry(entry: &'static Entry) -> Self {
        Self {
            name: Cow::Borrowed(entry.name),
            policy: entry.policy,
            depends_on: entry
                .depends_on
                .iter()
                .map(|&name| Cow::Borrowed(name))
                .collect(),
            launch: Some((entry.launch)()),
        }
    }

    fn with_launch(name: impl Into<Cow<'static, str>>, launch: Construct) -> Self {
        Self {
            name: name.into(),
            policy: Policy::new(),
            depends_on: Vec::new(),
            launch: Some(launch),
        }
    }

    /// Sets how the service is run.
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Adds dependencies by name: the service starts after they are ready and stops before
    /// them. A name that is not in the same run is logged and skipped.
    #[must_use]
    pub fn depends_on<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Cow<'static, str>>,
    {
        self.depends_on.extend(names.into_iter().map(Into::into));
        self
    }

    /// The service name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the service is run.
    #[must_use]
    pub fn get_policy(&self) -> &Policy {
        &self.policy
    }

    /// The names of its dependencies.
    pub fn dependencies(&self) -> impl ExactSizeIterator<Item = &str> {
        self.depends_on.iter().map(AsRef::as_ref)
    }
}

impl fmt::Debug for ServiceDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceDef")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .field("depends_on", &self.depends_on)
            .finish_non_exhaustive()
    }
}
