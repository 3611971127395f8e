//! Names: what a service or crate may be called, and the three spellings of a service
//! name (`http-api` the service, `http_api` the module, `HttpApi` the struct).

use std::fmt;

use crate::shared::kebab::kebab_case;

/// Rust keywords (strict and reserved, all editions): not usable as a module name.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// What `use servicepack::prelude::*` brings into a service file: a struct of the same
/// name would shadow it.
const PRELUDE: &[&str] = &["Commander", "Context", "Error", "Result", "Service"];

/// Crate names cargo itself refuses, or that collide with what a project depends on.
const RESERVED_CRATES: &[&str] = &[
    "alloc",
    "core",
    "proc_macro",
    "proc-macro",
    "std",
    "test",
    "build",
    "deps",
    "examples",
    "incremental",
    "servicepack",
    "servicepack-macros",
    "servicepack_macros",
    "servicepack-cli",
];

/// A valid service name in its three spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceName {
    /// `http-api`: the name the runtime, the logs and `SERVICES_ENABLED` use.
    pub(crate) kebab: String,
    /// `http_api`: the module and file name.
    pub(crate) module: String,
    /// `HttpApi`: the struct.
    pub(crate) type_name: String,
}

impl ServiceName {
    /// Checks a kebab-case service name and derives its module and struct names.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with `name` and suggesting a valid spelling.
    pub(crate) fn parse(name: &str) -> Result<Self, NameError> {
        check_kebab(name)?;
        let module = name.replace('-', "_");
        if KEYWORDS.contains(&module.as_str()) {
            return Err(NameError::new(
                name,
                format!("`{module}` is a rust keyword and cannot name a module"),
                format!("{name}-service"),
            ));
        }
        let type_name = camel_case(name);
        if PRELUDE.contains(&type_name.as_str()) {
            return Err(NameError::new(
                name,
                format!(
                    "its struct `{type_name}` would shadow `servicepack::prelude::{type_name}`"
                ),
                format!("{name}-service"),
            ));
        }
        Ok(Self {
            kebab: name.to_owned(),
            module,
            type_name,
        })
    }

