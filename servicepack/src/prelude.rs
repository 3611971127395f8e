//! `use servicepack::prelude::*;` brings what a service file needs.

pub use crate::{Commander, Context, Error, Result, Service, service};
