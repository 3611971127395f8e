//! `servicepack list`: the services of a project, read from its source.

use std::path::Path;

use crate::error::Failure;
use crate::project::Project;
use crate::scan::scan_project;

/// Prints a table of name, file and dependencies, in file order.
///
/// # Errors
///
/// No project, or an unreadable source file.
pub(crate) fn run(project: Option<&Path>) -> Result<(), Failure> {
    let project = Project::locate(project)?;
    let services = scan_project(&project.root)
        .map_err(|e| Failure::io("read", &project.root.join("src"), &e))?;
    if services.is_empty() {
        println!("no services yet; add one with `servicepack add <name>`");
        return Ok(());
    }
    let rows: Vec<[String; 3]> = services
        .iter()
        .map(|s| {
            let deps = s.dependency_names(&services);
            [
                s.name.clone(),
                s.file.display().to_string(),
                if deps.is_empty() {
                    "-".to_owned()
                } else {
                    deps.join(", ")
                },
            ]
        })
        .collect();
    print!("{}", table(["NAME", "FILE", "DEPENDS ON"], &rows));
    Ok(())
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn table(header: [&str; 3], rows: &[[String; 3]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    let header = header.map(str::to_owned);
    for row in std::iter::once(&header).chain(rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {}",
            row[0],
            row[1],
            row[2],
            w0 = widths[0],
            w1 = widths[1]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let rows = [
            [
                "hello-world".to_owned(),
                "src/services/hello_world.rs".to_owned(),
                "-".to_owned(),
            ],
            [
                "api".to_owned(),
                "src/services/api.rs".to_owned(),
                "worker".to_owned(),
            ],
        ];
        assert_eq!(
            table(["NAME", "FILE", "DEPENDS ON"], &rows),
            "NAME         FILE                         DEPENDS ON\n\
             hello-world  src/services/hello_world.rs  -\n\
             api          src/services/api.rs          worker\n"
        );
    }
}