    /// Whether `#[service]` must be told the name: the default it derives from the struct
    /// (`HttpApi` → `http-api`) is not this name, or digits make the split ambiguous.
    pub(crate) fn needs_explicit_name(&self) -> bool {
        self.kebab.bytes().any(|b| b.is_ascii_digit()) || kebab_case(&self.type_name) != self.kebab
    }
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameError {
    name: String,
    reason: String,
    suggestion: String,
}

impl NameError {
    fn new(name: &str, reason: impl Into<String>, suggestion: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            reason: reason.into(),
            suggestion: suggestion.into(),
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid name `{}`: {}", self.name, self.reason)?;
        if !self.suggestion.is_empty() && self.suggestion != self.name {
            write!(f, "; try `{}`", self.suggestion)?;
        }
        Ok(())
    }
}

impl std::error::Error for NameError {}

/// Service names are kebab-case: lowercase ASCII letters and digits in words joined by
/// single hyphens, starting with a letter.
fn check_kebab(name: &str) -> Result<(), NameError> {
    let suggestion = suggest(name);
    let refuse = |reason: &str| Err(NameError::new(name, reason, suggestion.clone()));
    if name.is_empty() {
        return Err(NameError::new(name, "a service name cannot be empty", ""));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return refuse("a service name starts with a lowercase letter (a-z)");
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        return refuse(&format!(
            "{c:?} is not allowed; use kebab-case: lowercase letters, digits and single hyphens"
        ));
    }
    if name.ends_with('-') || name.contains("--") {
        return refuse("hyphens go between words, one at a time");
    }
    Ok(())
}

/// `http-api` → `HttpApi`: each hyphen-separated word capitalised.
pub(crate) fn camel_case(kebab: &str) -> String {
    kebab
        .split(['-', '_'])
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect()
}

/// A kebab-case spelling of anything a user typed (`My App`, `http_api`), to suggest.
fn suggest(name: &str) -> String {
    let idented: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    kebab_case(idented.trim_start_matches(|c: char| !c.is_alphabetic()))
}

/// Checks a package name for `servicepack new`: what cargo accepts, kept to the
/// lowercase spelling cargo recommends.
///
/// # Errors
///
/// A message naming the problem and a valid spelling to use instead.
pub(crate) fn check_crate_name(name: &str) -> Result<(), NameError> {
    let suggestion = suggest(name);
    let refuse = |reason: String| Err(NameError::new(name, reason, suggestion.clone()));
    if name.is_empty() {
        return Err(NameError::new(name, "a package name cannot be empty", ""));
    }
    if name.len() > 64 {
        return refuse("a package name is at most 64 characters".to_owned());
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return refuse("a package name starts with a lowercase letter (a-z)".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
    {
        return refuse(format!(
            "{c:?} is not allowed; use lowercase letters, digits, `-` and `_`"
        ));
    }
    if KEYWORDS.contains(&name.replace('-', "_").as_str()) {
        return Err(NameError::new(
            name,
            "it is a rust keyword",
            format!("{name}-app"),
        ));
    }
    if RESERVED_CRATES.contains(&name) {
        return Err(NameError::new(
            name,
            "the name is taken by a crate the project builds with",
            format!("my-{name}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case_follows_the_spec_examples() {
        assert_eq!(kebab_case("ExampleDatabase"), "example-database");
        assert_eq!(kebab_case("HTTPServer"), "http-server");
        assert_eq!(kebab_case("Worker"), "worker");
        assert_eq!(kebab_case("HelloWorld"), "hello-world");
        assert_eq!(kebab_case("ApiV2"), "api-v2");
        assert_eq!(kebab_case("V2Api"), "v2-api");
        assert_eq!(kebab_case("Http2Server"), "http2-server");
        assert_eq!(kebab_case("IOLoop"), "io-loop");
        assert_eq!(kebab_case("Worker2"), "worker2");
        assert_eq!(kebab_case("Mixed_Case"), "mixed-case");
        assert_eq!(kebab_case("MyApp"), "my-app");
    }

    #[test]
    fn suggestions_are_kebab_case() {
        assert_eq!(suggest("My App"), "my-app");
        assert_eq!(suggest("http_api"), "http-api");
        assert_eq!(suggest("HttpApi"), "http-api");
        assert_eq!(suggest("2fast"), "fast");
    }

    #[test]
    fn camel_case_capitalises_each_word() {
        assert_eq!(camel_case("hello-world"), "HelloWorld");
        assert_eq!(camel_case("http-api"), "HttpApi");
        assert_eq!(camel_case("worker"), "Worker");
        assert_eq!(camel_case("v2-api"), "V2Api");
    }

    #[test]
    fn service_name_has_three_spellings() {
        let name = ServiceName::parse("http-api").unwrap();
        assert_eq!(name.kebab, "http-api");
        assert_eq!(name.module, "http_api");
        assert_eq!(name.type_name, "HttpApi");
        assert!(!name.needs_explicit_name());
    }

    #[test]
    fn digits_make_the_name_explicit() {
        assert!(ServiceName::parse("v2-api").unwrap().needs_explicit_name());
        assert!(ServiceName::parse("worker2").unwrap().needs_explicit_name());
    }

    #[test]
    fn bad_service_names_are_refused_with_a_suggestion() {
        let message = |name: &str| ServiceName::parse(name).unwrap_err().to_string();
        assert_eq!(
            message("Worker"),
            "invalid name `Worker`: a service name starts with a lowercase letter (a-z); try `worker`"
        );
        assert_eq!(
            message("http_api"),
            "invalid name `http_api`: '_' is not allowed; use kebab-case: lowercase letters, digits and single hyphens; try `http-api`"
        );
        assert_eq!(
            message("HttpApi"),
            "invalid name `HttpApi`: a service name starts with a lowercase letter (a-z); try `http-api`"
        );
        assert_eq!(
            message("api-"),
            "invalid name `api-`: hyphens go between words, one at a time; try `api`"
        );
        assert!(message("a--b").contains("one at a time"));
        assert!(message("2fast").contains("starts with a lowercase letter"));
        assert_eq!(
            message(""),
            "invalid name ``: a service name cannot be empty"
        );
        assert_eq!(
            message("type"),
            "invalid name `type`: `type` is a rust keyword and cannot name a module; try `type-service`"
        );
        assert_eq!(
            message("context"),
            "invalid name `context`: its struct `Context` would shadow `servicepack::prelude::Context`; try `context-service`"
        );
    }

    #[test]
    fn crate_names_follow_cargo() {
        assert!(check_crate_name("my-app").is_ok());
        assert!(check_crate_name("my_app2").is_ok());
        assert_eq!(
            check_crate_name("My App").unwrap_err().to_string(),
            "invalid name `My App`: a package name starts with a lowercase letter (a-z); try `my-app`"
        );
        assert!(check_crate_name("1app").is_err());
        assert!(
            check_crate_name("fn")
                .unwrap_err()
                .to_string()
                .contains("keyword")
        );
        assert!(check_crate_name("std").is_err());
        assert!(check_crate_name("servicepack").is_err());
        assert!(check_crate_name(&"a".repeat(65)).is_err());
    }
}
