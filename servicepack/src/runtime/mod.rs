//! The engine: plans the services, supervises each one, and shuts them down in reverse
//! dependency order. It never reads the environment, never writes to stderr and knows
//! nothing of clap or exit codes beyond its [`Report`](report::Report): the app layer
//! (`crate::app`) and the command line (`crate::cli`) sit on top of it.

pub(crate) mod catch;
pub(crate) mod commands;
pub(crate) mod control;
pub(crate) mod erased;
pub(crate) mod lifecycle;
pub(crate) mod peers;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod retry;
pub(crate) mod runner;
pub(crate) mod shared;
pub(crate) mod shutdown;
pub(crate) mod signal;
pub(crate) mod state;
pub(crate) mod status;
pub(crate) mod supervisor;
