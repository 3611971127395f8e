//! Transcripts of the flags that cover the whole `#[service]` attribute, the three
//! sources of servicepack for `new`, and `completions`: every flag, every refusal, with
//! the exact stderr and exit code.
//!
//! A bad attribute value is refused with the words the compiler prints for it: those
//! are read from the UI tests' `.stderr` files (`tests/ui/service/*.stderr`), so the two
//! cannot drift apart.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use tempfile::TempDir;

fn servicepack(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = cargo_bin_cmd!("servicepack");
    cmd.args(args).current_dir(dir);
    cmd
}

fn project() -> (TempDir, PathBuf) {
    let tmp = TempDir::new().unwrap();
    servicepack(tmp.path(), &["new", "app", "--no-git"])
        .assert()
        .success();
    let root = tmp.path().join("app");
    (tmp, root)
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap()
}

/// The message `#[service]` gives for the mistake of UI test `name`: the first line of
/// its `.stderr`, without `error: `.
fn compiler_says(name: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/ui/service")
        .join(format!("{name}.stderr"));
    let text = read(&file);
    let first = text.lines().next().expect("a non-empty .stderr");
    first
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("{}: {first}", file.display()))
        .to_owned()
}

#[test]
fn add_writes_every_argument_of_the_attribute_in_order() {
    let (_tmp, root) = project();
    servicepack(
        &root,
        &[
            "add",
            "worker",
            "--retries",
            "3",
            "--delay",
            "500ms",
            "--backoff",
            "exponential",
            "--max-delay",
            "1m",
            "--jitter",
            "--retry-reset",
            "5m",
            "--restart",
            "always",
            "--depends-on",
            "hello-world",
            "--depends-on-name",
            "external-cache,search",
            "--allowed-failure",
            "--notify-ready",
            "--readiness",
            "false",
            "--ready-timeout",
            "30s",
            "--stop-timeout",
            "10s",
            "--commands",
            "--new",
            "--crate",
            "::servicepack",
        ],
    )
    .assert()
    .code(0)
    .stderr("");
    let text = read(root.join("src/services/worker.rs"));
    assert!(
        text.contains(
            "#[service(retries = 3, delay = \"500ms\", backoff = \"exponential\", max_delay = \"1m\", \
             jitter, retry_reset = \"5m\", restart = \"always\", \
             depends_on = [super::hello_world::HelloWorld, \"external-cache\", \"search\"], \
             allowed_failure, notify_ready, readiness = false, ready_timeout = \"30s\", stop_timeout = \"10s\", \
             commands, new = Self::new, crate = ::servicepack)]\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("    pub fn new() -> Result<Self> {\n"),
        "{text}"
    );
    assert!(text.contains("        ctx.ready();\n"), "{text}");
}

#[test]
fn add_writes_the_other_values_of_each_choice() {
    let (_tmp, root) = project();
    servicepack(
        &root,
        &[
            "add",
            "once",
            "--restart",
            "never",
            "--backoff",
            "constant",
            "--retries",
            "0",
        ],
    )
    .assert()
    .code(0);
    assert!(
        read(root.join("src/services/once.rs"))
            .contains("#[service(retries = 0, backoff = \"constant\", restart = \"never\")]\n")
    );
    servicepack(&root, &["add", "again", "--restart", "on-failure"])
        .assert()
        .code(0);
    assert!(
        read(root.join("src/services/again.rs")).contains("#[service(restart = \"on-failure\")]\n")
    );
}

/// `add w --<flag>=<value>` is a usage error (exit 2) whose message is the compiler's.
fn refused_value(flag: &str, value: &str, placeholder: &str, ui_test: &str) {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "w", &format!("{flag}={value}")])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::starts_with(format!(
            "error: invalid value '{value}' for '{flag} <{placeholder}>': {}\n",
            compiler_says(ui_test)
        )));
    assert!(!root.join("src/services/w.rs").exists());
}

#[test]
fn add_refuses_bad_values_with_the_compilers_words() {
    refused_value("--restart", "sometimes", "WHEN", "bad-restart-value");
    refused_value("--backoff", "linear", "KIND", "bad-backoff-value");
    refused_value("--retries", "-1", "N", "negative-retries");
    refused_value("--retries", "1.5", "N", "non-integer-retries");
    refused_value("--retries", "5000000000", "N", "retries-too-large");
    refused_value("--delay", "2 seconds", "DURATION", "bad-duration");
    refused_value("--stop-timeout", "-5s", "DURATION", "negative-duration");
    refused_value("--readiness", "no", "BOOL", "readiness-not-a-bool");
    // Written with a space, a negative number is still a value, not a flag.
    let (_tmp, root) = project();
    servicepack(&root, &["add", "w", "--retries", "-1"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(compiler_says("negative-retries")));
}

#[test]
fn add_refuses_bad_paths() {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "w", "--crate", "my app::servicepack"])
        .assert()
        .code(2)
        .stderr(predicates::str::starts_with(
            "error: invalid value 'my app::servicepack' for '--crate <PATH>': expected a path for `crate`; \
             write the path of the servicepack crate: `crate = my_app::servicepack`\n",
        ));
}

/// `add w <flags>` is refused (exit 1) by the check across arguments, named by `flag`.
fn refused_combination(flags: &[&str], flag: &str, ui_test: &str) {
    let (_tmp, root) = project();
    let mut args = vec!["add", "w"];
    args.extend(flags);
    servicepack(&root, &args)
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!("error: {flag}: {}\n", compiler_says(ui_test)));
    assert!(!root.join("src/services/w.rs").exists());
}

