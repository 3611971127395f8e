//! The README's code stays true: the quick-start example is the real `examples/hello`,
//! and the two set-up commands are the ones that run the showcase and that CI runs.

use std::path::Path;

fn read(relative: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(relative))
        .unwrap_or_else(|error| panic!("cannot read {relative}: {error}"))
}

/// The fenced block that follows `marker` in `text`.
fn block_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("README has no {marker:?}"));
    let rest = &text[at..];
    let open = rest.find("```").expect("a fenced block") + 3;
    let body = &rest[open..];
    let body = &body[body.find('\n').expect("a fence line") + 1..];
    &body[..body.find("```").expect("a closing fence")]
}

#[test]
fn quick_start_is_the_hello_example() {
    let readme = read("README.md");
    let shown = block_after(&readme, "The whole of `examples/hello/src/main.rs`");
    let source = read("examples/hello/src/main.rs");
    let without_docs = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(shown.trim(), without_docs.trim());
}

#[test]
fn set_up_commands_run_the_showcase_and_the_ci_tests() {
    let readme = read("README.md");
    let commands = block_after(&readme, "## On a fresh machine");
    let commands: Vec<&str> = commands
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run -p showcase -- run",
            "bash .ci/setup && cargo test --workspace"
        ]
    );
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|line| line.trim() == commands[1]),
        ".ci/run must call the README's test command exactly"
    );
}
