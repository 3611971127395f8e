//! `servicepack new`: a ready project — manifest, `main`, a `hello-world` service with a
//! test, README, `.gitignore` — and a git repository with one commit.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Failure;
use crate::names::check_crate_name;
use crate::project::write;
use crate::templates::{self, render};

/// Where the project gets servicepack from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A version requirement on crates.io: `"0.1"`.
    Version(String),
    /// A local checkout: the directory of servicepack's `Cargo.toml`, or of a workspace
    /// that holds it in `servicepack/`.
    Path(PathBuf),
}

/// What `new` was asked for.
#[derive(Debug)]
pub(crate) struct Options {
    /// The directory to create.
    pub(crate) path: PathBuf,
    /// The package name; the directory name if `None`.
    pub(crate) name: Option<String>,
    /// Where servicepack comes from.
    pub(crate) source: Source,
    /// Whether to `git init` and commit.
    pub(crate) git: bool,
}

/// The servicepack version this CLI belongs to, as a requirement: `0.1` for 0.1.x.
pub(crate) fn default_version() -> String {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    format!("{major}.{minor}")
}

/// Creates the project and reports what it did on stdout.
///
/// # Errors
///
/// A bad name, a target that is not an empty directory, a servicepack path without
/// servicepack in it, an I/O error, or a failed `git`.
pub(crate) fn run(options: &Options) -> Result<(), Failure> {
    let name = match &options.name {
        Some(name) => name.clone(),
        None => dir_name(&options.path)?,
    };
    check_crate_name(&name).map_err(|e| {
        let hint = if options.name.is_some() {
            ""
        } else {
            " (the name comes from the directory; pass --name to choose another)"
        };
        Failure::new(format!("{e}{hint}"))
    })?;
    let dependency = dependency_value(&options.source)?;
    check_target(&options.path)?;

    let root = &options.path;
    let vars = [
        ("name", name.as_str()),
        ("servicepack", dependency.as_str()),
    ];
    let files = [
        ("Cargo.toml", templates::CARGO_TOML),
        ("README.md", templates::README_MD),
        (".gitignore", templates::GITIGNORE),
        ("src/main.rs", templates::MAIN_RS),
        ("src/services/mod.rs", templates::SERVICES_MOD_RS),
        ("src/services/hello_world.rs", templates::HELLO_WORLD_RS),
    ];
    for (file, template) in files {
        write(&root.join(file), &render(template, &vars))?;
    }
    if options.git {
        git_init(root, &name)?;
    }

    let shown = root.display();
    println!("created `{name}` in {shown}");
    println!();
    if root != Path::new(".") {
        println!("  cd {shown}");
    }
    println!("  cargo run -- run         # start the services (Ctrl-C stops them)");
    println!("  cargo test               # test them");
    println!("  servicepack add <name>   # add a service");
    Ok(())
}

/// The last component of `path`, made absolute first so that `.` has a name too.
fn dir_name(path: &Path) -> Result<String, Failure> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Failure::io("read", Path::new("the current directory"), &e))?
            .join(path)
    };
    let normal: PathBuf = absolute.components().fold(PathBuf::new(), |mut acc, part| {
        match part {
            std::path::Component::ParentDir => {
                acc.pop();
            }
            std::path::Component::CurDir => {}
            other => acc.push(other),
        }
        acc
    });
    normal
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            Failure::new(format!(
                "cannot take a package name from {}; pass --name NAME",
                path.display()
            ))
        })
}

/// Refuses a target that exists and is a file or a directory with entries.
fn check_target(path: &Path) -> Result<(), Failure> {
    if !path.exists() {
        return Ok(());
    }
    if !path.is_dir() {
        return Err(Failure::new(format!(
            "{} exists and is not a directory; pick a new path",
            path.display()
        )));
    }
    let entries = fs::read_dir(path)
        .map_err(|e| Failure::io("read", path, &e))?
        .count();
    if entries > 0 {
        return Err(Failure::new(format!(
            "{} is not empty ({entries} {}); pick a new directory, or empty this one",
            path.display(),
            if entries == 1 { "entry" } else { "entries" }
        )));
    }
    Ok(())
}

