// `crate = path` for a crate that re-exports servicepack: the expansion names only that
// path, never `::servicepack`.
mod framework {
    pub use ::servicepack as runtime;

    pub mod prelude {
        pub use super::runtime::prelude::*;
    }
}

mod services {
    use crate::framework::prelude::*;

    #[service(crate = crate::framework::runtime, retries = 1, delay = "1s")]
    #[derive(Default)]
    pub struct Reexported;

    impl Service for Reexported {
        async fn run(&self, _ctx: Context) -> Result<()> {
            Ok(())
        }
    }

    #[crate::framework::runtime::service(crate = super::framework::runtime, depends_on = [Reexported])]
    #[derive(Default)]
    pub struct Dependent;

    impl Service for Dependent {
        async fn run(&self, _ctx: Context) -> Result<()> {
            Ok(())
        }
    }
}

fn main() {
    let registry = framework::runtime::__private::SERVICES;
    let dependent = registry.iter().find(|entry| entry.name == "dependent").unwrap();
    assert_eq!(dependent.depends_on, ["reexported"]);
}