#[test]
fn add_refuses_arguments_that_contradict_each_other() {
    refused_combination(
        &["--max-delay", "1s"],
        "--max-delay",
        "max-delay-without-exponential",
    );
    refused_combination(
        &[
            "--delay",
            "2s",
            "--backoff",
            "exponential",
            "--max-delay",
            "1s",
        ],
        "--max-delay",
        "max-delay-shorter-than-delay",
    );
    refused_combination(
        &["--backoff", "exponential"],
        "--backoff",
        "exponential-without-delay",
    );
    refused_combination(&["--jitter"], "--jitter", "jitter-without-delay");
    refused_combination(
        &["--retries", "2", "--restart", "never"],
        "--retries",
        "retries-with-restart-never",
    );
    refused_combination(
        &["--ready-timeout", "5s"],
        "--ready-timeout",
        "ready-timeout-without-notify-ready",
    );
    refused_combination(
        &["--stop-timeout", "0s"],
        "--stop-timeout",
        "zero-stop-timeout",
    );
}

#[test]
fn add_refuses_a_reserved_name_for_a_service_with_commands() {
    let (_tmp, root) = project();
    for reserved in ["status", "deploy", "run"] {
        servicepack(&root, &["add", reserved, "--commands"])
            .assert()
            .code(1)
            .stderr(format!(
                "error: --commands: service name \"{reserved}\" with `commands` would hide the built-in \
                 `{reserved}` command; choose another name with `name = \"...\"`\n"
            ));
    }
    // Without `commands` the name is free: the service gets no subcommand.
    servicepack(&root, &["add", "status"]).assert().code(0);
}

#[test]
fn add_refuses_bad_dependency_names() {
    let (_tmp, root) = project();
    let refuse = |names: &str, stderr: &str| {
        servicepack(
            &root,
            &["add", "api", &format!("--depends-on-name={names}")],
        )
        .assert()
        .code(1)
        .stderr(format!("error: {stderr}\n"));
    };
    refuse(
        "-cache",
        "--depends-on-name: invalid service name \"-cache\": use letters, digits, `-`, `_` and `.`, \
         starting with a letter or digit, like `name = \"example-database\"`",
    );
    refuse(
        "api",
        "`api` cannot depend on itself; drop it from --depends-on-name",
    );
    refuse(
        "hello-world",
        "`hello-world` is a service of this project; name it with --depends-on, which the compiler checks",
    );
    assert!(!root.join("src/services/api.rs").exists());
}

#[test]
fn new_keeps_a_relative_servicepack_path_relative_to_the_project() {
    let tmp = TempDir::new().unwrap();
    // Any directory whose Cargo.toml names the package servicepack will do.
    let vendored = tmp.path().join("vendor/sp");
    fs::create_dir_all(&vendored).unwrap();
    fs::write(
        vendored.join("Cargo.toml"),
        "[package]\nname = \"servicepack\"\n",
    )
    .unwrap();
    servicepack(
        tmp.path(),
        &[
            "new",
            "apps/app",
            "--no-git",
            "--servicepack-path",
            "vendor/sp",
        ],
    )
    .assert()
    .code(0)
    .stdout(predicates::str::starts_with(
        "created `app` in apps/app\nservicepack = { path = \"../../vendor/sp\" }\n",
    ));
    assert!(
        read(tmp.path().join("apps/app/Cargo.toml"))
            .contains("servicepack = { path = \"../../vendor/sp\" }\n")
    );
    // From inside the target's parent, the same directory is reached by another path.
    fs::create_dir_all(tmp.path().join("apps")).unwrap();
    servicepack(
        &tmp.path().join("apps"),
        &[
            "new",
            "other",
            "--no-git",
            "--servicepack-path",
            "../vendor/sp",
        ],
    )
    .assert()
    .code(0);
    assert!(
        read(tmp.path().join("apps/other/Cargo.toml"))
            .contains("servicepack = { path = \"../../vendor/sp\" }\n")
    );
}

#[test]
fn new_depends_on_a_git_repository() {
    let tmp = TempDir::new().unwrap();
    servicepack(
        tmp.path(),
        &[
            "new",
            "app",
            "--no-git",
            "--servicepack-git",
            "https://example.org/servicepack.git",
        ],
    )
    .assert()
    .code(0)
    .stdout(predicates::str::contains(
        "servicepack = { git = \"https://example.org/servicepack.git\" }\n",
    ));
    assert!(
        read(tmp.path().join("app/Cargo.toml"))
            .contains("servicepack = { git = \"https://example.org/servicepack.git\" }\n")
    );
    servicepack(
        tmp.path(),
        &["new", "b", "--servicepack-git", "servicepack"],
    )
    .assert()
    .code(1)
    .stderr(
        "error: invalid --servicepack-git \"servicepack\"; give a repository URL like \
             https://github.com/owner/servicepack or git@host:owner/servicepack.git\n",
    );
    assert!(!tmp.path().join("b").exists());
    for other in [
        ["--servicepack-path", "."],
        ["--servicepack-version", "0.1"],
    ] {
        let mut args = vec!["new", "c", "--servicepack-git", "https://example.org/sp"];
        args.extend(other);
        servicepack(tmp.path(), &args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("cannot be used with"));
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    let tmp = TempDir::new().unwrap();
    for (shell, marker) in [
        ("bash", "_servicepack()"),
        ("zsh", "#compdef servicepack"),
        ("fish", "complete -c servicepack"),
        ("elvish", "servicepack"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        servicepack(tmp.path(), &["completions", shell])
            .assert()
            .code(0)
            .stdout(predicates::str::contains(marker))
            .stderr("");
    }
    // The completions know the flags of `add`.
    servicepack(tmp.path(), &["completions", "bash"])
        .assert()
        .stdout(
            predicates::str::contains("--retry-reset")
                .and(predicates::str::contains("--stop-timeout")),
        );
    servicepack(tmp.path(), &["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("invalid value 'tcsh'"));
}
