//! `servicepack add`: a service file with the chosen `#[service(...)]` arguments, wired
//! into `src/services/mod.rs`.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Failure;
use crate::names::ServiceName;
use crate::project::{Project, add_clap, add_module_line, read, write};
use crate::scan::{Found, scan_project};
use crate::shared::validate::{self, Backoff, Policy, Restart, Retries};
use crate::templates::{self, render};

/// A duration flag: the text as given (written into the attribute) and its value (for
/// the checks across arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dur {
    pub(crate) text: String,
    pub(crate) value: Duration,
}

/// What `add` was asked for: one field per `#[service]` argument, each value already
/// checked on its own by `shared::validate`.
#[derive(Debug, Default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one field per flag argument of `#[service]`"
)]
pub(crate) struct Options {
    /// The project directory, if not found from the current one.
    pub(crate) project: Option<PathBuf>,
    /// The service name, kebab-case.
    pub(crate) name: String,
    pub(crate) retries: Option<Retries>,
    pub(crate) delay: Option<Dur>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) max_delay: Option<Dur>,
    pub(crate) jitter: bool,
    pub(crate) retry_reset: Option<Dur>,
    pub(crate) restart: Option<Restart>,
    /// Names of services of the project to depend on (written as type paths).
    pub(crate) depends_on: Vec<String>,
    /// Names of services defined elsewhere (written as strings).
    pub(crate) depends_on_name: Vec<String>,
    pub(crate) allowed_failure: bool,
    /// `notify_ready` and a `ctx.ready()` call.
    pub(crate) notify_ready: bool,
    /// `readiness = false` when `Some(false)`; `true` is the default and not written.
    pub(crate) readiness: Option<bool>,
    pub(crate) ready_timeout: Option<Dur>,
    pub(crate) stop_timeout: Option<Dur>,
    /// `commands`, a `Commander` impl and its subcommand enum.
    pub(crate) commands: bool,
    /// `new = Self::new` and that constructor.
    pub(crate) constructor: bool,
    /// `crate = <path>`.
    pub(crate) krate: Option<String>,
}

impl Options {
    /// The checks `#[service]` makes across its arguments, on these flags: the first
    /// problem, in the attribute's words, named by its flag.
    fn check(&self) -> Result<(), Failure> {
        let value = |d: &Option<Dur>| d.as_ref().map(|d| d.value);
        let policy = Policy {
            retries: self.retries,
            delay: value(&self.delay),
            backoff: self.backoff,
            max_delay: value(&self.max_delay),
            jitter: self.jitter,
            retry_reset: value(&self.retry_reset),
            restart: self.restart,
            notify_ready: self.notify_ready,
            ready_timeout: value(&self.ready_timeout),
            stop_timeout: value(&self.stop_timeout),
        };
        match policy.problems().first() {
            Some(problem) => Err(Failure::new(format!(
                "--{}: {}",
                problem.key.replace('_', "-"),
                problem.message
            ))),
            None => Ok(()),
        }
    }
}

/// Writes the service and wires it in.
///
/// # Errors
///
/// A bad or taken name, an unknown dependency, no project, or an I/O error.
pub(crate) fn run(options: &Options) -> Result<(), Failure> {
    let name = ServiceName::parse(&options.name)?;
    validate::service_name(&name.kebab, options.commands)
        .map_err(|message| Failure::new(format!("--commands: {message}")))?;
    options.check()?;
    let project = Project::locate(options.project.as_deref())?;
    let services = scan_project(&project.root)
        .map_err(|e| Failure::io("read", &project.root.join("src"), &e))?;
    if let Some(existing) = services.iter().find(|s| s.name == name.kebab) {
        return Err(Failure::new(format!(
            "service `{}` exists already ({}:{}); pick another name, or `servicepack remove {}` first",
            name.kebab,
            existing.file.display(),
            existing.line,
            name.kebab
        )));
    }
    let module_file = project.services_module()?;
    let file = project.services_dir().join(format!("{}.rs", name.module));
    if file.exists() {
        return Err(Failure::new(format!(
            "{} exists already; pick another name, or move that file away",
            project.relative(&file).display()
        )));
    }
    let dependencies = resolve_dependencies(&name, &options.depends_on, &services)?;
    check_names(&name, &options.depends_on_name, &services)?;

    let module_text = read(&module_file)?;
    let module_text = add_module_line(&module_text, &name.module).ok_or_else(|| {
        Failure::new(format!(
            "{} declares `{}` already, but there is no {}; remove that line, or pick another name",
            project.relative(&module_file).display(),
            name.module,
            project.relative(&file).display()
        ))
    })?;
    let manifest_path = project.root.join("Cargo.toml");
    let manifest = if options.commands {
        add_clap(&read(&manifest_path)?)
    } else {
        None
    };

    write(&file, &service_file(&name, options, &dependencies))?;
    write(&module_file, &module_text)?;
    if let Some(manifest) = &manifest {
        write(&manifest_path, manifest)?;
    }

    println!(
        "added service `{}`: struct `{}` in {}",
        name.kebab,
        name.type_name,
        project.relative(&file).display()
    );
    if manifest.is_some() {
        println!(
            "added clap to Cargo.toml (the `{}Command` enum derives clap::Subcommand)",
            name.type_name
        );
    }
    Ok(())
}

