//! Transcripts of every `servicepack` command and every refusal: the exact stdout,
//! stderr and exit code a user sees, run in throw-away directories.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use tempfile::TempDir;

/// `servicepack <args>` in `dir`.
fn servicepack(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = cargo_bin_cmd!("servicepack");
    cmd.args(args).current_dir(dir);
    cmd
}

/// A temp dir holding a fresh project `app` (no git), and the project path.
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

/// What `new app` prints, given the dependency line it chose.
fn new_output(dependency: &str) -> String {
    format!(
        "created `app` in app
{dependency}

  cd app
  cargo run -- run         # start the services (Ctrl-C stops them)
  cargo test               # test them
  servicepack add <name>   # add a service
"
    )
}

/// The workspace this test (and the binary under test) was built from.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap()
}

/// The `path` of `servicepack = { path = "..." }` in `manifest`.
fn path_dependency(manifest: &str) -> &str {
    let line = manifest
        .lines()
        .find(|line| line.starts_with("servicepack = "))
        .unwrap_or_else(|| panic!("no servicepack dependency in\n{manifest}"));
    line.strip_prefix("servicepack = { path = \"")
        .and_then(|rest| rest.strip_suffix("\" }"))
        .unwrap_or_else(|| panic!("not a path dependency: {line}"))
}

#[test]
fn new_creates_a_project_with_one_commit_on_main() {
    let tmp = TempDir::new().unwrap();
    let assert = servicepack(tmp.path(), &["new", "app"])
        .assert()
        .code(0)
        .stderr("");
    let root = tmp.path().join("app");
    let manifest = read(root.join("Cargo.toml"));
    let dependency = manifest
        .lines()
        .find(|line| line.starts_with("servicepack = "))
        .unwrap();
    assert.stdout(new_output(dependency));
    for file in [
        "Cargo.toml",
        "README.md",
        ".gitignore",
        "src/main.rs",
        "src/services/mod.rs",
        "src/services/hello_world.rs",
    ] {
        assert!(root.join(file).is_file(), "{file} missing");
    }
    assert!(manifest.contains("name = \"app\""));
    // This binary runs from its checkout: the dependency is that checkout, by a path
    // relative to the project (so that the first commit holds no path of this machine).
    let path = path_dependency(&manifest);
    assert!(path.starts_with("../"), "{path}");
    assert_eq!(
        root.join(path).canonicalize().unwrap(),
        workspace().join("servicepack")
    );
    assert!(read(root.join("src/main.rs")).contains("#[servicepack::main]\nfn main() {}"));
    assert!(read(root.join("src/services/mod.rs")).contains("pub mod hello_world;"));
    let readme = read(root.join("README.md"));
    assert!(readme.contains("cargo run -- run") && readme.contains("cargo test"));

    let git = |args: &[&str]| {
        let out = StdCommand::new("git")
            .args(args)
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(git(&["branch", "--show-current"]), "main\n");
    assert_eq!(git(&["rev-list", "--count", "HEAD"]), "1\n");
    assert_eq!(
        git(&["log", "--format=%s"]),
        "start app with servicepack new\n"
    );
    assert_eq!(git(&["status", "--porcelain"]), "");
}

#[test]
fn new_commits_as_servicepack_when_git_has_no_identity() {
    let tmp = TempDir::new().unwrap();
    let home = tmp.path().join("home");
    fs::create_dir(&home).unwrap();
    let no_config = [
        ("HOME", home.as_os_str()),
        ("XDG_CONFIG_HOME", home.as_os_str()),
        ("GIT_CONFIG_NOSYSTEM", "1".as_ref()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".as_ref()),
    ];
    servicepack(tmp.path(), &["new", "app"])
        .envs(no_config)
        .assert()
        .code(0);
    let out = StdCommand::new("git")
        .args(["log", "--format=%an <%ae>"])
        .current_dir(tmp.path().join("app"))
        .envs(no_config)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "servicepack <servicepack@localhost>\n"
    );
}

#[test]
fn new_says_how_to_go_on_without_git() {
    let tmp = TempDir::new().unwrap();
    servicepack(tmp.path(), &["new", "app"])
        .env("PATH", "")
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicates::str::starts_with(
            "error: the project is written, but git could not run (",
        ))
        .stderr(predicates::str::ends_with(
            "); install git, or pass --no-git\n",
        ));
    assert!(tmp.path().join("app/Cargo.toml").is_file());
}

