//! The default service name: the struct ident in kebab-case.
//!
//! This file depends on `std` only: `servicepack-cli` compiles it too (through its
//! `src/shared` symlink), so that `servicepack list` shows exactly the names `#[service]`
//! registers.

/// `ExampleDatabase` → `example-database`, `HTTPServer` → `http-server`,
/// `Http2Server` → `http2-server`, `snake_case` → `snake-case`.
///
/// A word starts at an uppercase letter that follows a lowercase letter or a digit, and at
/// the last uppercase letter of an acronym when a lowercase letter follows it.
pub(crate) fn kebab_case(ident: &str) -> String {
    let chars: Vec<char> = ident.chars().collect();
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            continue;
        }
        if c.is_uppercase() {
            let previous = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let starts_word = match previous {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if starts_word && !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::kebab_case;

    #[test]
    fn kebab_cases_idents() {
        let cases = [
            ("ExampleDatabase", "example-database"),
            ("HTTPServer", "http-server"),
            ("Http2Server", "http2-server"),
            ("V2Api", "v2-api"),
            ("Db", "db"),
            ("DB", "db"),
            ("A", "a"),
            ("ServerHTTP", "server-http"),
            ("IOLoop", "io-loop"),
            ("snake_case_name", "snake-case-name"),
            ("Mixed_Case", "mixed-case"),
            ("_Leading", "leading"),
            ("Trailing_", "trailing"),
            ("type", "type"),
            ("ÜberService", "über-service"),
        ];
        for (ident, expected) in cases {
            assert_eq!(kebab_case(ident), expected, "{ident}");
        }
    }
}
