//! Executing what the command line asked for: `./app run` (pre-run hooks, the runner,
//! post-stop hooks, with signals and the budget wired to all three), and a service's or a
//! custom command.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument as _;

use crate::app::config::{Config, LogFormat};
use crate::app::exit::{Exit, Signal};
use crate::app::watchdog::{self, Ending, Stage};
use crate::app::{AppInfo, Hook, signals};
use crate::context::Extra;
use crate::runtime::catch::{self, Panicked, chain};
use crate::service::BoxFuture;
use crate::{Context, Report, Result, Runner, ServiceDef, StatusHandle, format_duration};

/// `./app run`: the pre-run hooks, the runner, the post-stop hooks. A forced exit (a
/// second signal) or a spent budget ends the process from another thread.
pub(crate) fn run(
    info: AppInfo,
    hooks: (Vec<Hook>, Vec<Hook>),
    defs: Vec<ServiceDef>,
    commands: Vec<(&'static str, crate::registry::CommandsEntry)>,
    config: &Config,
) -> Exit {
    let format = config.log.format;
    let (drain, budget) = (config.drain_delay, config.shutdown_timeout);
    let mut runner = Runner::new()
        .services(defs)
        .shutdown_timeout(budget)
        .drain_delay(drain)
        .app_info(info.bin_name, info.version, &config.env);
    runner = config.peers.install(runner);
    // The control routes exist only with the token (and an endpoint to serve them on).
    let control = (config.ops.addr.is_some() && config.ops.token.is_some()).then(|| {
        runner = std::mem::take(&mut runner)
            .command_limits(config.ops.commands_max, config.ops.command_timeout);
        (runner.control(), commands)
    });
    let status = runner.status();
    block_on(format, async move {
        // Bound before any hook or service: a bind failure starts nothing.
        let _endpoint = match crate::ops::start(&config.ops, status.clone(), control).await {
            Ok(endpoint) => endpoint,
            Err(reason) => {
                return Exit::Failure.because(format, &format!("{reason}; no service was started"));
            }
        };
        let lifecycle = lifecycle(hooks, runner, (drain, budget), format);
        crate::app::notify::alongside(&config.notify, status, lifecycle).await
    })
}

async fn lifecycle(
    (pre_run, post_stop): (Vec<Hook>, Vec<Hook>),
    runner: Runner,
    (drain, budget): (Duration, Duration),
    format: LogFormat,
) -> Exit {
    let ending = Ending::new(Stage::PreRun, format);
    let status = runner.status();
    let pre_run_token = CancellationToken::new();
    let post_stop_token = CancellationToken::new();
    let listening = listen(format, {
        let handle = runner.shutdown_handle();
        let (ending, status) = (Arc::clone(&ending), status.clone());
        let (pre_run_token, post_stop_token) = (pre_run_token.clone(), post_stop_token.clone());
        move |signal, count| {
            if count >= 2 {
                ending.end_now(Exit::Forced(signal), |stage| {
                    forced_reason(signal, stage, &status)
                });
                return;
            }
            match ending.stage() {
                Stage::PreRun => pre_run_token.cancel(),
                // The drain, then the reverse-order stop; the budget starts when the
                // drain ends.
                Stage::Running => {
                    ending.requested();
                    handle.request();
                }
                Stage::PostStop { .. } => post_stop_token.cancel(),
                Stage::Command | Stage::Done => {}
            }
        }
    });
    if let Err(exit) = listening {
        return exit;
    }

    let count = pre_run.len();
    for (index, hook) in pre_run.into_iter().enumerate() {
        if pre_run_token.is_cancelled() {
            break;
        }
        let ctx = Context::new("pre-run".into(), 1, pre_run_token.clone(), None);
        if let Err(error) = call(hook(ctx)).await {
            ending.done();
            let number = index + 1;
            return Exit::Failure.because(
                format,
                &format!("pre-run hook {number} of {count} {error}; no service was started"),
            );
        }
    }
    // The stage first: a signal from here on reaches the runner, one before it has
    // cancelled the token.
    ending.set(Stage::Running);
    if pre_run_token.is_cancelled() {
        ending.done();
        tracing::info!("interrupted during the pre-run hooks; no service was started");
        return Exit::Success;
    }
    if let Err(error) = watchdog::start(Arc::clone(&ending), status, drain, budget) {
        ending.done();
        return Exit::Failure.because(
            format,
            &format!("cannot start the shutdown watchdog: {error}"),
        );
    }

    let report = runner.run().await;
    let deadline = ending.began().checked_add(budget);
    let mut exit = report_exit(&report);
    let mut reasons: Vec<String> = report.reason().into_iter().collect();

    let failures = post_stop_hooks(post_stop, &post_stop_token, &ending, deadline, budget).await;
    if !failures.is_empty() {
        exit = exit.or(Exit::Failure);
        reasons.extend(failures);
    }
    ending.done();
    if exit == Exit::Success {
        exit
    } else {
        exit.because(format, &reasons.join("; "))
    }
}

/// Runs the post-stop hooks until `deadline` (the end of the shutdown budget) and returns
/// what went wrong, one reason per hook, each logged at ERROR with its position. A hook
/// still running at the deadline is abandoned (its task aborted) and the later hooks do
/// not run; should its thread be blocked, the watchdog ends the process.
async fn post_stop_hooks(
    hooks: Vec<Hook>,
    token: &CancellationToken,
    ending: &Ending,
    deadline: Option<Instant>,
    budget: Duration,
) -> Vec<String> {
    let mut reasons = Vec::new();
    let budget = format_duration(budget);
    let deadline = deadline.map(tokio::time::Instant::from_std);
    let count = hooks.len();
    let not_run = |number: usize| {
        if number == count {
            format!(
                "post-stop hook {number} of {count} not run: the shutdown budget of {budget} is spent"
            )
        } else {
            format!(
                "post-stop hooks {number} to {count} of {count} not run: the shutdown budget of {budget} is spent"
            )
        }
    };
    for (index, hook) in hooks.into_iter().enumerate() {
        let number = index + 1;
        ending.set(Stage::PostStop { number, count });
        if deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline) {
            let reason = not_run(number);
            tracing::error!("{reason}");
            reasons.push(reason);
            break;
        }
        let ctx = Context::new(
            "post-stop".into(),
            1,
            token.clone(),
            Some(Extra::deadline(deadline)),
        );
        let called = call(hook(ctx));
        let outcome = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, called).await.ok(),
            None => Some(called.await),
        };
        match outcome {
            Some(Ok(())) => {}
            Some(Err(error)) => {
                let reason = format!("post-stop hook {number} of {count} {error}");
                tracing::error!("{reason}");
                reasons.push(reason);
            }
            None => {
                let reason = format!(
                    "post-stop hook {number} of {count} abandoned: still running when the shutdown budget of {budget} ran out"
                );
                tracing::error!("{reason}");
                reasons.push(reason);
                if number < count {
                    let reason = not_run(number + 1);
                    tracing::error!("{reason}");
                    reasons.push(reason);
                }
                break;
            }
        }
    }
    reasons
}

