//! End-to-end tests of the example apps: each test starts a real binary, reads its logs,
//! signals it, and checks its exit code and the order of its lifecycle events.

mod blocking_plans;
mod config;
mod control;
mod http;
mod notify;
mod ops;
mod ops_tools;
mod patterns;
mod peers;
mod probe;
mod reliability;
mod short;
mod showcase;
mod support;
mod terminal;