#[test]
fn new_in_the_current_directory_takes_its_name() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("inventory");
    fs::create_dir(&dir).unwrap();
    servicepack(&dir, &["new", ".", "--no-git"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "created `inventory` in .\nservicepack = { path = \"../",
        ))
        .stdout(predicates::str::ends_with(
            "/servicepack\" }

  cargo run -- run         # start the services (Ctrl-C stops them)
  cargo test               # test them
  servicepack add <name>   # add a service
",
        ));
    assert!(read(dir.join("Cargo.toml")).contains("name = \"inventory\""));
}

#[test]
fn new_without_git_and_with_a_name() {
    let tmp = TempDir::new().unwrap();
    fs::create_dir(tmp.path().join("empty-dir")).unwrap();
    servicepack(
        tmp.path(),
        &["new", "empty-dir", "--name", "billing", "--no-git"],
    )
    .assert()
    .code(0)
    .stdout(predicates::str::starts_with(
        "created `billing` in empty-dir\n",
    ));
    let root = tmp.path().join("empty-dir");
    assert!(!root.join(".git").exists());
    assert!(read(root.join("Cargo.toml")).contains("name = \"billing\""));
}

#[test]
fn new_depends_on_a_version_or_a_path() {
    let tmp = TempDir::new().unwrap();
    servicepack(
        tmp.path(),
        &["new", "a", "--no-git", "--servicepack-version", "=0.1.0"],
    )
    .assert()
    .success();
    assert!(read(tmp.path().join("a/Cargo.toml")).contains("servicepack = \"=0.1.0\"\n"));

    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let crate_dir = workspace.join("servicepack").canonicalize().unwrap();
    // The workspace root is accepted too: its `servicepack/` is used.
    servicepack(tmp.path(), &["new", "b", "--no-git", "--servicepack-path"])
        .arg(workspace)
        .assert()
        .success();
    assert!(read(tmp.path().join("b/Cargo.toml")).contains(&format!(
        "servicepack = {{ path = \"{}\" }}\n",
        crate_dir.display()
    )));
}

