//! The services of this app, one module each. `servicepack add <name>` and
//! `servicepack remove <name>` edit the list below.

pub mod hello_world;
