//! The little YAML that compose, swarm and Kubernetes files need, written by hand.
//!
//! Every string value is written double-quoted with JSON's escapes (a JSON string is a
//! YAML double-quoted scalar), so no value can turn into a number, a boolean (`no`) or
//! YAML syntax, whatever it holds.

/// `value` as a double-quoted YAML scalar.
pub(super) fn quote(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// A flow sequence of quoted strings: `["a", "b"]`.
pub(super) fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(quote).collect();
    format!("[{}]", items.join(", "))
}
