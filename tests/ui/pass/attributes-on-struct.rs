// Doc comments, `cfg`, `cfg_attr`, derives and lint attributes around `#[service]` are
// kept: the struct is re-emitted unchanged.
#![deny(missing_docs)]
//! A crate with documented services.

use servicepack::__private::SERVICES;
use servicepack::prelude::*;

/// A documented service.
///
/// With a second paragraph.
#[service(name = "documented")]
#[derive(Default, Debug, Clone, PartialEq)]
#[cfg_attr(all(), derive(Eq))]
#[allow(dead_code)]
pub struct Documented {
    /// A documented field.
    #[cfg(all())]
    pub field: u8,
    #[cfg(any())]
    missing: NotAType,
}

/// Compiled out: neither the struct nor its registration exist.
#[cfg(any())]
#[service]
pub struct CompiledOut;

/// `#[service]` after the derive works too.
#[derive(Default)]
#[service]
pub struct AttributeOrder;

impl Service for Documented {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

impl Service for AttributeOrder {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {
    assert_eq!(Documented::default(), Documented { field: 0 }.clone());
    let mut names: Vec<&str> = SERVICES.iter().map(|entry| entry.name).collect();
    names.sort_unstable();
    assert_eq!(names, ["attribute-order", "documented"]);
}