/// [`signals::listen`], or the failure to write when it cannot.
fn listen(
    format: LogFormat,
    on_signal: impl FnMut(Signal, u32) + Send + 'static,
) -> Result<(), Exit> {
    signals::listen(on_signal).map_err(|error| {
        Exit::Failure.because(
            format,
            &format!("cannot handle SIGINT, SIGTERM and SIGHUP: {error}"),
        )
    })
}

/// Why a second signal ends the process in `stage`; `None` once the outcome is known.
fn forced_reason(signal: Signal, stage: Stage, status: &StatusHandle) -> Option<String> {
    let name = signal.name();
    Some(match stage {
        Stage::PreRun => {
            format!(
                "forced exit: a second signal ({name}) arrived while a pre-run hook was running"
            )
        }
        Stage::Running => format!(
            "forced exit: a second signal ({name}) arrived during shutdown; still stopping: {}",
            watchdog::still_stopping(status)
        ),
        Stage::PostStop { number, count } => format!(
            "forced exit: a second signal ({name}) arrived while post-stop hook {number} of {count} was running"
        ),
        Stage::Command | Stage::Done => return None,
    })
}

/// The exit of a finished run. The runner forces an exit only on a second
/// `ShutdownHandle::request`, which the app layer never makes (a second signal ends the
/// process from the signal thread); were it to, it counts as a failure.
fn report_exit(report: &Report) -> Exit {
    if report.exit_code() == 0 {
        Exit::Success
    } else {
        Exit::Failure
    }
}

