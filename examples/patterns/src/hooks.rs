//! Pre-run and post-stop hooks (`App::pre_run`, `App::post_stop`): code that runs once
//! around the services, like the Go original's `cmd/init.go`.
//!
//! Watch `pre-run hook: ...` before the first `starting` line, and `post-stop hook: ...`
//! after the last `stopped` one. A pre-run hook that fails stops `run` before any
//! service is constructed: `PATTERNS_FAIL_PRE_RUN=1 patterns run` exits 1.

use servicepack::App;

/// The variable that makes the pre-run hook fail, to show what that does.
pub(crate) const FAIL_PRE_RUN: &str = "PATTERNS_FAIL_PRE_RUN";

/// Registers one pre-run and one post-stop hook.
pub(crate) fn register(app: &mut App) {
    app.pre_run(|_ctx| async {
        if std::env::var_os(FAIL_PRE_RUN).is_some_and(|v| !v.is_empty()) {
            return Err(format!("{FAIL_PRE_RUN} is set: refusing to start").into());
        }
        tracing::info!("pre-run hook: the environment is fine, services may start");
        Ok(())
    });
    app.post_stop(|_ctx| async {
        tracing::info!("post-stop hook: every service has stopped");
        Ok(())
    });
}
