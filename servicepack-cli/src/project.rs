//! A servicepack project on disk: where it is, where its services live, and the two
//! small text edits `add` and `remove` make outside the service file (the `pub mod` line
//! and, for `--commands`, the clap dependency).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Failure;

/// A project found on disk.
#[derive(Debug)]
pub(crate) struct Project {
    /// The directory holding `Cargo.toml`.
    pub(crate) root: PathBuf,
}

impl Project {
    /// The project at `dir` if given, else the nearest directory upward from the current
    /// one that holds a `Cargo.toml` with a `[package]` and depends on servicepack.
    ///
    /// # Errors
    ///
    /// No such directory, or a `Cargo.toml` that is not a servicepack project.
    pub(crate) fn locate(dir: Option<&Path>) -> Result<Self, Failure> {
        let root = if let Some(dir) = dir {
            if !dir.join("Cargo.toml").is_file() {
                return Err(Failure::new(format!(
                    "no Cargo.toml in {}; pass --project the directory of a project made by `servicepack new`",
                    dir.display()
                )));
            }
            dir.to_path_buf()
        } else {
            let cwd = std::env::current_dir()
                .map_err(|e| Failure::io("read", Path::new("the current directory"), &e))?;
            cwd.ancestors()
                .find(|dir| {
                    fs::read_to_string(dir.join("Cargo.toml"))
                        .is_ok_and(|text| text.lines().any(|l| l.trim() == "[package]"))
                })
                .map(Path::to_path_buf)
                .ok_or_else(|| {
                    Failure::new(format!(
                        "no Cargo.toml with a [package] in {} or any parent directory; run this inside a project made by `servicepack new`, or pass --project DIR",
                        cwd.display()
                    ))
                })?
        };
        let manifest = read(&root.join("Cargo.toml"))?;
        if !depends_on_servicepack(&manifest) {
            return Err(Failure::new(format!(
                "{} does not depend on servicepack; add `servicepack = \"{}\"` under [dependencies], or run this inside a project made by `servicepack new`",
                root.join("Cargo.toml").display(),
                crate::new::default_version()
            )));
        }
        Ok(Self { root })
    }

    /// `src/services/`, where service files go.
    pub(crate) fn services_dir(&self) -> PathBuf {
        self.root.join("src").join("services")
    }

    /// The file that declares the service modules: `src/services/mod.rs` or
    /// `src/services.rs`.
    ///
    /// # Errors
    ///
    /// Neither exists.
    pub(crate) fn services_module(&self) -> Result<PathBuf, Failure> {
        let candidates = [
            self.services_dir().join("mod.rs"),
            self.root.join("src").join("services.rs"),
        ];
        candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
            Failure::new(format!(
                "no src/services/mod.rs in {}; create it and declare it with `mod services;` in src/main.rs",
                self.root.display()
            ))
        })
    }

    /// `path` relative to the project root, for messages.
    pub(crate) fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}

/// Whether the manifest has a `servicepack` dependency (`servicepack = ...`,
/// `servicepack.workspace = true`, or a `[dependencies.servicepack]` table).
fn depends_on_servicepack(manifest: &str) -> bool {
    manifest.lines().map(str::trim).any(|line| {
        line == "[dependencies.servicepack]"
            || line
                .strip_prefix("servicepack")
                .is_some_and(|rest| rest.trim_start().starts_with(['=', '.']))
    })
}

/// Reads a text file.
///
/// # Errors
///
/// The I/O error, with the path.
pub(crate) fn read(path: &Path) -> Result<String, Failure> {
    fs::read_to_string(path).map_err(|e| Failure::io("read", path, &e))
}

/// Writes a text file, creating its directory.
///
/// # Errors
///
/// The I/O error, with the path.
pub(crate) fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Failure::io("create", dir, &e))?;
    }
    fs::write(path, text).map_err(|e| Failure::io("write", path, &e))
}

/// Whether a line declares `module` (`mod x;`, `pub mod x;`, `pub(crate) mod x;`).
fn declares(line: &str, module: &str) -> bool {
    let line = line.trim();
    let rest = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub "))
        .unwrap_or(line);
    rest.strip_prefix("mod ")
        .and_then(|rest| rest.strip_suffix(';'))
        .is_some_and(|name| name.trim() == module)
}

/// Adds `pub mod <module>;` to a module file: among the other module lines, in
/// alphabetical order if they are sorted, else after the last; at the end if there are
/// none. `None` if it is declared already.
pub(crate) fn add_module_line(text: &str, module: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.iter().any(|line| declares(line, module)) {
        return None;
    }
    let new_line = format!("pub mod {module};");
    let module_lines: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let line = lines[i].trim();
            (line.starts_with("pub mod ") || line.starts_with("mod ")) && line.ends_with(';')
        })
        .collect();
    let sorted = module_lines.windows(2).all(|w| lines[w[0]] <= lines[w[1]]);
    let at = match module_lines.last() {
        None => lines.len(),
        Some(&last) if !sorted => last + 1,
        Some(&last) => module_lines
            .iter()
            .copied()
            .find(|&i| lines[i] > new_line.as_str())
            .unwrap_or(last + 1),
    };
    let mut out: Vec<&str> = lines[..at].to_vec();
    if module_lines.is_empty() && out.last().is_some_and(|l| !l.trim().is_empty()) {
        out.push("");
    }
    out.push(&new_line);
    out.extend_from_slice(&lines[at..]);
    Some(out.join("\n") + "\n")
}

