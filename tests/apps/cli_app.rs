//! The command line of an app, for the end-to-end tests in `tests/cli/`.
//!
//! Every constructor appends the service name to `$CLI_APP_MARKERS` (a file path) when
//! that variable is set, so a test can see which services were constructed.
//! `CLI_APP_PRE_RUN=fail|panic` makes the pre-run hook fail, `CLI_APP_POST_STOP=1` makes
//! the post-stop hook panic.

use std::io::Write as _;

use servicepack::prelude::*;

/// Appends `name` to the marker file.
fn constructed(name: &str) {
    if let Some(path) = std::env::var_os("CLI_APP_MARKERS") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the marker file is writable");
        writeln!(file, "{name}").expect("the marker file is writable");
    }
}

/// Ready at once, runs until shutdown.
#[service(notify_ready)]
struct Database;

impl Default for Database {
    fn default() -> Self {
        constructed("database");
        Self
    }
}

impl Service for Database {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.ready();
        ctx.cancelled().await;
        Ok(())
    }
}

/// Depends on the database and on a service of another process.
#[service(depends_on = [Database, "external-cache"])]
struct Api;

impl Default for Api {
    fn default() -> Self {
        constructed("api");
        Self
    }
}

impl Service for Api {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!("api listening");
        ctx.cancelled().await;
        Ok(())
    }
}

/// Ignores its token, and its `stop` never returns: only a second signal ends the app.
#[service]
#[derive(Default)]
struct Stubborn;

impl Service for Stubborn {
    async fn run(&self, _ctx: Context) -> Result<()> {
        tracing::info!("stubborn running");
        std::future::pending().await
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        std::future::pending().await
    }
}

/// The migrator's commands.
#[derive(clap::Subcommand)]
enum MigratorCommand {
    /// Apply every pending migration.
    Up,
    /// Fail like a broken migration.
    Fail,
    /// Panic in the middle of a migration.
    Explode,
    /// Wait for SIGINT or SIGTERM, then return `Ok`.
    Wait,
}

/// A service with commands; as a service it does nothing.
#[service(depends_on = [Database], allowed_failure, commands)]
struct Migrator;

impl Default for Migrator {
    fn default() -> Self {
        constructed("migrator");
        Self
    }
}

impl Service for Migrator {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

impl Commander for Migrator {
    type Command = MigratorCommand;

    async fn command(&self, cmd: MigratorCommand, ctx: Context) -> Result<()> {
        match cmd {
            MigratorCommand::Up => {
                println!("migrated up");
                Ok(())
            }
            MigratorCommand::Fail => Err("migration 7 failed: column exists".into()),
            MigratorCommand::Explode => panic!("migration exploded"),
            MigratorCommand::Wait => {
                tracing::info!("waiting for a signal");
                ctx.cancelled().await;
                println!("cancelled by a signal");
                Ok(())
            }
        }
    }
}

#[servicepack::main]
fn main(app: &mut servicepack::App) {
    app.pre_run(|_ctx| async {
        match std::env::var("CLI_APP_PRE_RUN").as_deref() {
            Ok("fail") => Err("the pre-run hook refused".into()),
            Ok("panic") => panic!("the pre-run hook exploded"),
            _ => {
                tracing::info!("pre-run hook ran");
                Ok(())
            }
        }
    })
    .post_stop(|_ctx| async {
        assert!(
            std::env::var_os("CLI_APP_POST_STOP").is_none(),
            "the post-stop hook exploded"
        );
        tracing::info!("post-stop hook ran");
        Ok(())
    })
    .command(
        clap::Command::new("hello").about("Say hello without constructing a service"),
        |_matches, _ctx| async {
            println!("hello from a custom command");
            Ok(())
        },
    );
}