/// The `depends_on` type paths for the named services, as seen from the new module
/// `crate::services::<module>`: `super::worker::Worker` for a sibling, `crate::…`
/// otherwise.
fn resolve_dependencies(
    name: &ServiceName,
    wanted: &[String],
    services: &[Found],
) -> Result<Vec<String>, Failure> {
    let mut paths: Vec<String> = Vec::new();
    for dependency in wanted {
        if *dependency == name.kebab {
            return Err(Failure::new(format!(
                "`{dependency}` cannot depend on itself; drop it from --depends-on"
            )));
        }
        let Some(found) = services.iter().find(|s| s.name == *dependency) else {
            let known: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
            let known = if known.is_empty() {
                "the project has none yet".to_owned()
            } else {
                format!("known services: {}", known.join(", "))
            };
            return Err(Failure::new(format!(
                "--depends-on names `{dependency}`, which is not a service of this project ({known}); add it first, or fix the name"
            )));
        };
        let path = if found.module.len() == 2 && found.module[0] == "services" {
            format!("super::{}::{}", found.module[1], found.type_name)
        } else if found.module.is_empty() {
            format!("crate::{}", found.type_name)
        } else {
            format!("crate::{}::{}", found.module.join("::"), found.type_name)
        };
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// `--depends-on-name`: service names, as the attribute takes them; a service of this
/// project goes through `--depends-on`, which checks it at compile time.
fn check_names(name: &ServiceName, wanted: &[String], services: &[Found]) -> Result<(), Failure> {
    for dependency in wanted {
        validate::service_name(dependency, false)
            .map_err(|message| Failure::new(format!("--depends-on-name: {message}")))?;
        if *dependency == name.kebab {
            return Err(Failure::new(format!(
                "`{dependency}` cannot depend on itself; drop it from --depends-on-name"
            )));
        }
        if services.iter().any(|s| s.name == *dependency) {
            return Err(Failure::new(format!(
                "`{dependency}` is a service of this project; name it with --depends-on, which the compiler checks"
            )));
        }
    }
    Ok(())
}

/// The `(...)` of `#[service(...)]`, empty when every argument is the default; the
/// arguments in the order of the documentation.
fn attribute_args(name: &ServiceName, options: &Options, dependencies: &[String]) -> String {
    let mut args: Vec<String> = Vec::new();
    if name.needs_explicit_name() {
        args.push(format!("name = \"{}\"", name.kebab));
    }
    match options.retries {
        Some(Retries::Limited(n)) => args.push(format!("retries = {n}")),
        Some(Retries::Unlimited) => args.push("retries = \"unlimited\"".to_owned()),
        None => {}
    }
    let duration = |args: &mut Vec<String>, key: &str, value: &Option<Dur>| {
        if let Some(value) = value {
            args.push(format!("{key} = \"{}\"", value.text));
        }
    };
    duration(&mut args, "delay", &options.delay);
    match options.backoff {
        Some(Backoff::Exponential) => args.push("backoff = \"exponential\"".to_owned()),
        Some(Backoff::Constant) => args.push("backoff = \"constant\"".to_owned()),
        None => {}
    }
    duration(&mut args, "max_delay", &options.max_delay);
    if options.jitter {
        args.push("jitter".to_owned());
    }
    duration(&mut args, "retry_reset", &options.retry_reset);
    if let Some(restart) = options.restart {
        let value = match restart {
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
            Restart::Never => "never",
        };
        args.push(format!("restart = \"{value}\""));
    }
    let mut items: Vec<String> = dependencies.to_vec();
    for name in &options.depends_on_name {
        let item = format!("{name:?}");
        if !items.contains(&item) {
            items.push(item);
        }
    }
    if !items.is_empty() {
        args.push(format!("depends_on = [{}]", items.join(", ")));
    }
    for (on, text) in [
        (options.allowed_failure, "allowed_failure"),
        (options.notify_ready, "notify_ready"),
    ] {
        if on {
            args.push(text.to_owned());
        }
    }
    if options.readiness == Some(false) {
        args.push("readiness = false".to_owned());
    }
    duration(&mut args, "ready_timeout", &options.ready_timeout);
    duration(&mut args, "stop_timeout", &options.stop_timeout);
    if options.commands {
        args.push("commands".to_owned());
    }
    if options.constructor {
        args.push("new = Self::new".to_owned());
    }
    if let Some(krate) = &options.krate {
        args.push(format!("crate = {krate}"));
    }
    if args.is_empty() {
        String::new()
    } else {
        format!("({})", args.join(", "))
    }
}

/// The text of `src/services/<module>.rs`.
fn service_file(name: &ServiceName, options: &Options, dependencies: &[String]) -> String {
    let names = [
        ("name", name.kebab.as_str()),
        ("type", name.type_name.as_str()),
    ];
    let block = |on: bool, template: &str| {
        if on {
            render(template, &names)
        } else {
            String::new()
        }
    };
    let args = attribute_args(name, options, dependencies);
    let ready = block(options.notify_ready, templates::SERVICE_READY);
    let commands = block(options.commands, templates::SERVICE_COMMANDS);
    let constructor = block(options.constructor, templates::SERVICE_NEW);
    let command_test = block(options.commands, templates::SERVICE_COMMAND_TEST);
    render(
        templates::SERVICE_RS,
        &[
            ("name", &name.kebab),
            ("type", &name.type_name),
            ("args", &args),
            ("ready", &ready),
            ("constructor", &constructor),
            ("commands", &commands),
            ("command_test", &command_test),
        ],
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scan::scan_source;

    fn options(name: &str) -> Options {
        Options {
            name: name.to_owned(),
            ..Options::default()
        }
    }

    #[test]
    fn plain_service_has_a_bare_attribute() {
        let name = ServiceName::parse("worker").unwrap();
        let text = service_file(&name, &options("worker"), &[]);
        assert!(text.contains("#[service]\n#[derive(Default)]\npub struct Worker {\n"));
        assert!(!text.contains("ctx.ready()"));
        assert!(!text.contains("Commander"));
        assert!(!text.contains("{{"));
    }

    #[test]
    fn arguments_come_in_a_fixed_order() {
        let name = ServiceName::parse("api2").unwrap();
        let options = Options {
            retries: Some(Retries::Unlimited),
            delay: Some(Dur {
                text: "1m30s".into(),
                value: Duration::from_secs(90),
            }),
            allowed_failure: true,
            notify_ready: true,
            commands: true,
            ..options("api2")
        };
        let deps = ["super::worker::Worker".to_owned()];
        assert_eq!(
            attribute_args(&name, &options, &deps),
            r#"(name = "api2", retries = "unlimited", delay = "1m30s", depends_on = [super::worker::Worker], allowed_failure, notify_ready, commands)"#
        );
        let text = service_file(&name, &options, &deps);
        assert!(text.contains("        ctx.ready();\n"));
        assert!(text.contains("pub enum Api2Command"));
        assert!(text.contains("    async fn status_succeeds()"));
    }

    #[test]
    fn the_written_service_scans_back() {
        let name = ServiceName::parse("http-api").unwrap();
        let options = Options {
            retries: Some(Retries::Limited(2)),
            ..options("http-api")
        };
        let deps = ["super::worker::Worker".to_owned()];
        let text = service_file(&name, &options, &deps);
        let found = scan_source(&text, Path::new("src/services/http_api.rs"), &[]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "http-api");
        assert_eq!(found[0].type_name, "HttpApi");
        assert_eq!(
            found[0].depends_on,
            [crate::scan::Dep::Type("super::worker::Worker".into())]
        );
    }

    #[test]
    fn dependencies_resolve_to_type_paths() {
        let services: Vec<Found> = [
            (
                "src/services/worker.rs",
                vec!["services", "worker"],
                "#[service] struct Worker;",
            ),
            ("src/jobs/mod.rs", vec!["jobs"], "#[service] struct Cron;"),
        ]
        .into_iter()
        .flat_map(|(file, module, text)| {
            let module: Vec<String> = module.into_iter().map(String::from).collect();
            scan_source(text, Path::new(file), &module)
        })
        .collect();
        let name = ServiceName::parse("api").unwrap();
        let wanted = ["worker".to_owned(), "cron".to_owned(), "worker".to_owned()];
        assert_eq!(
            resolve_dependencies(&name, &wanted, &services).unwrap(),
            ["super::worker::Worker", "crate::jobs::Cron"]
        );
        let unknown = resolve_dependencies(&name, &["db".to_owned()], &services).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "--depends-on names `db`, which is not a service of this project (known services: worker, cron); add it first, or fix the name"
        );
        let itself = resolve_dependencies(&name, &["api".to_owned()], &services).unwrap_err();
        assert!(itself.to_string().contains("cannot depend on itself"));
    }
}
