//! Services that misbehave on purpose, for the reliability tests in `tests/e2e/`:
//! blocking `run`s and `stop`s, busy loops, panics where servicepack cannot catch them,
//! crash loops and slow post-stop hooks.
//!
//! The plain services `alpha`, `beta`, `gamma`, `delta` and `epsilon` (whose
//! `stop_timeout` is 500 ms) read what to do from
//! `<NAME>_RUN` and `<NAME>_STOP` (`ALPHA_RUN=block:300,wait`): comma-separated steps, done
//! in order, then `Ok(())`:
//!
//! - `wait`: await the context's cancellation
//! - `sleep:<ms>`: a tokio sleep (yields)
//! - `block:<ms>`: `std::thread::sleep`, blocking the worker thread
//! - `spin:<ms>`: a busy loop, blocking the worker thread
//! - `block-until-stop`: block the thread until this service's `stop` has been called
//! - `err`, `panic`: return an error, panic
//! - `spawn-panic`: spawn a task that panics (outside any span), and
//!   `spawn-panic-in-span`: the same, spawned with `.in_current_span()`
//!
//! Each service logs `<name> run called` and `<name> stop called` when those begin, and
//! `<name> stop returned` when `stop` returns. The post-stop hook does `POST_STOP` (the
//! same steps); the custom command `hang` never returns; `SETUP_THREAD_PANIC` makes the
//! setup function start a thread that panics. Other services: `drop-panic` (its `Drop` panics), `crash-loop`
//! (`retries = "unlimited"`, fails at once) and `restart-loop` (`restart = "always"`,
//! returns at once).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use servicepack::prelude::*;
use tracing::Instrument as _;

/// Runs the steps of `var` for service `name`.
async fn steps(name: &str, var: &str, ctx: &Context, stopped: &AtomicBool) -> Result<()> {
    let plan = std::env::var(var).unwrap_or_default();
    for step in plan
        .split(',')
        .map(str::trim)
        .filter(|step| !step.is_empty())
    {
        let (what, arg) = step.split_once(':').unwrap_or((step, "0"));
        let millis = Duration::from_millis(arg.parse().unwrap_or(0));
        match what {
            "wait" => ctx.cancelled().await,
            "sleep" => tokio::time::sleep(millis).await,
            "block" => std::thread::sleep(millis),
            "spin" => {
                let end = Instant::now() + millis;
                while Instant::now() < end {
                    std::hint::spin_loop();
                }
            }
            "block-until-stop" => {
                while !stopped.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                tracing::info!("{name} run unblocked by stop");
            }
            "err" => return Err(format!("{name} failed on purpose").into()),
            "panic" => panic!("{name} panicked on purpose"),
            "spawn-panic" => {
                tokio::spawn(async { panic!("a task spawned by a service panicked") });
            }
            "spawn-panic-in-span" => {
                tokio::spawn(
                    async { panic!("a task spawned in the service's span panicked") }
                        .in_current_span(),
                );
            }
            other => return Err(format!("unknown step `{other}` in {var}").into()),
        }
    }
    Ok(())
}

macro_rules! plain {
    ($type:ident, $name:literal, $run:literal, $stop:literal $(, $key:ident = $value:literal)?) => {
        #[service(name = $name $(, $key = $value)?)]
        #[derive(Default)]
        struct $type {
            stopped: AtomicBool,
        }

        impl Service for $type {
            async fn run(&self, ctx: Context) -> Result<()> {
                tracing::info!(concat!($name, " run called"));
                steps($name, $run, &ctx, &self.stopped).await
            }

            async fn stop(&self, ctx: Context) -> Result<()> {
                tracing::info!(concat!($name, " stop called"));
                self.stopped.store(true, Ordering::Release);
                let result = steps($name, $stop, &ctx, &self.stopped).await;
                tracing::info!(concat!($name, " stop returned"));
                result
            }
        }
    };
}

plain!(Alpha, "alpha", "ALPHA_RUN", "ALPHA_STOP");
plain!(Beta, "beta", "BETA_RUN", "BETA_STOP");
plain!(Gamma, "gamma", "GAMMA_RUN", "GAMMA_STOP");
plain!(Delta, "delta", "DELTA_RUN", "DELTA_STOP");
plain!(
    Epsilon,
    "epsilon",
    "EPSILON_RUN",
    "EPSILON_STOP",
    stop_timeout = "500ms"
);

/// Its destructor panics, after the run ended.
#[service(name = "drop-panic")]
#[derive(Default)]
struct DropPanic;

impl Drop for DropPanic {
    fn drop(&mut self) {
        assert!(std::thread::panicking(), "drop-panic panicked in Drop");
    }
}

impl Service for DropPanic {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        Ok(())
    }
}

/// Fails at once, retried without end and without delay.
#[service(name = "crash-loop", retries = "unlimited")]
#[derive(Default)]
struct CrashLoop;

impl Service for CrashLoop {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Err("crashing at once".into())
    }
}

/// Returns at once, restarted without end and without delay.
#[service(name = "restart-loop", restart = "always")]
#[derive(Default)]
struct RestartLoop;

impl Service for RestartLoop {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

#[servicepack::main]
fn main(app: &mut servicepack::App) {
    if std::env::var_os("SETUP_THREAD_PANIC").is_some() {
        // Before the subscriber is installed; joined, so it has happened by then.
        let _ = std::thread::spawn(|| panic!("a thread of the setup function panicked")).join();
    }
    app.post_stop(|ctx| async move {
        tracing::info!("post-stop hook called");
        let result = steps("post-stop", "POST_STOP", &ctx, &AtomicBool::new(true)).await;
        tracing::info!("post-stop hook returned");
        result
    })
    .command(
        clap::Command::new("hang").about("Run until killed, ignoring the first signal"),
        |_matches, _ctx| async {
            tracing::info!("hang running");
            std::future::pending::<()>().await;
            Ok(())
        },
    );
}