/// The right-hand side of `servicepack = ...` in the new manifest.
fn dependency_value(source: &Source) -> Result<String, Failure> {
    match source {
        Source::Version(version) => {
            let valid = !version.is_empty()
                && version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " .,-+*^~=<>".contains(c))
                && version.chars().any(|c| c.is_ascii_digit() || c == '*');
            if valid {
                Ok(format!("\"{version}\""))
            } else {
                Err(Failure::new(format!(
                    "invalid --servicepack-version {version:?}; give a cargo version requirement like \"{}\"",
                    default_version()
                )))
            }
        }
        Source::Path(dir) => {
            let crate_dir = servicepack_dir(dir).ok_or_else(|| {
                Failure::new(format!(
                    "no servicepack crate in {}; point --servicepack-path at the directory of servicepack's Cargo.toml (or of the workspace holding it)",
                    dir.display()
                ))
            })?;
            let absolute = crate_dir
                .canonicalize()
                .map_err(|e| Failure::io("resolve", &crate_dir, &e))?;
            Ok(format!(
                "{{ path = {} }}",
                toml_string(&absolute.to_string_lossy())
            ))
        }
    }
}

/// `dir` itself if it is the servicepack package, else `dir/servicepack` if that is.
fn servicepack_dir(dir: &Path) -> Option<PathBuf> {
    let is_servicepack = |dir: &Path| {
        fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|text| {
            text.lines()
                .any(|line| line.replace(' ', "") == "name=\"servicepack\"")
        })
    };
    [dir.to_path_buf(), dir.join("servicepack")]
        .into_iter()
        .find(|dir| is_servicepack(dir))
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `git init`, branch `main`, one commit of every file. An author is supplied only when
/// git has none configured.
fn git_init(root: &Path, name: &str) -> Result<(), Failure> {
    let has_identity = ["user.name", "user.email"].iter().all(|key| {
        Command::new("git")
            .args(["config", "--get", key])
            .current_dir(root)
            .output()
            .is_ok_and(|out| out.status.success())
    });
    let message = format!("start {name} with servicepack new");
    let mut steps: Vec<Vec<&str>> = vec![
        vec!["init", "--quiet"],
        vec!["symbolic-ref", "HEAD", "refs/heads/main"],
        vec!["add", "--all"],
    ];
    let mut commit = vec!["-c", "commit.gpgsign=false"];
    if !has_identity {
        commit.extend([
            "-c",
            "user.name=servicepack",
            "-c",
            "user.email=servicepack@localhost",
        ]);
    }
    commit.extend(["commit", "--quiet", "-m", &message]);
    steps.push(commit);
    for args in steps {
        let output = Command::new("git")
            .args(&args)
            .current_dir(root)
            .output()
            .map_err(|e| {
                Failure::new(format!(
                    "the project is written, but git could not run ({e}); install git, or pass --no-git"
                ))
            })?;
        if !output.status.success() {
            return Err(Failure::new(format!(
                "the project is written, but `git {}` failed: {}; fix git, or pass --no-git",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_version_is_major_minor() {
        assert_eq!(default_version(), "0.1");
    }

    #[test]
    fn names_come_from_the_last_component() {
        assert_eq!(dir_name(Path::new("/tmp/my-app")).unwrap(), "my-app");
        assert_eq!(dir_name(Path::new("/tmp/my-app/.")).unwrap(), "my-app");
        assert_eq!(dir_name(Path::new("/tmp/x/../my-app")).unwrap(), "my-app");
        assert!(dir_name(Path::new("/")).is_err());
    }

    #[test]
    fn versions_are_checked() {
        assert_eq!(
            dependency_value(&Source::Version("0.1".into())).unwrap(),
            "\"0.1\""
        );
        assert_eq!(
            dependency_value(&Source::Version("=0.1.0".into())).unwrap(),
            "\"=0.1.0\""
        );
        assert!(dependency_value(&Source::Version(String::new())).is_err());
        assert!(dependency_value(&Source::Version("latest".into())).is_err());
        assert!(dependency_value(&Source::Version("0.1\"".into())).is_err());
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
