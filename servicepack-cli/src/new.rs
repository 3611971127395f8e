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
    /// Nothing chosen: the checkout this CLI was built from, if it is still there (a
    /// relative path), else this CLI's version on crates.io.
    Default,
    /// A version requirement on crates.io: `"0.1"`.
    Version(String),
    /// A local checkout: the directory of servicepack's `Cargo.toml`, or of a workspace
    /// that holds it in `servicepack/`. Written relative to the project when given
    /// relative (to the current directory).
    Path(PathBuf),
    /// A git repository holding the servicepack workspace.
    Git(String),
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
    check_target(&options.path)?;
    let dependency = dependency_value(&options.source, &options.path)?;

    let root = &options.path;
    let vars = [
        ("name", name.as_str()),
        ("servicepack", dependency.value.as_str()),
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
    println!("servicepack = {}", dependency.value);
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
struct Dependency {
    value: String,
}

/// The workspace this binary was compiled from, if it is still on disk: the directory
/// holding a workspace `Cargo.toml` and `servicepack/`. A CLI installed from crates.io
/// was compiled in the registry cache, where no such workspace is.
fn checkout() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let is_workspace = fs::read_to_string(workspace.join("Cargo.toml"))
        .is_ok_and(|text| text.lines().any(|line| line.trim() == "[workspace]"));
    (is_workspace && servicepack_dir(workspace).is_some()).then(|| workspace.to_path_buf())
}

/// `--servicepack-path` as written, or the checkout, as a dependency of the project at
/// `target`: relative when `given` is relative (or is the checkout), absolute otherwise.
fn path_dependency(given: &Path, relative: bool, target: &Path) -> Result<String, Failure> {
    let crate_dir = servicepack_dir(given).ok_or_else(|| {
        Failure::new(format!(
            "no servicepack crate in {}; point --servicepack-path at the directory of servicepack's Cargo.toml (or of the workspace holding it)",
            given.display()
        ))
    })?;
    let absolute = crate_dir
        .canonicalize()
        .map_err(|e| Failure::io("resolve", &crate_dir, &e))?;
    let path = if relative {
        relative_path(&absolute_target(target)?, &absolute)
    } else {
        absolute.to_string_lossy().into_owned()
    };
    Ok(format!("{{ path = {} }}", toml_string(&path)))
}

/// `Source::Default` for a CLI built from `checkout` (`None`: installed from crates.io).
fn default_dependency(checkout: Option<PathBuf>, target: &Path) -> Result<String, Failure> {
    match checkout {
        Some(workspace) => path_dependency(&workspace, true, target),
        None => Ok(format!("\"{}\"", default_version())),
    }
}

fn dependency_value(source: &Source, target: &Path) -> Result<Dependency, Failure> {
    let value = match source {
        Source::Default => default_dependency(checkout(), target)?,
        Source::Version(version) => {
            let valid = !version.is_empty()
                && version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " .,-+*^~=<>".contains(c))
                && version.chars().any(|c| c.is_ascii_digit() || c == '*');
            if !valid {
                return Err(Failure::new(format!(
                    "invalid --servicepack-version {version:?}; give a cargo version requirement like \"{}\"",
                    default_version()
                )));
            }
            format!("\"{version}\"")
        }
        Source::Path(dir) => path_dependency(dir, dir.is_relative(), target)?,
        Source::Git(url) => {
            let scheme = url.split_once("://").is_some_and(|(scheme, rest)| {
                !rest.is_empty() && ["https", "http", "ssh", "git", "file"].contains(&scheme)
            });
            let scp = url.contains('@') && url.contains(':') && !url.contains("://");
            if !(scheme || scp) || url.chars().any(|c| c.is_whitespace() || c == '"') {
                return Err(Failure::new(format!(
                    "invalid --servicepack-git {url:?}; give a repository URL like https://github.com/owner/servicepack or git@host:owner/servicepack.git"
                )));
            }
            format!("{{ git = {} }}", toml_string(url))
        }
    };
    Ok(Dependency { value })
}

/// The project directory as an absolute path, before it exists: the deepest existing
/// ancestor resolved (symlinks included, as `canonicalize` does for the other side), the
/// rest appended.
fn absolute_target(target: &Path) -> Result<PathBuf, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::io("read", Path::new("the current directory"), &e))?;
    let mut existing = cwd.join(target);
    let mut rest = Vec::new();
    while !existing.exists() {
        let Some(name) = existing.file_name() else {
            break;
        };
        rest.push(name.to_owned());
        existing.pop();
    }
    let mut absolute = existing
        .canonicalize()
        .map_err(|e| Failure::io("resolve", &existing, &e))?;
    for name in rest.iter().rev() {
        absolute.push(name);
    }
    Ok(absolute)
}

/// `to` as seen from the directory `from`, both absolute: `../servicepack`, with `/`
/// separators, which cargo reads on every platform.
fn relative_path(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
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

    #[expect(
        clippy::needless_pass_by_value,
        reason = "reads best at the call sites"
    )]
    fn value(source: Source) -> Result<String, Failure> {
        dependency_value(&source, Path::new("app")).map(|d| d.value)
    }

    #[test]
    fn versions_are_checked() {
        assert_eq!(value(Source::Version("0.1".into())).unwrap(), "\"0.1\"");
        assert_eq!(
            value(Source::Version("=0.1.0".into())).unwrap(),
            "\"=0.1.0\""
        );
        assert!(value(Source::Version(String::new())).is_err());
        assert!(value(Source::Version("latest".into())).is_err());
        assert!(value(Source::Version("0.1\"".into())).is_err());
    }

    #[test]
    fn git_urls_are_checked() {
        assert_eq!(
            value(Source::Git("https://example.org/sp.git".into())).unwrap(),
            "{ git = \"https://example.org/sp.git\" }"
        );
        assert!(value(Source::Git("git@example.org:o/sp.git".into())).is_ok());
        for bad in ["", "sp", "https://", "ftp://x", "https://a b"] {
            assert!(value(Source::Git(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_paths_walk_up_then_down() {
        let rel = |a: &str, b: &str| relative_path(Path::new(a), Path::new(b));
        assert_eq!(
            rel("/w/apps/app", "/w/sp/servicepack"),
            "../../sp/servicepack"
        );
        assert_eq!(rel("/w/app", "/w/app/vendor/sp"), "vendor/sp");
        assert_eq!(rel("/tmp/app", "/work/sp"), "../../work/sp");
        assert_eq!(rel("/w", "/w"), ".");
    }

    #[test]
    fn this_cli_knows_its_checkout() {
        // The tests run from the workspace, so the default is a relative path to it.
        let workspace = checkout().expect("the tests run in the checkout");
        assert!(workspace.join("servicepack").join("Cargo.toml").is_file());
        let default = value(Source::Default).unwrap();
        assert!(default.starts_with("{ path = \"..") && default.ends_with("/servicepack\" }"));
        // Installed from crates.io, it knows no checkout: the version it belongs to.
        assert_eq!(
            default_dependency(None, Path::new("app")).unwrap(),
            "\"0.1\""
        );
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
