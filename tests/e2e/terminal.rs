//! Terminal conventions (SPEC §3): colour only on a terminal, `NO_COLOR` and
//! `CLICOLOR_FORCE`, help wrapped to the terminal's width, `RUST_LOG` when `LOG_LEVEL` is
//! unset. The terminal is a real pseudo-terminal: `script` from util-linux runs the app
//! on one and copies what the app wrote to it onto a pipe.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{Launch, blocking_app};

const ESCAPE: char = '\x1b';

/// Runs `blocking-app <args>` on a pseudo-terminal of `columns` columns with `vars` set,
/// and returns everything it wrote to the terminal (stdout and stderr together) and its
/// exit code.
fn on_a_terminal(args: &str, columns: u16, vars: &[(&str, &str)]) -> (String, Option<i32>) {
    let app = shell_quote(blocking_app());
    let mut command = Command::new("script");
    command
        .args(["-q", "-e", "-c"])
        .arg(format!("stty cols {columns} rows 40; exec {app} {args}"))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .env("TERM", "xterm-256color");
    for var in [
        "NO_COLOR",
        "CLICOLOR_FORCE",
        "LOG_LEVEL",
        "RUST_LOG",
        "LOG_FORMAT",
        "COLUMNS",
        "SERVICES_ENABLED",
        "ALPHA_RUN",
    ] {
        command.env_remove(var);
    }
    command.env("SERVICES_ENABLED", "alpha");
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command
        .output()
        .expect("`script` (util-linux) runs; install the bsdutils package");
    (
        String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"),
        output.status.code(),
    )
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// A run that ends at once: `alpha` returns `Ok` (nothing left running, exit 0).
fn quick_run_in_a_pipe(vars: &[(&str, &str)]) -> String {
    let mut launch = Launch::new(blocking_app(), &["run"]).env("SERVICES_ENABLED", "alpha");
    for (name, value) in vars {
        launch = launch.env(name, value);
    }
    let run = launch.run();
    run.assert_code(0);
    run.stderr_text()
}

#[test]
fn logs_are_coloured_on_a_terminal() {
    let (text, code) = on_a_terminal("run", 120, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("running app"), "{text}");
    assert!(text.contains(ESCAPE), "no colour on a terminal:\n{text}");
}

#[test]
fn logs_are_plain_in_a_pipe() {
    let text = quick_run_in_a_pipe(&[]);
    assert!(text.contains("running app"), "{text}");
    assert!(!text.contains(ESCAPE), "colour in a pipe:\n{text}");
}

#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    let (text, _) = on_a_terminal("run", 120, &[("NO_COLOR", "1")]);
    assert!(text.contains("running app"), "{text}");
    assert!(!text.contains(ESCAPE), "colour despite NO_COLOR:\n{text}");
    let (help, _) = on_a_terminal("--help", 120, &[("NO_COLOR", "1")]);
    assert!(help.contains("Usage"), "{help}");
    assert!(
        !help.contains(ESCAPE),
        "coloured help despite NO_COLOR:\n{help}"
    );
}

#[test]
fn clicolor_force_turns_colour_on_in_a_pipe() {
    let text = quick_run_in_a_pipe(&[("CLICOLOR_FORCE", "1")]);
    assert!(
        text.contains(ESCAPE),
        "no colour with CLICOLOR_FORCE=1:\n{text}"
    );
    let help = Launch::new(blocking_app(), &["--help"])
        .env("CLICOLOR_FORCE", "1")
        .run();
    help.assert_code(0);
    assert!(
        help.stdout_text().contains(ESCAPE),
        "{}",
        help.stdout_text()
    );
}

#[test]
fn help_is_coloured_on_a_terminal_and_plain_in_a_pipe() {
    let (help, code) = on_a_terminal("--help", 120, &[]);
    assert_eq!(code, Some(0), "{help}");
    assert!(help.contains(ESCAPE), "plain help on a terminal:\n{help}");
    let piped = Launch::new(blocking_app(), &["--help"]).run();
    piped.assert_code(0);
    assert!(
        !piped.stdout_text().contains(ESCAPE),
        "{}",
        piped.stdout_text()
    );
}

#[test]
fn help_wraps_to_the_terminal_width() {
    let (help, code) = on_a_terminal("--help", 60, &[("NO_COLOR", "1")]);
    assert_eq!(code, Some(0), "{help}");
    let widest = help
        .lines()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0);
    assert!(
        widest <= 60,
        "a {widest}-character line on a 60-column terminal:\n{help}"
    );
    let (wide, _) = on_a_terminal("--help", 200, &[("NO_COLOR", "1")]);
    let widest = wide
        .lines()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0);
    assert!(widest > 60, "the help should use a wide terminal:\n{wide}");
}

#[test]
fn rust_log_is_honoured_when_log_level_is_unset() {
    let text = quick_run_in_a_pipe(&[("RUST_LOG", "warn")]);
    assert!(
        !text.contains("running app"),
        "RUST_LOG=warn ignored:\n{text}"
    );
    let text = quick_run_in_a_pipe(&[("RUST_LOG", "warn,servicepack::cli=info")]);
    assert!(
        text.contains("running app"),
        "a RUST_LOG directive:\n{text}"
    );
}

#[test]
fn log_level_wins_over_rust_log() {
    let text = quick_run_in_a_pipe(&[("RUST_LOG", "warn"), ("LOG_LEVEL", "info")]);
    assert!(
        text.contains("running app"),
        "LOG_LEVEL should win:\n{text}"
    );
    let text = quick_run_in_a_pipe(&[("RUST_LOG", "info"), ("LOG_LEVEL", "warn")]);
    assert!(
        !text.contains("running app"),
        "LOG_LEVEL should win:\n{text}"
    );
}

#[test]
fn a_bad_rust_log_is_a_usage_error_naming_it() {
    let run = Launch::new(blocking_app(), &["run"])
        .env("RUST_LOG", "loud")
        .run();
    run.assert_code(2);
    assert!(
        run.stderr_text().contains("invalid RUST_LOG=\"loud\""),
        "{}",
        run.dump()
    );
}
