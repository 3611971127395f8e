//! The hidden `main` that `#[servicepack::main]` calls: the one place that knows both the
//! command line and the app layer, so that the dependencies run one way, entry → cli →
//! app → registry → runtime.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

use crate::app::config::Config;
use crate::app::exit::Exit;
use crate::app::{App, AppInfo, telemetry};
use crate::runtime::catch::{self, Panicked};

/// The body of the `main` that `#[servicepack::main]` writes: runs the user's setup
/// function, reads the environment, parses the command line and runs the command. Not
/// public API.
#[doc(hidden)]
#[must_use]
pub fn main(info: AppInfo, setup: Option<fn(&mut App)>) -> ExitCode {
    telemetry::install_panic_hook();
    let config = Config::from_env();
    let format = match &config {
        Ok(config) => config.log.format,
        Err(errors) => errors.format,
    };
    let mut app = App::new();
    if let Some(setup) = setup
        && let Err(payload) = catch::catching(|| catch_unwind(AssertUnwindSafe(|| setup(&mut app))))
    {
        let panicked = Panicked::from_payload(&*payload);
        return Exit::Failure
            .because(
                format,
                &format!("the setup function `fn main(app: &mut App)` {panicked}"),
            )
            .into();
    }
    let registry: &'static [crate::registry::Entry] = &crate::registry::SERVICES;
    match catch::catching(|| {
        catch_unwind(AssertUnwindSafe(|| {
            crate::cli::main(info, app, registry, config)
        }))
    }) {
        Ok(exit) => exit.into(),
        Err(payload) => {
            let panicked = Panicked::from_payload(&*payload);
            Exit::Failure
                .because(
                    format,
                    &format!("servicepack {panicked} outside any service or hook"),
                )
                .into()
        }
    }
}