/// Removes the line declaring `module`; `None` if there is none.
pub(crate) fn remove_module_line(text: &str, module: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|line| declares(line, module))?;
    let mut out = lines;
    out.remove(at);
    Some(out.join("\n") + "\n")
}

/// The clap line a `--commands` service needs. The features are the ones servicepack
/// itself enables, so nothing beyond what servicepack already builds is pulled in.
pub(crate) const CLAP_DEPENDENCY: &str = r#"clap = { version = "4", default-features = false, features = ["std", "help", "usage", "error-context", "suggestions", "derive"] }"#;

/// Adds the clap dependency to a manifest, after the `[dependencies]` header; `None` if
/// clap is there already.
pub(crate) fn add_clap(manifest: &str) -> Option<String> {
    let lines: Vec<&str> = manifest.lines().collect();
    let mut in_dependencies = false;
    for line in &lines {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies
            && line
                .strip_prefix("clap")
                .is_some_and(|rest| rest.trim_start().starts_with(['=', '.']))
        {
            return None;
        }
        if line == "[dependencies.clap]" {
            return None;
        }
    }
    let mut out: Vec<&str> = lines.clone();
    match lines
        .iter()
        .position(|line| line.trim() == "[dependencies]")
    {
        Some(header) => out.insert(header + 1, CLAP_DEPENDENCY),
        None => {
            out.extend(["", "[dependencies]", CLAP_DEPENDENCY]);
        }
    }
    Some(out.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_lines_go_in_alphabetical_order() {
        let text = "//! Services.\n\npub mod api;\npub mod worker;\n";
        assert_eq!(
            add_module_line(text, "hello_world").unwrap(),
            "//! Services.\n\npub mod api;\npub mod hello_world;\npub mod worker;\n"
        );
        assert_eq!(
            add_module_line(text, "zebra").unwrap(),
            "//! Services.\n\npub mod api;\npub mod worker;\npub mod zebra;\n"
        );
        assert_eq!(add_module_line(text, "api"), None);
    }

    #[test]
    fn module_lines_follow_unsorted_ones_and_start_a_list() {
        assert_eq!(
            add_module_line("pub mod b;\nmod a;\n", "c").unwrap(),
            "pub mod b;\nmod a;\npub mod c;\n"
        );
        assert_eq!(
            add_module_line("//! Services.\n", "a").unwrap(),
            "//! Services.\n\npub mod a;\n"
        );
        assert_eq!(add_module_line("", "a").unwrap(), "pub mod a;\n");
    }

    #[test]
    fn module_lines_are_removed() {
        let text = "//! S.\n\npub mod api;\npub(crate) mod worker;\nmod x;\n";
        assert_eq!(
            remove_module_line(text, "worker").unwrap(),
            "//! S.\n\npub mod api;\nmod x;\n"
        );
        assert_eq!(
            remove_module_line(text, "x").unwrap(),
            "//! S.\n\npub mod api;\npub(crate) mod worker;\n"
        );
        assert_eq!(remove_module_line(text, "work"), None);
    }

    #[test]
    fn clap_is_added_once() {
        let manifest = "[package]\nname = \"a\"\n\n[dependencies]\nservicepack = \"0.1\"\n";
        let added = add_clap(manifest).unwrap();
        assert_eq!(
            added,
            format!(
                "[package]\nname = \"a\"\n\n[dependencies]\n{CLAP_DEPENDENCY}\nservicepack = \"0.1\"\n"
            )
        );
        assert_eq!(add_clap(&added), None);
        assert!(
            add_clap("[package]\nname = \"a\"\n")
                .unwrap()
                .ends_with(&format!("[dependencies]\n{CLAP_DEPENDENCY}\n"))
        );
        assert_eq!(add_clap("[dependencies.clap]\nversion = \"4\"\n"), None);
    }

    #[test]
    fn servicepack_dependency_is_recognised() {
        assert!(depends_on_servicepack(
            "[dependencies]\nservicepack = \"0.1\"\n"
        ));
        assert!(depends_on_servicepack("servicepack.workspace = true"));
        assert!(depends_on_servicepack(
            "[dependencies.servicepack]\npath = \"x\""
        ));
        assert!(!depends_on_servicepack("servicepack-macros = \"0.1\""));
        assert!(!depends_on_servicepack("[dependencies]\ntokio = \"1\""));
    }
}