#[test]
fn new_refuses_a_directory_that_is_not_empty() {
    let tmp = TempDir::new().unwrap();
    fs::create_dir(tmp.path().join("app")).unwrap();
    fs::write(tmp.path().join("app/notes.txt"), "").unwrap();
    servicepack(tmp.path(), &["new", "app"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("error: app is not empty (1 entry); pick a new directory, or empty this one\n");
    fs::write(tmp.path().join("file"), "").unwrap();
    servicepack(tmp.path(), &["new", "file"])
        .assert()
        .code(1)
        .stderr("error: file exists and is not a directory; pick a new path\n");
}

#[test]
fn new_refuses_invalid_crate_names() {
    let tmp = TempDir::new().unwrap();
    servicepack(tmp.path(), &["new", "MyApp"])
        .assert()
        .code(1)
        .stderr(
            "error: invalid name `MyApp`: a package name starts with a lowercase letter (a-z); try `my-app` \
             (the name comes from the directory; pass --name to choose another)\n",
        );
    servicepack(tmp.path(), &["new", "x", "--name", "fn"])
        .assert()
        .code(1)
        .stderr("error: invalid name `fn`: it is a rust keyword; try `fn-app`\n");
    servicepack(tmp.path(), &["new", "x", "--name", "my app"])
        .assert()
        .code(1)
        .stderr(
            "error: invalid name `my app`: ' ' is not allowed; use lowercase letters, digits, `-` and `_`; try `my-app`\n",
        );
    servicepack(tmp.path(), &["new", "servicepack"])
        .assert()
        .code(1)
        .stderr(predicates::str::starts_with(
            "error: invalid name `servicepack`: the name is taken by a crate the project builds with; try `my-servicepack`",
        ));
    assert!(
        !tmp.path().join("x").exists(),
        "nothing is written on a refusal"
    );
}

#[test]
fn new_refuses_a_bad_servicepack_source() {
    let tmp = TempDir::new().unwrap();
    servicepack(tmp.path(), &["new", "app", "--servicepack-path", "."])
        .assert()
        .code(1)
        .stderr(
            "error: no servicepack crate in .; point --servicepack-path at the directory of servicepack's \
             Cargo.toml (or of the workspace holding it)\n",
        );
    servicepack(tmp.path(), &["new", "app", "--servicepack-version", "latest"])
        .assert()
        .code(1)
        .stderr(
            "error: invalid --servicepack-version \"latest\"; give a cargo version requirement like \"0.1\"\n",
        );
    assert!(!tmp.path().join("app").exists());
}

#[test]
fn usage_errors_exit_2() {
    let tmp = TempDir::new().unwrap();
    servicepack(tmp.path(), &[])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("Usage: servicepack <COMMAND>"));
    servicepack(tmp.path(), &["new"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "the following required arguments were not provided",
        ));
    servicepack(
        tmp.path(),
        &[
            "new",
            "a",
            "--servicepack-path",
            ".",
            "--servicepack-version",
            "0.1",
        ],
    )
    .assert()
    .code(2)
    .stderr(predicates::str::contains("cannot be used with"));
    servicepack(tmp.path(), &["frobnicate"]).assert().code(2);
}

#[test]
fn help_lists_the_commands() {
    let tmp = TempDir::new().unwrap();
    servicepack(tmp.path(), &["--help"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("new ").and(predicates::str::contains("add ")))
        .stdout(predicates::str::contains("remove ").and(predicates::str::contains("list ")));
}

#[test]
fn add_writes_the_service_and_its_module_line() {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "worker"])
        .assert()
        .code(0)
        .stdout("added service `worker`: struct `Worker` in src/services/worker.rs\n")
        .stderr("");
    let worker = read(root.join("src/services/worker.rs"));
    assert!(worker.contains("#[service]\n#[derive(Default)]\npub struct Worker {\n"));
    assert!(worker.contains("impl Service for Worker {"));
    assert!(worker.contains("ctx.cancelled().await;"));
    assert!(worker.contains("#[tokio::test(start_paused = true)]"));
    assert!(!worker.contains("ctx.ready()"));
    assert_eq!(
        read(root.join("src/services/mod.rs")),
        "//! The services of this app, one module each. `servicepack add <name>` and\n\
         //! `servicepack remove <name>` edit the list below.\n\
         \n\
         pub mod hello_world;\n\
         pub mod worker;\n"
    );
}

#[test]
fn add_writes_every_chosen_argument() {
    let (_tmp, root) = project();
    servicepack(
        &root,
        &[
            "add",
            "worker",
            "--retries",
            "2",
            "--delay",
            "1s",
            "--notify-ready",
        ],
    )
    .assert()
    .success();
    assert!(
        read(root.join("src/services/worker.rs"))
            .contains("#[service(retries = 2, delay = \"1s\", notify_ready)]\n")
    );
    assert!(read(root.join("src/services/worker.rs")).contains("        ctx.ready();\n"));

    servicepack(
        &root.join("src/services"),
        &[
            "add",
            "http-api",
            "--depends-on",
            "worker,hello-world",
            "--retries",
            "unlimited",
            "--allowed-failure",
            "--commands",
        ],
    )
    .assert()
    .code(0)
    .stdout(
        "added service `http-api`: struct `HttpApi` in src/services/http_api.rs\n\
         added clap to Cargo.toml (the `HttpApiCommand` enum derives clap::Subcommand)\n",
    );
    let api = read(root.join("src/services/http_api.rs"));
    assert!(api.contains(
        "#[service(retries = \"unlimited\", depends_on = [super::worker::Worker, super::hello_world::HelloWorld], allowed_failure, commands)]\n"
    ));
    assert!(api.contains("pub enum HttpApiCommand {"));
    assert!(api.contains("impl Commander for HttpApi {"));
    assert!(read(root.join("Cargo.toml")).contains("\nclap = { version = \"4\""));
}

