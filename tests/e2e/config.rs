//! Bad environment values: exit 2 with a message naming the variable (SPEC §3).

use crate::support::{Launch, showcase};

#[test]
fn every_bad_environment_value_exits_2_naming_the_variable() {
    let cases = [
        ("SERVICES_ENABLED", "nope", "example-database"),
        ("RUNNER_SHUTDOWNTIMEOUT", "ten", "ten"),
        ("LOG_LEVEL", "loud", "loud"),
        ("LOG_FORMAT", "xml", "xml"),
        ("LOG_ADD_SOURCE", "maybe", "maybe"),
    ];
    let mut failures = Vec::new();
    for (var, value, also) in cases {
        let run = Launch::new(showcase(), &["run"]).env(var, value).run();
        let stderr = run.stderr_text();
        if run.status.code() != Some(2) || !stderr.contains(var) || !stderr.contains(also) {
            failures.push(format!(
                "{var}={value}: exit {}, stderr should name {var} and {also:?}:\n{stderr}",
                run.status
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
