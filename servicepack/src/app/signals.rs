//! SIGINT, SIGTERM and SIGHUP, read on a dedicated OS thread.
//!
//! Not a tokio task: the escape hatch of SPEC §4.9 must work exactly when the app is
//! wedged, with every tokio worker blocked in a `run` or `stop` that never yields. The
//! thread (signal-hook's iterator over a self-pipe) needs no worker: it logs each signal
//! and hands it to the listener, which asks for the graceful shutdown through handles
//! that need no worker either (a cancellation token, the runner's `ShutdownHandle`), or
//! ends the process itself.
//!
//! Whoever listens decides what the n-th signal means; across the app the rule is: the
//! first one asks politely, the second one ends the process with 128 + its number.

use crate::app::exit::Signal;

/// Starts the thread that logs INFO `received signal` (`signal=interrupt|terminated|hangup`)
/// for every SIGINT, SIGTERM and SIGHUP, then calls `on_signal` with the signal and its
/// 1-based count. The handlers are installed before this returns, so no signal is lost
/// (or kills the process by its default action) after it.
///
/// # Errors
///
/// The operating system refused to install a handler or to start the thread.
#[cfg(unix)]
pub(crate) fn listen(
    mut on_signal: impl FnMut(Signal, u32) + Send + 'static,
) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("servicepack-signals".to_owned())
        .spawn(move || {
            let mut count = 0_u32;
            for number in signals.forever() {
                let Some(signal) = Signal::from_number(number) else {
                    continue;
                };
                count = count.saturating_add(1);
                tracing::info!(signal = signal.field(), "received signal");
                on_signal(signal, count);
            }
        })?;
    Ok(())
}

/// Ctrl-C only, on a tokio task (no SIGTERM or SIGHUP here). Must be called inside a tokio
/// runtime.
///
/// # Errors
///
/// Never; the signature matches the Unix one.
#[cfg(not(unix))]
pub(crate) fn listen(
    mut on_signal: impl FnMut(Signal, u32) + Send + 'static,
) -> std::io::Result<()> {
    tokio::spawn(async move {
        let mut count = 0_u32;
        while tokio::signal::ctrl_c().await.is_ok() {
            count = count.saturating_add(1);
            tracing::info!(signal = Signal::Interrupt.field(), "received signal");
            on_signal(Signal::Interrupt, count);
        }
    });
    Ok(())
}
