// Every argument at once, and what each one becomes in the registry.
use std::time::Duration;

use servicepack::__private::SERVICES;
use servicepack::prelude::*;
use servicepack::{Backoff, Restart, Retries};

#[service(notify_ready)]
#[derive(Default)]
struct ExampleDatabase;

#[derive(clap::Subcommand)]
enum ApiCommand {
    /// Prints the routes.
    Routes,
}

#[service(
    name = "api",
    retries = 5,
    delay = "500ms",
    backoff = "exponential",
    max_delay = "1m30s",
    jitter,
    retry_reset = "5m",
    restart = "always",
    depends_on = [ExampleDatabase, "external-cache"],
    allowed_failure,
    notify_ready,
    readiness = false,
    ready_timeout = "30s",
    stop_timeout = "10s",
    commands,
    new = Api::connect,
    crate = ::servicepack,
)]
struct Api {
    url: String,
}

impl Api {
    fn connect() -> Result<Self> {
        Ok(Self { url: "postgres://localhost".to_owned() })
    }
}

#[service(restart = "never", jitter = false, commands = false, readiness = true)]
#[derive(Default)]
struct OneShot;

#[service(retries = "unlimited", delay = "1s")]
#[derive(Default)]
struct Forever;

impl Service for Forever {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

impl Service for ExampleDatabase {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.ready();
        Ok(())
    }
}

impl Service for Api {
    async fn run(&self, _ctx: Context) -> Result<()> {
        assert!(!self.url.is_empty());
        Ok(())
    }
}

impl Commander for Api {
    type Command = ApiCommand;

    async fn command(&self, cmd: ApiCommand, _ctx: Context) -> Result<()> {
        match cmd {
            ApiCommand::Routes => Ok(()),
        }
    }
}

impl Service for OneShot {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {
    let entry = |name: &str| SERVICES.iter().find(|entry| entry.name == name).unwrap();
    let api = entry("api");
    let policy = api.policy;
    assert_eq!(policy.retries, Retries::Limited(5));
    assert_eq!(policy.delay, Duration::from_millis(500));
    assert_eq!(policy.backoff, Backoff::Exponential { max_delay: Duration::from_secs(90) });
    assert!(policy.jitter);
    assert_eq!(policy.retry_reset, Some(Duration::from_secs(300)));
    assert_eq!(policy.restart, Restart::Always);
    assert!(policy.allowed_failure);
    assert!(policy.notify_ready);
    assert!(!policy.counts_for_readiness);
    assert_eq!(policy.ready_timeout, Duration::from_secs(30));
    assert_eq!(policy.stop_timeout, Duration::from_secs(10));
    assert_eq!(api.depends_on, ["example-database", "external-cache"]);
    assert!(api.commands.is_some());
    assert!((api.construct)().is_ok());

    let one_shot = entry("one-shot");
    assert_eq!(one_shot.policy.max_runs(), Some(1));
    assert_eq!(entry("forever").policy.retries, Retries::Unlimited);
    assert_eq!(one_shot.policy.restart, Restart::Never);
    assert!(!one_shot.policy.jitter);
    assert!(one_shot.commands.is_none());
    assert!(one_shot.policy.counts_for_readiness);

    let database = entry("example-database");
    assert_eq!(database.policy, servicepack::Policy::new().notify_ready(true));
    assert!(database.depends_on.is_empty());
}