#[test]
fn add_finds_the_project_from_a_subdirectory_or_from_project() {
    let (tmp, root) = project();
    servicepack(&root.join("src"), &["add", "a"])
        .assert()
        .success();
    servicepack(tmp.path(), &["add", "b", "--project", "app"])
        .assert()
        .success();
    assert!(root.join("src/services/a.rs").is_file());
    assert!(root.join("src/services/b.rs").is_file());
}

#[test]
fn add_refuses_bad_names() {
    let (_tmp, root) = project();
    let refuse = |name: &str, stderr: &str| {
        servicepack(&root, &["add", name])
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!("error: {stderr}\n"));
    };
    refuse(
        "HttpApi",
        "invalid name `HttpApi`: a service name starts with a lowercase letter (a-z); try `http-api`",
    );
    refuse(
        "http_api",
        "invalid name `http_api`: '_' is not allowed; use kebab-case: lowercase letters, digits and single hyphens; try `http-api`",
    );
    refuse(
        "type",
        "invalid name `type`: `type` is a rust keyword and cannot name a module; try `type-service`",
    );
    refuse(
        "service",
        "invalid name `service`: its struct `Service` would shadow `servicepack::prelude::Service`; try `service-service`",
    );
    assert_eq!(fs::read_dir(root.join("src/services")).unwrap().count(), 2);
}

#[test]
fn add_refuses_an_existing_service() {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "hello-world"])
        .assert()
        .code(1)
        .stderr(
            "error: service `hello-world` exists already (src/services/hello_world.rs:14); pick another name, \
             or `servicepack remove hello-world` first\n",
        );
    fs::write(root.join("src/services/stray.rs"), "// not a service\n").unwrap();
    servicepack(&root, &["add", "stray"])
        .assert()
        .code(1)
        .stderr("error: src/services/stray.rs exists already; pick another name, or move that file away\n");
}

#[test]
fn add_refuses_unknown_dependencies() {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "api", "--depends-on", "worker"])
        .assert()
        .code(1)
        .stderr(
            "error: --depends-on names `worker`, which is not a service of this project \
             (known services: hello-world); add it first, or fix the name\n",
        );
    servicepack(&root, &["add", "api", "--depends-on", "api"])
        .assert()
        .code(1)
        .stderr("error: `api` cannot depend on itself; drop it from --depends-on\n");
    assert!(!root.join("src/services/api.rs").exists());
}

#[test]
fn add_refuses_bad_retries_and_delays_as_usage_errors() {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "w", "--delay", "5"])
        .assert()
        .code(2)
        .stderr(predicates::str::starts_with(
            "error: invalid value '5' for '--delay <DURATION>': invalid duration \"5\"",
        ));
    servicepack(&root, &["add", "w", "--delay", "1x"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "like \"500ms\", \"10s\" or \"1m30s\"",
        ));
    servicepack(&root, &["add", "w", "--retries", "many"])
        .assert()
        .code(2)
        .stderr(predicates::str::starts_with(
            "error: invalid value 'many' for '--retries <N>': unknown `retries` value \"many\"; \
             write a whole number (`retries = 2`) or `retries = \"unlimited\"`",
        ));
}

