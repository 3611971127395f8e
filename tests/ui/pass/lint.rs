#![deny(warnings, clippy::pedantic)]
//! Every kind of argument, under `#![deny(warnings, clippy::pedantic)]`. trybuild compiles
//! this file with rustc; `tests/lint.rs` includes it so clippy sees it too.

use std::sync::atomic::{AtomicU32, Ordering};

use servicepack::prelude::*;

/// Ready once connected.
#[service(retries = 2, delay = "2s", notify_ready, ready_timeout = "30s")]
#[derive(Default)]
pub(crate) struct LintDatabase {
    connections: AtomicU32,
}

impl Service for LintDatabase {
    async fn run(&self, ctx: Context) -> Result<()> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        ctx.ready();
        ctx.cancelled().await;
        Ok(())
    }

    async fn stop(&self, _ctx: Context) -> Result<()> {
        self.connections.store(0, Ordering::Relaxed);
        Ok(())
    }
}

/// The subcommands of [`LintMigrator`].
#[derive(clap::Subcommand)]
pub(crate) enum LintCommand {
    /// Applies the migrations.
    Up,
}

/// Every other argument.
#[service(
    name = "lint-migrator",
    retries = "unlimited",
    delay = "100ms",
    backoff = "exponential",
    max_delay = "10s",
    jitter,
    retry_reset = "1m",
    restart = "always",
    depends_on = [LintDatabase, "external"],
    allowed_failure,
    stop_timeout = "5s",
    commands,
    new = LintMigrator::open,
    crate = ::servicepack,
)]
pub(crate) struct LintMigrator {
    applied: AtomicU32,
}

impl LintMigrator {
    fn open() -> Result<Self> {
        let applied = "0".parse()?;
        Ok(Self {
            applied: AtomicU32::new(applied),
        })
    }
}

impl Service for LintMigrator {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        Ok(())
    }
}

impl Commander for LintMigrator {
    type Command = LintCommand;

    async fn command(&self, cmd: LintCommand, _ctx: Context) -> Result<()> {
        match cmd {
            LintCommand::Up => self.applied.fetch_add(1, Ordering::Relaxed),
        };
        Ok(())
    }
}

/// Unit, tuple.
#[service(restart = "never")]
#[derive(Default)]
pub(crate) struct LintTuple(pub(crate) u8);

impl Service for LintTuple {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

/// Checks that the services above are registered.
pub(crate) fn main() {
    let names: Vec<&str> = servicepack::__private::SERVICES
        .iter()
        .map(|entry| entry.name)
        .collect();
    for name in ["lint-database", "lint-migrator", "lint-tuple"] {
        assert!(names.contains(&name), "{name} is not in {names:?}");
    }
    assert_eq!(LintTuple::default().0, 0);
}
