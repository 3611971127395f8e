//! The showcase: every example service of the Go original `servicepack`, in one binary.
//!
//! `cargo run -p showcase -- run` starts them all and tells the story in its logs: the
//! database becomes ready after two seconds, the API and the migrator wait for it, the
//! flaky service fails twice before it settles, the optional service fails without harm,
//! and the crasher takes the whole app down after its third crash (about 36 s in).
//! Press Ctrl-C before that for a graceful shutdown in reverse dependency order.
//!
//! Each service lives in its own module under [`services`].

mod services;

#[servicepack::main]
fn main() {}