#[test]
fn add_refuses_outside_a_project() {
    let tmp = TempDir::new().unwrap();
    servicepack(tmp.path(), &["add", "w", "--project", "."])
        .assert()
        .code(1)
        .stderr(
            "error: no Cargo.toml in .; pass --project the directory of a project made by `servicepack new`\n",
        );
    fs::write(
        tmp.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\n\n[dependencies]\n",
    )
    .unwrap();
    servicepack(tmp.path(), &["add", "w"])
        .assert()
        .code(1)
        .stderr(format!(
            "error: {} does not depend on servicepack; add `servicepack = \"0.1\"` under [dependencies], \
             or run this inside a project made by `servicepack new`\n",
            tmp.path().canonicalize().unwrap().join("Cargo.toml").display()
        ));
    fs::write(
        tmp.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\n\n[dependencies]\nservicepack = \"0.1\"\n",
    )
    .unwrap();
    fs::create_dir(tmp.path().join("src")).unwrap();
    servicepack(tmp.path(), &["add", "w", "--project", "."])
        .assert()
        .code(1)
        .stderr(
            "error: no src/services/mod.rs in .; create it and declare it with `mod services;` in src/main.rs\n",
        );
}

#[test]
fn remove_deletes_the_file_and_the_module_line() {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "worker"]).assert().success();
    servicepack(&root, &["remove", "worker"])
        .assert()
        .code(0)
        .stdout(
            "removed service `worker`: deleted src/services/worker.rs and `pub mod worker;` from src/services/mod.rs\n",
        )
        .stderr("");
    assert!(!root.join("src/services/worker.rs").exists());
    assert!(!read(root.join("src/services/mod.rs")).contains("worker"));
}

#[test]
fn remove_refuses_while_a_service_depends_on_the_type() {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "worker"]).assert().success();
    servicepack(&root, &["add", "api", "--depends-on", "worker"])
        .assert()
        .success();
    servicepack(&root, &["add", "cron", "--depends-on", "worker"])
        .assert()
        .success();
    servicepack(&root, &["remove", "worker"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "error: cannot remove `worker`: `api`, `cron` depend on its type `Worker` \
             (src/services/api.rs, src/services/cron.rs); take `Worker` out of their depends_on first, \
             or remove `api`, `cron` too\n",
        );
    assert!(root.join("src/services/worker.rs").is_file());
}

#[test]
fn remove_notes_dependencies_by_name() {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "worker"]).assert().success();
    servicepack(&root, &["add", "api"]).assert().success();
    let api = root.join("src/services/api.rs");
    let text = read(&api).replace("#[service]", "#[service(depends_on = [\"worker\"])]");
    fs::write(&api, text).unwrap();
    servicepack(&root, &["remove", "worker"])
        .assert()
        .code(0)
        .stderr(
            "note: api still names `\"worker\"` in depends_on; from now on that is a service of another process\n",
        );
}

#[test]
fn remove_refuses_unknown_and_hand_placed_services() {
    let (_tmp, root) = project();
    servicepack(&root, &["remove", "worker"])
        .assert()
        .code(1)
        .stderr(
            "error: no service `worker` in this project (known services: hello-world); check the name with `servicepack list`\n",
        );
    fs::write(
        root.join("src/main.rs"),
        read(root.join("src/main.rs"))
            + "\n#[servicepack::service]\n#[derive(Default)]\nstruct Inline;\n",
    )
    .unwrap();
    servicepack(&root, &["remove", "inline"])
        .assert()
        .code(1)
        .stderr(
            "error: `inline` is in src/main.rs, which `servicepack add` did not write \
             (no `pub mod main;` in src/services/mod.rs); remove it by hand\n",
        );
}

#[test]
fn list_reads_the_services_from_the_source() {
    let (_tmp, root) = project();
    servicepack(&root, &["add", "worker"]).assert().success();
    servicepack(&root, &["add", "api", "--depends-on", "worker,hello-world"])
        .assert()
        .success();
    servicepack(&root, &["list"])
        .assert()
        .code(0)
        .stdout(
            "NAME         FILE                         DEPENDS ON\n\
             api          src/services/api.rs          worker, hello-world\n\
             hello-world  src/services/hello_world.rs  -\n\
             worker       src/services/worker.rs       -\n",
        )
        .stderr("");
}

#[test]
fn list_says_when_there_is_nothing() {
    let (_tmp, root) = project();
    servicepack(&root, &["remove", "hello-world"])
        .assert()
        .success();
    servicepack(&root, &["list"])
        .assert()
        .code(0)
        .stdout("no services yet; add one with `servicepack add <name>`\n");
}
