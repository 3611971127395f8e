//! Finds the services of a project by reading its source: every struct under a
//! `#[service(...)]` (or `#[servicepack::service(...)]`) attribute in `src/`, with its
//! name and `depends_on`. No build needed, so `list`, `add` and `remove` work on a project
//! that does not compile yet.
//!
//! A walker over the tokens of [`crate::lex`] (which has already dropped comments and
//! strings, so an attribute quoted in a doc comment is not a service) tracks inline
//! `mod x { }` blocks, so each service knows its module path.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::lex::{Kind, Token, lex};
use crate::shared::kebab::kebab_case;

/// A service found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The service name: `name = "..."`, or the struct ident in kebab-case.
    pub(crate) name: String,
    /// The struct ident.
    pub(crate) type_name: String,
    /// Module path from the crate root, without `crate`: `["services", "worker"]`.
    pub(crate) module: Vec<String>,
    /// The file, relative to the project root.
    pub(crate) file: PathBuf,
    /// 1-based line of the attribute.
    pub(crate) line: usize,
    /// What `depends_on` lists, in order.
    pub(crate) depends_on: Vec<Dep>,
}

/// One `depends_on` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dep {
    /// A type path, as written: `super::worker::Worker`.
    Type(String),
    /// A service name: `"external-cache"`.
    Name(String),
}

impl Found {
    /// The service this `Dep::Type` path points at, among `all`: the one whose module path
    /// the path resolves to, or else the only service with that struct ident.
    pub(crate) fn resolve<'a>(&self, path: &str, all: &'a [Found]) -> Option<&'a Found> {
        let segments: Vec<&str> = path.trim_start_matches("::").split("::").collect();
        let (&ident, prefix) = segments.split_last()?;
        let candidates: Vec<&Found> = all.iter().filter(|f| f.type_name == ident).collect();
        let mut module: Vec<String> = self.module.clone();
        let mut rest = prefix;
        match rest.first() {
            Some(&"crate") => {
                module.clear();
                rest = &rest[1..];
            }
            Some(&"self") => rest = &rest[1..],
            _ => {}
        }
        while let Some((&"super", tail)) = rest.split_first() {
            module.pop();
            rest = tail;
        }
        module.extend(rest.iter().map(|s| (*s).to_owned()));
        candidates
            .iter()
            .find(|f| f.module == module)
            .copied()
            .or_else(|| (candidates.len() == 1).then(|| candidates[0]))
    }

    /// The names of the services this one depends on: type paths resolved among `all`
    /// (left as written when they match no service), strings as they are.
    pub(crate) fn dependency_names(&self, all: &[Found]) -> Vec<String> {
        self.depends_on
            .iter()
            .map(|dep| match dep {
                Dep::Name(name) => name.clone(),
                Dep::Type(path) => self
                    .resolve(path, all)
                    .map_or_else(|| path.clone(), |found| found.name.clone()),
            })
            .collect()
    }
}

/// Scans every `.rs` file under `root/src`, in path order.
///
/// # Errors
///
/// A file or directory that cannot be read.
pub(crate) fn scan_project(root: &Path) -> io::Result<Vec<Found>> {
    let src = root.join("src");
    let mut files = Vec::new();
    collect_rust_files(&src, &mut files)?;
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file)?;
        let relative = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
        let module = module_of(file.strip_prefix(&src).unwrap_or(&file));
        found.extend(scan_source(&text, &relative, &module));
    }
    Ok(found)
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_rust_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `main.rs`, `lib.rs` → the crate root; `a/mod.rs` → `a`; `a/b.rs` → `a::b`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.strip_suffix(".rs").unwrap_or(&last);
        let is_root = parts.is_empty() && matches!(stem, "main" | "lib");
        if stem != "mod" && !is_root {
            parts.push(stem.to_owned());
        }
    }
    if parts.first().is_some_and(|first| first == "bin") {
        parts.clear();
    }
    parts
}

