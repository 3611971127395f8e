//! The files that `new` and `add` write, kept as files under `templates/` and compiled in.
//!
//! A template is text with `{{key}}` placeholders. A placeholder alone on its line is a
//! block: its value, which may span lines, takes the line's indentation, and an empty
//! value removes the line. Anywhere else a placeholder is replaced inline.

/// `Cargo.toml` of a new project; `{{name}}`, `{{servicepack}}` (the dependency value).
/// Not named `Cargo.toml`: `cargo package` leaves out a folder holding one (it is taken
/// for another package), and the published CLI would not build.
pub(crate) const CARGO_TOML: &str = include_str!("../templates/project/Cargo.toml.in");
/// `src/main.rs`; `{{name}}`.
pub(crate) const MAIN_RS: &str = include_str!("../templates/project/main.rs");
/// `src/services/mod.rs`.
pub(crate) const SERVICES_MOD_RS: &str = include_str!("../templates/project/services_mod.rs");
/// `src/services/hello_world.rs`.
pub(crate) const HELLO_WORLD_RS: &str = include_str!("../templates/project/hello_world.rs");
/// `README.md`; `{{name}}`.
pub(crate) const README_MD: &str = include_str!("../templates/project/README.md");
/// `.gitignore`.
pub(crate) const GITIGNORE: &str = include_str!("../templates/project/gitignore");
/// A service file; `{{name}}`, `{{type}}`, `{{args}}`, blocks `{{ready}}`,
/// `{{constructor}}`, `{{commands}}`, `{{command_test}}`.
pub(crate) const SERVICE_RS: &str = include_str!("../templates/service/service.rs");
/// The `{{ready}}` block of a `notify_ready` service.
pub(crate) const SERVICE_READY: &str = include_str!("../templates/service/ready.rs");
/// The `{{constructor}}` block of a service built by `new = Self::new`; `{{type}}`.
pub(crate) const SERVICE_NEW: &str = include_str!("../templates/service/new.rs");
/// The `{{commands}}` block of a `commands` service; `{{name}}`, `{{type}}`.
pub(crate) const SERVICE_COMMANDS: &str = include_str!("../templates/service/commands.rs");
/// The `{{command_test}}` block of a `commands` service; `{{name}}`, `{{type}}`.
pub(crate) const SERVICE_COMMAND_TEST: &str = include_str!("../templates/service/command_test.rs");

/// Fills `template` with `vars` (key without braces, value).
pub(crate) fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    for line in template.lines() {
        let trimmed = line.trim_start();
        let block = vars.iter().find(|(key, _)| {
            trimmed
                .strip_prefix("{{")
                .and_then(|rest| rest.strip_suffix("}}"))
                == Some(*key)
        });
        if let Some((_, value)) = block {
            let indent = &line[..line.len() - trimmed.len()];
            for value_line in value.lines() {
                if !value_line.is_empty() {
                    out.push_str(indent);
                    out.push_str(value_line);
                }
                out.push('\n');
            }
            continue;
        }
        let mut line = line.to_owned();
        for (key, value) in vars {
            line = line.replace(&format!("{{{{{key}}}}}"), value);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_placeholders_are_replaced() {
        assert_eq!(
            render("name = \"{{name}}\" # {{name}}\n", &[("name", "app")]),
            "name = \"app\" # app\n"
        );
    }

    #[test]
    fn block_placeholders_take_the_indentation_or_vanish() {
        let template = "fn f() {\n    {{body}}\n    {{none}}\n}\n";
        assert_eq!(
            render(template, &[("body", "a();\n\nb();\n"), ("none", "")]),
            "fn f() {\n    a();\n\n    b();\n}\n"
        );
    }

    #[test]
    fn every_placeholder_of_every_template_is_known() {
        let vars = [
            ("name", "x"),
            ("servicepack", "\"0.1\""),
            ("type", "X"),
            ("args", ""),
            ("ready", SERVICE_READY),
            ("constructor", SERVICE_NEW),
            ("commands", SERVICE_COMMANDS),
            ("command_test", SERVICE_COMMAND_TEST),
        ];
        for template in [
            CARGO_TOML,
            MAIN_RS,
            SERVICES_MOD_RS,
            HELLO_WORLD_RS,
            README_MD,
            GITIGNORE,
            SERVICE_RS,
        ] {
            let once = render(template, &vars);
            let rendered = render(&once, &vars);
            assert!(
                !rendered.contains("{{"),
                "unfilled placeholder in:\n{rendered}"
            );
        }
    }
}
