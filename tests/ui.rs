//! Compile-time behaviour of `#[service]` and `#[servicepack::main]`: every misuse is an
//! error on the offending token (`ui/service`, `ui/main`, with the exact messages in the
//! `.stderr` files next to them), and every supported form compiles and registers what
//! it says (`ui/pass`, whose `main` functions assert on the registry).
//!
//! Regenerate the messages with `TRYBUILD=overwrite cargo test -p servicepack-tests --test ui`
//! and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/service/*.rs");
    t.compile_fail("ui/main/*.rs");
    t.pass("ui/pass/*.rs");
}
