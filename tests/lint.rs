//! The expansions are lint-clean: `ui/pass/lint.rs` opens with
//! `#![deny(warnings, clippy::pedantic)]`; trybuild compiles it with rustc, and this test
//! includes the same file so that `cargo clippy --all-targets` checks it with clippy.

#[path = "ui/pass/lint.rs"]
mod lint;

#[test]
fn lint_clean_services_register() {
    lint::main();
}
