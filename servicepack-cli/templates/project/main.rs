//! `{{name}}`: services run together by servicepack.
//!
//! `cargo run -- run` starts them all; `cargo run -- --help` lists every command.

mod services;

#[servicepack::main]
fn main() {}
