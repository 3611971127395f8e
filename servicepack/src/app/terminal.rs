//! The terminal conventions: whether a stream is coloured (`NO_COLOR`, `CLICOLOR_FORCE`,
//! `TERM`, and whether it is a terminal). Text logs and help follow the same rule.

/// `NO_COLOR`: any non-empty value turns colour off (no-color.org).
pub(crate) const NO_COLOR: &str = "NO_COLOR";
/// `CLICOLOR_FORCE`: any value but `0` turns colour on, even off a terminal.
pub(crate) const CLICOLOR_FORCE: &str = "CLICOLOR_FORCE";
/// `TERM`: `dumb` means a terminal without colour.
pub(crate) const TERM: &str = "TERM";

/// Whether text logs and help are coloured: `NO_COLOR` (non-empty) turns colour off and
/// wins, `CLICOLOR_FORCE` (any value but `0`) turns it on, and otherwise a stream is
/// coloured when it is a terminal whose `TERM` is not `dumb` (the rule of anstream, which
/// clap uses, except that an unset `TERM` still allows colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Color {
    /// Colour on a terminal.
    Auto,
    /// `TERM=dumb`: colour only when forced, so never.
    Dumb,
    /// `NO_COLOR`.
    Never,
    /// `CLICOLOR_FORCE`.
    Always,
}

impl Color {
    /// Reads the variables of the process environment.
    pub(crate) fn from_env() -> Self {
        Self::from_lookup(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// Reads the variables through `lookup`. Values are taken as given (not trimmed):
    /// `NO_COLOR` counts when non-empty, as its convention says.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        if lookup(NO_COLOR).is_some_and(|value| !value.is_empty()) {
            Self::Never
        } else if lookup(CLICOLOR_FORCE).is_some_and(|value| !value.is_empty() && value != "0") {
            Self::Always
        } else if lookup(TERM).is_some_and(|value| value == "dumb") {
            Self::Dumb
        } else {
            Self::Auto
        }
    }

    /// Whether a stream is coloured, given whether it is a terminal.
    pub(crate) fn enabled(self, is_terminal: bool) -> bool {
        match self {
            Self::Auto => is_terminal,
            Self::Dumb | Self::Never => false,
            Self::Always => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_no_color_and_clicolor_force() {
        let color = |vars: &[(&str, &str)]| {
            Color::from_lookup(|name| {
                vars.iter()
                    .find(|(known, _)| *known == name)
                    .map(|(_, value)| (*value).to_owned())
            })
        };
        assert_eq!(color(&[]), Color::Auto);
        assert_eq!(color(&[(NO_COLOR, "1")]), Color::Never);
        assert_eq!(
            color(&[(NO_COLOR, "")]),
            Color::Auto,
            "empty NO_COLOR is unset"
        );
        assert_eq!(color(&[(CLICOLOR_FORCE, "1")]), Color::Always);
        assert_eq!(color(&[(CLICOLOR_FORCE, "0")]), Color::Auto);
        assert_eq!(
            color(&[(CLICOLOR_FORCE, "1"), (NO_COLOR, "1")]),
            Color::Never,
            "NO_COLOR wins"
        );
        assert_eq!(color(&[(TERM, "dumb")]), Color::Dumb);
        assert!(Color::Auto.enabled(true));
        assert!(!Color::Auto.enabled(false));
        assert!(!Color::Dumb.enabled(true));
        assert!(!Color::Never.enabled(true));
        assert!(Color::Always.enabled(false));
    }
}