/// The services declared in one file whose module path is `module`.
pub(crate) fn scan_source(text: &str, file: &Path, module: &[String]) -> Vec<Found> {
    let tokens = lex(text);
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut inline_modules: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].kind {
            Kind::Punct('{') => depth += 1,
            Kind::Punct('}') => {
                depth = depth.saturating_sub(1);
                while inline_modules.last().is_some_and(|(_, d)| *d > depth) {
                    inline_modules.pop();
                }
            }
            Kind::Ident(word) if word == "mod" => {
                if let (Some(Kind::Ident(name)), Some(Kind::Punct('{'))) =
                    (kind_at(&tokens, i + 1), kind_at(&tokens, i + 2))
                {
                    inline_modules.push((name.clone(), depth + 1));
                }
            }
            Kind::Punct('#') if matches!(kind_at(&tokens, i + 1), Some(Kind::Punct('['))) => {
                let end = matching(&tokens, i + 1);
                if let Some(args) = service_attribute(&tokens[i + 2..end])
                    && let Some(type_name) = struct_after(&tokens, end + 1)
                {
                    let mut full_module = module.to_vec();
                    full_module.extend(inline_modules.iter().map(|(name, _)| name.clone()));
                    found.push(Found {
                        name: string_arg(args, "name").unwrap_or_else(|| kebab_case(&type_name)),
                        type_name,
                        module: full_module,
                        file: file.to_path_buf(),
                        line: tokens[i].line,
                        depends_on: depends_on(args),
                    });
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

fn kind_at(tokens: &[Token], i: usize) -> Option<&Kind> {
    tokens.get(i).map(|t| &t.kind)
}

/// Index of the bracket closing the one at `open` (or the last token, if unbalanced).
fn matching(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token.kind {
            Kind::Punct('(' | '[' | '{') => depth += 1,
            Kind::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    tokens.len().saturating_sub(1)
}

/// The argument tokens of a `service` attribute (`inner` is between `#[` and `]`), or
/// `None` for any other attribute.
fn service_attribute(inner: &[Token]) -> Option<&[Token]> {
    let mut path = Vec::new();
    let mut i = 0;
    loop {
        match kind_at(inner, i) {
            Some(Kind::Punct(':')) => i += 1,
            Some(Kind::Ident(segment)) => {
                path.push(segment.as_str());
                i += 1;
            }
            _ => break,
        }
    }
    if !matches!(path.as_slice(), ["service"] | ["servicepack", "service"]) {
        return None;
    }
    match kind_at(inner, i) {
        None => Some(&[]),
        Some(Kind::Punct('(')) => {
            let close = matching(inner, i);
            Some(&inner[i + 1..close])
        }
        Some(_) => None,
    }
}

/// The ident of the struct that the attributes ending before `start` are on, skipping
/// further attributes and a visibility.
fn struct_after(tokens: &[Token], mut i: usize) -> Option<String> {
    loop {
        match kind_at(tokens, i)? {
            Kind::Punct('#') => i = matching(tokens, i + 1) + 1,
            Kind::Ident(word) if word == "pub" => {
                i += 1;
                if matches!(kind_at(tokens, i), Some(Kind::Punct('('))) {
                    i = matching(tokens, i) + 1;
                }
            }
            Kind::Ident(word) if word == "struct" => {
                return match kind_at(tokens, i + 1)? {
                    Kind::Ident(name) => Some(name.clone()),
                    _ => None,
                };
            }
            _ => return None,
        }
    }
}

/// Splits attribute arguments at top-level commas.
fn split_commas(tokens: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        match token.kind {
            Kind::Punct('(' | '[' | '{') => depth += 1,
            Kind::Punct(')' | ']' | '}') => depth = depth.saturating_sub(1),
            Kind::Punct(',') if depth == 0 => {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tokens[start..]);
    parts.retain(|part| !part.is_empty());
    parts
}

/// The value tokens of `key = value`.
fn arg<'a>(args: &'a [Token], key: &str) -> Option<&'a [Token]> {
    split_commas(args).into_iter().find_map(|part| {
        let (first, rest) = part.split_first()?;
        let (eq, value) = rest.split_first()?;
        let is_key = matches!(&first.kind, Kind::Ident(k) if k == key);
        (is_key && eq.kind == Kind::Punct('=')).then_some(value)
    })
}

fn string_arg(args: &[Token], key: &str) -> Option<String> {
    match arg(args, key)? {
        [token] => match &token.kind {
            Kind::Str(value) => Some(value.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn depends_on(args: &[Token]) -> Vec<Dep> {
    let inner = arg(args, "depends_on").and_then(|value| {
        let (open, rest) = value.split_first()?;
        let (close, inner) = rest.split_last()?;
        (open.kind == Kind::Punct('[') && close.kind == Kind::Punct(']')).then_some(inner)
    });
    let Some(inner) = inner else {
        return Vec::new();
    };
    split_commas(inner)
        .into_iter()
        .filter_map(|item| {
            if let [token] = item
                && let Kind::Str(name) = &token.kind
            {
                return Some(Dep::Name(name.clone()));
            }
            let mut path = String::new();
            for token in item {
                match &token.kind {
                    Kind::Ident(segment) => path.push_str(segment),
                    Kind::Punct(':') => path.push(':'),
                    _ => return None,
                }
            }
            Some(Dep::Type(path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<Found> {
        scan_source(
            text,
            Path::new("src/services/x.rs"),
            &["services".to_owned()],
        )
    }

    #[test]
    fn finds_a_plain_service() {
        let found = scan(
            "use servicepack::prelude::*;\n\n#[service]\n#[derive(Default)]\npub struct HelloWorld;\n",
        );
        assert_eq!(
            found,
            [Found {
                name: "hello-world".into(),
                type_name: "HelloWorld".into(),
                module: vec!["services".into()],
                file: "src/services/x.rs".into(),
                line: 3,
                depends_on: vec![],
            }]
        );
    }

    #[test]
    fn reads_name_and_depends_on() {
        let found = scan(
            r#"
            /// The API.
            #[servicepack::service(
                name = "api",
                retries = 2,
                delay = "1s",
                depends_on = [super::worker::Worker, "external-cache", crate::db::Db],
                notify_ready,
            )]
            #[derive(Default, Debug)]
            pub(crate) struct HttpApi { inner: std::sync::Mutex<Vec<u8>> }
            "#,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "api");
        assert_eq!(found[0].type_name, "HttpApi");
        assert_eq!(found[0].line, 3);
        assert_eq!(
            found[0].depends_on,
            [
                Dep::Type("super::worker::Worker".into()),
                Dep::Name("external-cache".into()),
                Dep::Type("crate::db::Db".into()),
            ]
        );
    }

    #[test]
    fn ignores_comments_strings_and_other_attributes() {
        let found = scan(
            r##"
            // #[service] pub struct InLineComment;
            /* #[service] /* nested */ pub struct InBlockComment; */
            /// ```
            /// #[service] pub struct InDocComment;
            /// ```
            const S: &str = "#[service] pub struct InString;";
            const R: &str = r#"#[service] pub struct "InRawString;"#;
            const C: char = '#';
            fn f<'a>(x: &'a str) -> &'a str { x }
            #[tokio::test] async fn not_a_service() {}
            #[service] enum NotAStruct { A }
            #[other::service] struct OtherPath;
            #[service]
            struct Real;
            "##,
        );
        let names: Vec<_> = found.iter().map(|f| f.type_name.as_str()).collect();
        assert_eq!(names, ["Real"]);
        assert_eq!(found[0].line, 14);
    }

    #[test]
    fn inline_modules_extend_the_module_path() {
        let found = scan("mod outer { mod inner { #[service] struct A; } } #[service] struct B;");
        assert_eq!(found[0].module, ["services", "outer", "inner"]);
        assert_eq!(found[1].module, ["services"]);
    }

    #[test]
    fn module_paths_follow_the_file_layout() {
        assert!(module_of(Path::new("main.rs")).is_empty());
        assert!(module_of(Path::new("lib.rs")).is_empty());
        assert_eq!(module_of(Path::new("services/mod.rs")), ["services"]);
        assert_eq!(
            module_of(Path::new("services/worker.rs")),
            ["services", "worker"]
        );
        assert_eq!(module_of(Path::new("a/b/c.rs")), ["a", "b", "c"]);
    }

    #[test]
    fn type_paths_resolve_to_services() {
        let services = |module: &str, text: &str| {
            scan_source(
                text,
                Path::new("x.rs"),
                &["services".to_owned(), module.to_owned()],
            )
        };
        let mut all = services("worker", "#[service] pub struct Worker;");
        all.extend(services(
            "other",
            "#[service(name = \"other-worker\")] pub struct Worker;",
        ));
        all.extend(services(
            "api",
            "#[service(depends_on = [super::worker::Worker, crate::services::other::Worker, \"ext\", Missing])] pub struct Api;",
        ));
        let api = &all[2];
        assert_eq!(
            api.dependency_names(&all),
            ["worker", "other-worker", "ext", "Missing"]
        );
    }
}
