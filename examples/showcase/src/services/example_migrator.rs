//! `example-migrator`: a one-shot job with its own subcommands.

use std::time::Duration;

use servicepack::prelude::*;

use super::pause;

/// The (simulated) migrations, oldest first.
const MIGRATIONS: [&str; 3] = [
    "0001_create_users",
    "0002_create_orders",
    "0003_add_order_status",
];

/// How long each migration takes.
const STEP: Duration = Duration::from_millis(100);

/// Run the database migrations by hand, without starting the app.
///
/// Only the migrator is constructed; no service runs and the app does not start.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MigratorCommand {
    /// Apply every pending migration.
    Up,
    /// Roll back the latest migration.
    Down,
    /// Show which migrations are applied.
    Status,
}

/// Runs the migrations once the database is ready, then exits.
///
/// A clean `Ok(())` return ends the service (it is not restarted) and counts as ready.
/// `allowed_failure`: a failed migration is logged but does not take the app down.
/// `commands`: the same work is available by hand, without running the app.
#[service(depends_on = [super::example_database::ExampleDatabase], allowed_failure, commands)]
#[derive(Default)]
pub(crate) struct ExampleMigrator;

impl ExampleMigrator {
    /// Applies every migration, one step at a time; stops early at shutdown.
    async fn migrate_up(ctx: &Context) -> Result<()> {
        for name in MIGRATIONS {
            if !pause(ctx, STEP).await {
                return Err(format!("interrupted before migration {name}").into());
            }
            tracing::info!(migration = name, "applied migration");
        }
        Ok(())
    }
}

impl Service for ExampleMigrator {
    async fn run(&self, ctx: Context) -> Result<()> {
        tracing::info!(pending = MIGRATIONS.len(), "running migrations");
        Self::migrate_up(&ctx).await?;
        tracing::info!("migrations completed");
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        tracing::info!("migrator stopping (its work was already done)");
        Ok(())
    }
}

impl Commander for ExampleMigrator {
    type Command = MigratorCommand;

    async fn command(&self, cmd: MigratorCommand, ctx: Context) -> Result<()> {
        match cmd {
            MigratorCommand::Up => {
                tracing::info!("running migrations up");
                Self::migrate_up(&ctx).await?;
                tracing::info!("migrations applied");
            }
            MigratorCommand::Down => {
                let latest = MIGRATIONS[MIGRATIONS.len() - 1];
                tracing::info!(migration = latest, "rolling back migration");
                if !pause(&ctx, STEP).await {
                    return Err(format!("interrupted while rolling back {latest}").into());
                }
                tracing::info!(migration = latest, "migration rolled back");
            }
            MigratorCommand::Status => {
                tracing::info!(applied = MIGRATIONS.len(), "migration status");
                // Command output goes to stdout; logs stay on stderr.
                for name in MIGRATIONS {
                    println!("applied  {name}");
                }
                println!("migration status: all up to date");
            }
        }
        Ok(())
    }
}
