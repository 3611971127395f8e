//! `deploy` end to end: the command as users run it, and its output on the real
//! supervisors and engines (`systemd-analyze verify`, `kubernetes-validate`, `runsvdir`,
//! `svscan`, `s6-svscan`, docker compose and swarm).
//!
//! The engine tests live in this one binary so that they share one build of the static
//! showcase and one image. A test whose engine is not installed fails, naming it and
//! `bash .ci/setup`, which installs and starts every engine.

mod cli;
mod docker;
mod kubernetes;
mod supervise;
mod support;
mod systemd;
