//! The inspection commands read only the registration: every constructor here panics.

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::prelude::*;
use crate::registry::Registered;
use crate::{Backoff, Policy, Restart, Retries};

macro_rules! services {
    ($($ty:ident = $name:literal),* $(,)?) => {$(
        #[derive(Debug)]
        struct $ty;

        impl Service for $ty {
            async fn run(&self, _ctx: Context) -> Result<()> {
                Ok(())
            }
        }

        impl Registered for $ty {
            const NAME: &'static str = $name;

            fn construct() -> Result<Self> {
                panic!(concat!($name, " must not be constructed"))
            }
        }
    )*};
}

services!(
    Db = "db",
    Api = "api",
    Migrator = "migrator",
    Worker = "worker",
    A = "a",
    B = "b",
    OtherDb = "db",
    Run = "run"
);

#[derive(clap::Subcommand)]
enum MigratorCommand {
    /// Apply the migrations.
    Up,
    /// Roll back one migration.
    Down,
}

impl Commander for Migrator {
    type Command = MigratorCommand;

    async fn command(&self, _cmd: MigratorCommand, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

impl Commander for Run {
    type Command = MigratorCommand;

    async fn command(&self, _cmd: MigratorCommand, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

static APP: [Entry; 4] = [
    Entry::new::<Api>("app::Api", Policy::new(), &["db", "cache"]),
    Entry::new::<Db>(
        "app::Db",
        Policy::new()
            .retries(Retries::Limited(2))
            .delay(Duration::from_secs(2))
            .notify_ready(true),
        &[],
    ),
    Entry::new::<Migrator>(
        "app::Migrator",
        Policy::new()
            .allowed_failure(true)
            .counts_for_readiness(false),
        &["db"],
    )
    .with_commands::<Migrator>(),
    Entry::new::<Worker>(
        "app::Worker",
        Policy::new()
            .retries(Retries::Unlimited)
            .backoff(Backoff::Exponential {
                max_delay: Duration::from_secs(60),
            })
            .delay(Duration::from_millis(500))
            .jitter(true)
            .retry_reset(Duration::from_secs(300))
            .restart(Restart::Always),
        &[],
    ),
];

static CYCLE: [Entry; 3] = [
    Entry::new::<A>("app::A", Policy::new(), &["b"]),
    Entry::new::<B>("app::B", Policy::new(), &["a"]),
    Entry::new::<Db>("app::Db", Policy::new(), &[]),
];

static DUPLICATE: [Entry; 2] = [
    Entry::new::<Db>("app::Db", Policy::new(), &[]),
    Entry::new::<OtherDb>("app::other::Db", Policy::new(), &[]),
];

static CLASH: [Entry; 1] =
    [Entry::new::<Run>("app::Run", Policy::new(), &[]).with_commands::<Run>()];

const INFO: AppInfo = AppInfo {
    bin_name: "app",
    version: "1.2.3",
    description: "",
};

fn output(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
    let mut out = Vec::new();
    write(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn config(vars: &[(&str, &str)]) -> Config {
    let map: HashMap<&str, &str> = vars.iter().copied().collect();
    Config::from_lookup(|name| map.get(name).map(|value| (*value).to_owned())).unwrap()
}

#[test]
fn services_json_has_every_policy_field() {
    let text = output(|out| services_json(&sorted(&APP), out));
    let services: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "db", "migrator", "worker"], "sorted by name");

    let api = &services[0];
    assert_eq!(api["depends_on"], serde_json::json!(["db", "cache"]));
    assert_eq!(api["retries"], 0);
    assert_eq!(api["allowed_failure"], false);
    assert_eq!(api["notify_ready"], false);
    assert_eq!(api["counts_for_readiness"], true);
    assert_eq!(api["commands"], false);
    assert_eq!(api["subcommands"], serde_json::json!([]));
    assert_eq!(api["type"], "app::Api");
    assert_eq!(api["stop_timeout"], "30s");
    assert_eq!(api["ready_timeout"], "1m0s");

    let db = &services[1];
    assert_eq!(db["retries"], 2);
    assert_eq!(db["delay"], "2s");
    assert_eq!(db["notify_ready"], true);
    assert_eq!(db["backoff"], "constant");
    assert_eq!(db["max_delay"], serde_json::Value::Null);

    let migrator = &services[2];
    assert_eq!(migrator["allowed_failure"], true);
    assert_eq!(migrator["counts_for_readiness"], false);
    assert_eq!(migrator["commands"], true);
    assert_eq!(migrator["subcommands"], serde_json::json!(["up", "down"]));

    let worker = &services[3];
    assert_eq!(worker["retries"], "unlimited");
    assert_eq!(worker["backoff"], "exponential");
    assert_eq!(worker["max_delay"], "1m0s");
    assert_eq!(worker["jitter"], true);
    assert_eq!(worker["retry_reset"], "5m0s");
    assert_eq!(worker["restart"], "always");
}

#[test]
fn services_table_lists_every_service() {
    let text = output(|out| services_table(&sorted(&APP), out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].starts_with("NAME      DEPENDS ON  RETRIES"),
        "{text}"
    );
    assert!(lines[1].starts_with("api       db, cache   0 "), "{text}");
    assert!(lines[2].contains("notify"), "{text}");
    assert!(lines[3].ends_with("allowed     up, down"), "{text}");
    assert!(lines[4].contains("500ms exp. to 1m0s ±25%"), "{text}");
    assert!(lines[4].contains("unlimited"), "{text}");
    assert_eq!(
        output(|out| services_table(&[], out)).trim_end(),
        NO_SERVICE
    );
    assert_eq!(output(|out| services_json(&[], out)).trim_end(), "[]");
}

#[test]
fn graph_text_puts_dependencies_first_and_marks_externals() {
    let text = output(|out| graph_text(&sorted(&APP), out));
    assert_eq!(
        text,
        "db\nworker\napi -> db, cache (external)\nmigrator -> db\n"
    );
    // A cycle has no order; the graph still prints, by name.
    let text = output(|out| graph_text(&sorted(&CYCLE), out));
    assert_eq!(text, "a -> b\nb -> a\ndb\n");
}

#[test]
fn graph_dot_is_a_digraph() {
    let text = output(|out| graph_dot("my \"app\"", &sorted(&APP), out));
    assert_eq!(
        text,
        r#"digraph "my \"app\"" {
    "api";
    "db";
    "migrator";
    "worker";
    "api" -> "db";
    "api" -> "cache" [style=dashed];
    "migrator" -> "db";
    "cache" [style=dashed, label="cache (external)"];
}
"#
    );
}

#[test]
fn check_passes_and_lists_externals() {
    let mut out = Vec::new();
    check(&sorted(&APP), &mut out).unwrap().unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("    api -> cache\n"), "{text}");
    assert!(
        text.ends_with("ok: 4 services, no duplicate names, no dependency cycles\n"),
        "{text}"
    );
}

#[test]
fn check_fails_on_a_cycle_with_its_path() {
    let mut out = Vec::new();
    let reason = check(&sorted(&CYCLE), &mut out).unwrap().unwrap_err();
    assert_eq!(reason, "check failed: dependency cycle: a -> b -> a");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "error: dependency cycle: a -> b -> a\n"
    );
}

#[test]
fn check_fails_on_duplicates_naming_the_types() {
    let reason = check(&sorted(&DUPLICATE), &mut Vec::new())
        .unwrap()
        .unwrap_err();
    assert!(
        reason.contains("duplicate service name `db`: app::Db, app::other::Db"),
        "{reason}"
    );
}

#[test]
fn check_fails_loudly_without_services() {
    let mut out = Vec::new();
    let reason = check(&[], &mut out).unwrap().unwrap_err();
    assert!(
        reason.contains("no service is registered in this binary"),
        "{reason}"
    );
    assert!(
        String::from_utf8(out)
            .unwrap()
            .starts_with("error: no service is registered")
    );
}

#[test]
fn run_validates_before_anything_starts() {
    let all = plan_run(&sorted(&APP), &config(&[])).unwrap();
    assert_eq!(all.len(), 4);
    let some = plan_run(
        &sorted(&APP),
        &config(&[("SERVICES_ENABLED", "worker, api")]),
    )
    .unwrap();
    let names: Vec<&str> = some.iter().map(|entry| entry.name).collect();
    assert_eq!(names, ["api", "worker"]);

    let (code, reason) =
        plan_run(&sorted(&APP), &config(&[("SERVICES_ENABLED", "nope")])).unwrap_err();
    assert_eq!(code, Exit::Usage);
    assert!(
        reason.contains("SERVICES_ENABLED") && reason.contains("api, db, migrator, worker"),
        "{reason}"
    );

    let (code, reason) = plan_run(&sorted(&CYCLE), &config(&[])).unwrap_err();
    assert_eq!(
        (code, reason.as_str()),
        (Exit::Failure, "dependency cycle: a -> b -> a")
    );
    // Not enabled, not on the cycle: `a` alone depends on an external `b`.
    assert!(plan_run(&sorted(&CYCLE), &config(&[("SERVICES_ENABLED", "a,db")])).is_ok());

    let (code, reason) = plan_run(&sorted(&DUPLICATE), &config(&[])).unwrap_err();
    assert_eq!(code, Exit::Failure);
    assert!(
        reason.starts_with("duplicate service name `db`"),
        "{reason}"
    );

    let (code, reason) = plan_run(&[], &config(&[])).unwrap_err();
    assert_eq!((code, reason.as_str()), (Exit::Failure, NO_SERVICE));
}

fn custom(name: &'static str) -> CustomCommand {
    CustomCommand {
        command: Command::new(name).about("A custom command"),
        handler: Box::new(|_, _| Box::pin(async { Ok(()) })),
    }
}

#[test]
fn command_names_must_not_clash() {
    assert!(check_names(&sorted(&APP), &[custom("seed")]).is_ok());

    let reason = check_names(&sorted(&CLASH), &[]).unwrap_err();
    assert!(
        reason.contains("the commands of service `run` (app::Run) and the built-in command `run` are both named `run`"),
        "{reason}"
    );
    let reason = check_names(
        &sorted(&APP),
        &[
            custom("migrator"),
            custom("check"),
            custom("seed"),
            custom("seed"),
        ],
    )
    .unwrap_err();
    assert!(
        reason.contains("the custom command `migrator` and the commands of service `migrator`"),
        "{reason}"
    );
    assert!(
        reason.contains("the custom command `check` and the built-in command `check`"),
        "{reason}"
    );
    assert!(
        reason.contains("the custom command `seed` and the custom command `seed`"),
        "{reason}"
    );
    let reason = check_names(&sorted(&APP), &[custom("sv")]).unwrap_err();
    assert!(
        reason.contains("the custom command `sv` and the built-in command `sv`"),
        "{reason}"
    );
    // A service without commands adds no command, so its name clashes with nothing.
    assert!(check_names(&sorted(&CYCLE), &[custom("a")]).is_ok());
}

#[test]
fn the_names_reserved_for_the_operate_commands_clash_too() {
    for name in ["status", "health", "ctl", "deploy", "sv"] {
        let reason = check_names(&sorted(&APP), &[custom(name)]).unwrap_err();
        assert!(
            reason.contains(&format!(
                "the custom command `{name}` and the built-in command `{name}`"
            )),
            "{reason}"
        );
    }
}

#[test]
fn a_clash_says_what_to_rename() {
    // A custom command against a built-in: rename the custom command, no service named.
    let reason = check_names(&sorted(&CYCLE), &[custom("graph")]).unwrap_err();
    assert!(
        reason.contains("rename the custom command `graph`"),
        "{reason}"
    );
    assert!(!reason.contains("#[service"), "{reason}");
    // A service against a built-in: rename the service, by its type.
    let reason = check_names(&sorted(&CLASH), &[]).unwrap_err();
    assert!(
        reason.contains("rename the service app::Run with `#[service(name = \"...\")]`"),
        "{reason}"
    );
    // Two custom commands: rename one of them.
    let reason = check_names(&sorted(&CYCLE), &[custom("seed"), custom("seed")]).unwrap_err();
    assert!(
        reason.contains("give one of the custom commands `seed` another name"),
        "{reason}"
    );
}

#[test]
fn a_full_stdout_is_a_failure_and_a_closed_pipe_is_not() {
    let full = io::Error::from_raw_os_error(28);
    assert_eq!(write_failed(&full, LogFormat::Text), Exit::Failure);
    let closed = io::Error::from(io::ErrorKind::BrokenPipe);
    assert_eq!(write_failed(&closed, LogFormat::Text), Exit::Success);
}

fn help(args: &[&str], custom: &[CustomCommand]) -> String {
    let error = command(INFO, &sorted(&APP), custom)
        .try_get_matches_from(args)
        .expect_err("help is an early exit");
    assert_eq!(error.kind(), clap::error::ErrorKind::DisplayHelp);
    error.render().to_string()
}

#[test]
fn help_lists_built_in_service_and_custom_commands() {
    let text = help(&["app", "--help"], &[custom("seed")]);
    for expected in [
        "run",
        "services",
        "graph",
        "check",
        "completions",
        "migrator",
        "seed",
        "SERVICES_ENABLED",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    // Only services with commands get a command.
    assert!(!text.contains("  worker"), "{text}");
    let text = help(&["app", "migrator", "--help"], &[]);
    assert!(
        text.contains("up") && text.contains("Apply the migrations"),
        "{text}"
    );
}

#[test]
fn usage_errors_and_versions() {
    let root = || command(INFO, &sorted(&APP), &[]);
    let error = root().try_get_matches_from(["app", "nope"]).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    let error = root().try_get_matches_from(["app"]).unwrap_err();
    assert_eq!(
        error.exit_code(),
        2,
        "a bare ./app shows the help and fails"
    );
    let error = root()
        .try_get_matches_from(["app", "--version"])
        .unwrap_err();
    assert_eq!(error.kind(), clap::error::ErrorKind::DisplayVersion);
    assert_eq!(error.render().to_string(), "app 1.2.3\n");
    let matches = root()
        .try_get_matches_from(["app", "migrator", "down"])
        .unwrap();
    let (name, sub) = matches.subcommand().unwrap();
    assert_eq!((name, sub.subcommand_name()), ("migrator", Some("down")));
    root().debug_assert();
}
