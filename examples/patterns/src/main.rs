//! `patterns`: one service per lifecycle pattern of servicepack, each a short module to
//! copy. Run one at a time and watch its log:
//!
//! ```text
//! SERVICES_ENABLED=exponential-backoff cargo run -p patterns -- run
//! cargo run -p patterns -- explain      # every pattern, what to watch, the command
//! ```
//!
//! The timings are short, so each story is told in a second or two. They also keep
//! each service under ten lifecycle lines a second, the most the runtime logs per
//! service; `crash-loop` goes past that on purpose, to show what the log does then.

mod counter;
mod crash_loop;
mod exponential_backoff;
mod hooks;
mod jitter;
mod layer;
mod ready_timeout;
mod restart;
mod retry_reset;
mod stopping;

use clap::Command;

/// Each pattern: the service (or `-` for app-level ones), what it shows, the command.
const PATTERNS: [(&str, &str, &str); 12] = [
    (
        "exponential-backoff",
        "retrying delays double: 150ms, 300ms, 600ms, then max_delay caps 1.2s at 1s",
        "SERVICES_ENABLED=exponential-backoff patterns run",
    ),
    (
        "jitter",
        "retrying delays spread over 75ms..125ms around delay = 100ms, new ones each run",
        "SERVICES_ENABLED=jitter patterns run",
    ),
    (
        "retry-reset",
        "a 700ms run resets the failure count: final failure after attempt 3, not 2",
        "SERVICES_ENABLED=retry-reset patterns run",
    ),
    (
        "crash-loop",
        "ten lifecycle lines a second, then `lifecycle lines suppressed` with the count",
        "SERVICES_ENABLED=crash-loop patterns run",
    ),
    (
        "restart-always",
        "exited, retrying, starting again with a growing attempt (Ctrl-C to stop)",
        "SERVICES_ENABLED=restart-always patterns run",
    ),
    (
        "restart-never",
        "one starting, one failure, no retrying",
        "SERVICES_ENABLED=restart-never patterns run",
    ),
    (
        "ready-timeout",
        "attempt 1 fails after 200ms without ctx.ready(); attempt 2 is ready",
        "SERVICES_ENABLED=ready-timeout patterns run",
    ),
    (
        "stop-timeout",
        "on Ctrl-C: stopping, then stop timed out after 200ms; exit status 1",
        "SERVICES_ENABLED=stop-timeout patterns run",
    ),
    (
        "hanging-stop",
        "on Ctrl-C the stop hangs; a second Ctrl-C exits at once with status 130",
        "SERVICES_ENABLED=hanging-stop patterns run",
    ),
    (
        "counter",
        "a service's own subcommand: prints 1..3, constructs nothing else",
        "patterns counter count --to 3",
    ),
    (
        "-",
        "pre-run hook before the first starting, post-stop hook after the last stopped",
        "SERVICES_ENABLED=restart-never patterns run",
    ),
    (
        "-",
        "an extra tracing layer counts the lifecycle events, printed on stdout at the end",
        "SERVICES_ENABLED=restart-always patterns run",
    ),
];

#[servicepack::main]
fn main(app: &mut servicepack::App) {
    hooks::register(app);
    layer::register(app);
    let explain = Command::new("explain")
        .about("Say what each service of this example shows, and the command to see it");
    app.command(explain, |_matches, _ctx| async {
        for (service, shows, command) in PATTERNS {
            println!("{service:<20} {shows}\n{:<20} $ {command}", "");
        }
        Ok(())
    });
}
