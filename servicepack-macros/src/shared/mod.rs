//! Code shared, as source, by `servicepack`, `servicepack-macros` and `servicepack-cli`:
//! plain `std` files with no dependency, so that the attribute, the runtime and the
//! scaffolder agree on durations, default names, reserved names and every message about
//! a bad `#[service]` value.
//!
//! The files live here, in `servicepack-macros/src/shared/`, except `duration.rs`, which
//! is a symlink to the runtime's parser (`servicepack/src/duration.rs`). The CLI's
//! `src/shared` is a symlink to this folder, and `servicepack/src/builtin.rs` one to
//! `commands.rs`. `cargo package` stores symlinks as the files they point to, so each
//! published crate carries its own copy (the pattern of `serde_derive_internals`).

pub(crate) mod commands;
pub(crate) mod duration;
pub(crate) mod kebab;
pub(crate) mod validate;