/// A service command (`label` is `example-migrator up`, `service` its service) or a custom
/// command (`label` is its name, no service): runs `body` with a context that the first
/// signal cancels; the second one forces the exit. Success on `Ok`, a failure with the
/// reason on stderr on `Err` or a panic.
pub(crate) fn command(
    label: &str,
    service: Option<&str>,
    body: impl FnOnce(Context) -> BoxFuture<'static, Result<()>>,
    format: LogFormat,
) -> Exit {
    block_on(format, async move {
        let ending = Ending::new(Stage::Command, format);
        let token = CancellationToken::new();
        let listening = listen(format, {
            let (ending, token) = (Arc::clone(&ending), token.clone());
            let label = label.to_owned();
            move |signal, count| {
                if count >= 2 {
                    ending.end_now(Exit::Forced(signal), |_| {
                        Some(format!(
                            "forced exit: a second signal ({}) arrived while `{label}` was running",
                            signal.name()
                        ))
                    });
                }
                token.cancel();
            }
        });
        if let Err(exit) = listening {
            return exit;
        }
        let name = service.unwrap_or(label);
        let ctx = Context::new(name.into(), 1, token, None);
        let future = match service {
            Some(service) => body(ctx).instrument(tracing::error_span!("service", service)),
            None => body(ctx).instrument(tracing::Span::none()),
        };
        let result = call(future).await;
        ending.done();
        match result {
            Ok(()) => Exit::Success,
            Err(error) => Exit::Failure.because(format, &format!("{label} {error}")),
        }
    })
}

/// Runs `future` on a fresh multi-thread runtime. The runtime is then dropped without
/// waiting: whatever a service left behind (a task that ignored its token, a blocking
/// call) must not keep the process alive once the outcome is known.
fn block_on(format: LogFormat, future: impl Future<Output = Exit>) -> Exit {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return Exit::Failure
                .because(format, &format!("cannot start the tokio runtime: {error}"));
        }
    };
    let exit = runtime.block_on(future);
    runtime.shutdown_background();
    exit
}

/// Why a hook or a command did not succeed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// It returned an error.
    Failed(crate::Error),
    /// It panicked (the panic is caught here and reported once, by the caller).
    Panicked(String),
    /// Its task was cancelled (the runtime is shutting down).
    Cancelled,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(error) => write!(f, "failed: {}", chain(error)),
            Self::Panicked(message) => f.write_str(message),
            Self::Cancelled => f.write_str("was cancelled"),
        }
    }
}

/// Awaits a hook or a command in its own task, with panics caught (so the panic hook
/// leaves the report to the caller). Dropping the returned future aborts the task: an
/// abandoned hook does not run on.
async fn call(future: impl Future<Output = Result<()>> + Send + 'static) -> Result<(), CallError> {
    let task = AbortOnDropHandle::new(tokio::spawn(async move {
        let slot = pin!(Some(future));
        catch::drive(slot).await
    }));
    match task.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => match error.downcast::<Panicked>() {
            Ok(panicked) => Err(CallError::Panicked(panicked.to_string())),
            Err(error) => Err(CallError::Failed(error)),
        },
        Err(_) => Err(CallError::Cancelled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forced_exit_says_which_signal_and_where() {
        let status = Runner::new().status();
        let reason = |stage| forced_reason(Signal::Terminate, stage, &status);
        assert_eq!(
            reason(Stage::PreRun).as_deref(),
            Some("forced exit: a second signal (SIGTERM) arrived while a pre-run hook was running")
        );
        assert_eq!(
            reason(Stage::Running).as_deref(),
            Some(
                "forced exit: a second signal (SIGTERM) arrived during shutdown; still stopping: none"
            )
        );
        assert_eq!(
            reason(Stage::PostStop {
                number: 2,
                count: 3
            })
            .as_deref(),
            Some(
                "forced exit: a second signal (SIGTERM) arrived while post-stop hook 2 of 3 was running"
            )
        );
        assert_eq!(reason(Stage::Done), None);
    }

    #[tokio::test]
    async fn a_hook_that_panics_is_reported_by_the_caller() {
        let error = call(async { panic!("boom") }).await.unwrap_err();
        assert_eq!(error.to_string(), "panicked: boom");
        let error = call(async { Err("nope".into()) }).await.unwrap_err();
        assert_eq!(error.to_string(), "failed: nope");
        assert!(call(async { Ok(()) }).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn post_stop_hooks_past_the_deadline_are_abandoned_and_the_rest_not_run() {
        let ending = Ending::new(Stage::Running, LogFormat::Text);
        let hooks: Vec<Hook> = vec![
            Box::new(|_ctx| Box::pin(async { Err("flush failed".into()) })),
            Box::new(|_ctx| {
                Box::pin(async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok(())
                })
            }),
            Box::new(|_ctx| Box::pin(async { Ok(()) })),
        ];
        let budget = Duration::from_secs(1);
        let deadline = Instant::now().checked_add(budget);
        let reasons =
            post_stop_hooks(hooks, &CancellationToken::new(), &ending, deadline, budget).await;
        assert_eq!(
            reasons,
            [
                "post-stop hook 1 of 3 failed: flush failed",
                "post-stop hook 2 of 3 abandoned: still running when the shutdown budget of 1s ran out",
                "post-stop hook 3 of 3 not run: the shutdown budget of 1s is spent",
            ]
        );
    }
}
