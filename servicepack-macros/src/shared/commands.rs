//! The top-level commands of every app, in one list for the three crates that need it:
//! `servicepack` builds them and refuses a custom command named like one,
//! `#[service(commands)]` refuses a service named like one at compile time, and
//! `servicepack add --commands` refuses the name before writing a file.
//!
//! This file depends on nothing: it is shared through the `shared/` folder of
//! `servicepack-macros` (a symlink in the other packages, resolved into a real file by
//! `cargo package`).

/// Every built-in top-level command of a `#[servicepack::main]` app (SPEC section 3).
/// A service with `commands` becomes the subcommand named after it, so it cannot take
/// one of these names.
pub(crate) const BUILT_IN_COMMANDS: [&str; 11] = [
    "run",
    "services",
    "graph",
    "check",
    "completions",
    "help",
    "status",
    "health",
    "ctl",
    "deploy",
    "sv",
];
