//! Small writers for the Prometheus text format and for HTML, shared by the renderers.

use std::fmt::Write as _;

/// A sample value as Prometheus writes it (`1`, `0.25`, `+Inf`, `NaN`).
pub(crate) fn write_f64(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// A label value with `\`, `"` and newlines escaped.
pub(crate) fn write_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c => out.push(c),
        }
    }
}

/// Text for an HTML element or a quoted attribute: `& < > " '` escaped.
pub(crate) fn write_html(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_labels_follow_the_exposition_format() {
        let mut out = String::new();
        for value in [1.0, 0.25, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            write_f64(&mut out, value);
            out.push(' ');
        }
        write_label_value(&mut out, "a\\b\"c\nd");
        assert_eq!(out, "1 0.25 +Inf -Inf NaN a\\\\b\\\"c\\nd");
    }

    #[test]
    fn html_escapes_markup_and_quotes() {
        let mut out = String::new();
        write_html(&mut out, r#"<script>alert("x") & 'y'</script>"#);
        assert_eq!(
            out,
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
