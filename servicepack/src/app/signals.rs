//! SIGINT and SIGTERM. Whoever listens decides what the n-th signal means; across the app
//! the rule is: the first one asks politely (cancel, graceful shutdown), the second one
//! ends the process with status 130.

use crate::app::config::LogFormat;
use crate::app::telemetry;

/// The exit status of a forced exit.
pub(crate) const FORCED_EXIT: u8 = 130;

/// Starts a task that logs INFO `received signal` (`signal=interrupt|terminated`) for every
/// SIGINT and SIGTERM and then calls `on_signal` with the signal's 1-based number. The
/// handlers are installed before this returns, so no signal is lost (or kills the process)
/// after it.
///
/// Must be called inside a tokio runtime.
///
/// # Errors
///
/// The operating system refused to install a handler.
pub(crate) fn listen(mut on_signal: impl FnMut(u32) + Send + 'static) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};

        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            let mut count = 0_u32;
            loop {
                let name = tokio::select! {
                    Some(()) = interrupt.recv() => "interrupt",
                    Some(()) = terminate.recv() => "terminated",
                    else => return,
                };
                count = count.saturating_add(1);
                tracing::info!(signal = name, "received signal");
                on_signal(count);
            }
        });
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async move {
            let mut count = 0_u32;
            while tokio::signal::ctrl_c().await.is_ok() {
                count = count.saturating_add(1);
                tracing::info!(signal = "interrupt", "received signal");
                on_signal(count);
            }
        });
    }
    Ok(())
}

/// Writes `reason` as the exit reason and ends the process with status 130, without
/// waiting for anything.
pub(crate) fn forced_exit(format: LogFormat, reason: &str) -> ! {
    telemetry::exit_reason(format, FORCED_EXIT, reason);
    std::process::exit(i32::from(FORCED_EXIT))
}
