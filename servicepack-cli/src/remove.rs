//! `servicepack remove`: deletes a service's file and its `pub mod` line, unless another
//! service names its type in `depends_on` (the project would stop compiling).

use std::fs;
use std::path::PathBuf;

use crate::error::Failure;
use crate::project::{Project, read, remove_module_line, write};
use crate::scan::{Dep, Found, scan_project};

/// What `remove` was asked for.
#[derive(Debug)]
pub(crate) struct Options {
    /// The project directory, if not found from the current one.
    pub(crate) project: Option<PathBuf>,
    /// The service name.
    pub(crate) name: String,
}

/// Removes the service.
///
/// # Errors
///
/// No such service, a dependent service, a file holding more than this service, or an
/// I/O error.
pub(crate) fn run(options: &Options) -> Result<(), Failure> {
    let project = Project::locate(options.project.as_deref())?;
    let services = scan_project(&project.root)
        .map_err(|e| Failure::io("read", &project.root.join("src"), &e))?;
    let Some(target) = services.iter().find(|s| s.name == options.name) else {
        let known: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        return Err(Failure::new(format!(
            "no service `{}` in this project ({}); check the name with `servicepack list`",
            options.name,
            if known.is_empty() {
                "it has none".to_owned()
            } else {
                format!("known services: {}", known.join(", "))
            }
        )));
    };

    refuse_dependents(target, &services)?;
    refuse_shared_file(target, &services)?;

    let file = project.root.join(&target.file);
    let module = file
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let module_file = match file.parent() {
        Some(dir) if dir == project.services_dir() => Some(project.services_module()?),
        _ => None,
    };
    let module_text = match &module_file {
        Some(path) => remove_module_line(&read(path)?, &module),
        None => None,
    };
    let (Some(module_file), Some(module_text)) = (module_file, module_text) else {
        return Err(Failure::new(format!(
            "`{}` is in {}, which `servicepack add` did not write (no `pub mod {module};` in src/services/mod.rs); remove it by hand",
            target.name,
            target.file.display()
        )));
    };

    fs::remove_file(&file).map_err(|e| Failure::io("delete", &file, &e))?;
    write(&module_file, &module_text)?;
    println!(
        "removed service `{}`: deleted {} and `pub mod {module};` from {}",
        target.name,
        target.file.display(),
        project.relative(&module_file).display()
    );

    let by_name: Vec<&str> = services
        .iter()
        .filter(|s| s.depends_on.contains(&Dep::Name(target.name.clone())))
        .map(|s| s.name.as_str())
        .collect();
    if !by_name.is_empty() {
        eprintln!(
            "note: {} still {} `\"{}\"` in depends_on; from now on that is a service of another process",
            by_name.join(", "),
            if by_name.len() == 1 { "names" } else { "name" },
            target.name
        );
    }
    Ok(())
}

/// Refuses when another service names `target`'s type in `depends_on`: that would no
/// longer compile.
fn refuse_dependents(target: &Found, services: &[Found]) -> Result<(), Failure> {
    let dependents: Vec<&Found> = services
        .iter()
        .filter(|s| s.name != target.name)
        .filter(|s| {
            s.depends_on.iter().any(|dep| {
                matches!(dep, Dep::Type(path) if s.resolve(path, services).is_some_and(|f| f == target))
            })
        })
        .collect();
    if !dependents.is_empty() {
        let names: Vec<String> = dependents.iter().map(|s| format!("`{}`", s.name)).collect();
        let files: Vec<String> = dependents
            .iter()
            .map(|s| s.file.display().to_string())
            .collect();
        let list = if dependents.len() == 1 {
            "its"
        } else {
            "their"
        };
        return Err(Failure::new(format!(
            "cannot remove `{}`: {} depend{} on its type `{}` ({}); take `{}` out of {list} depends_on first, or remove {} too",
            target.name,
            names.join(", "),
            if dependents.len() == 1 { "s" } else { "" },
            target.type_name,
            files.join(", "),
            target.type_name,
            names.join(", "),
        )));
    }

    Ok(())
}

/// Refuses when the file holds other services: deleting it would delete them too.
fn refuse_shared_file(target: &Found, services: &[Found]) -> Result<(), Failure> {
    let others_in_file: Vec<&str> = services
        .iter()
        .filter(|s| s.file == target.file && s.name != target.name)
        .map(|s| s.name.as_str())
        .collect();
    if !others_in_file.is_empty() {
        return Err(Failure::new(format!(
            "{} holds other services too ({}); remove `{}` from it by hand",
            target.file.display(),
            others_in_file.join(", "),
            target.name
        )));
    }
    Ok(())
}
