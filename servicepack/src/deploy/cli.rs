//! `./app deploy <target> --out DIR [--services a,b] [--binary PATH] [--image IMAGE]
//! [--ops-port-base PORT] [--force]`: parse, build the [`Model`], render, write, and
//! print the files written. Exit 2 for a bad flag, 1 for a registry that cannot be
//! deployed or a directory that cannot be written.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::app::AppInfo;
use crate::app::config::Config;
use crate::app::exit::Exit;
use crate::registry::Entry;

use super::model::{ModelError, Options};
use super::{Model, Target, render, write};

/// The name of the command.
pub(crate) const NAME: &str = "deploy";

/// `--ops-port-base`'s default, as clap shows it.
const PORT_BASE_TEXT: &str = "9100";

/// The clap definition of `deploy`.
pub(crate) fn command() -> Command {
    let targets: Vec<&'static str> = Target::ALL.iter().map(|target| target.as_str()).collect();
    Command::new(NAME)
        .about("Write one unit per service for a supervisor or an orchestrator (constructs no service)")
        .after_help(
            "Each unit runs `SERVICES_ENABLED=<service> <binary> run` with its own OPS_ADDR \
             (127.0.0.1:<port> on a host, 0.0.0.0:<port> in a container; port = base + the \
             service's index among the registered services by name). Prints the files written.",
        )
        .arg(
            Arg::new("target")
                .required(true)
                .value_parser(clap::builder::PossibleValuesParser::new(targets))
                .help("What to write units for"),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .value_name("DIR")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf))
                .help("Where to write them: an empty or absent directory"),
        )
        .arg(
            Arg::new("services")
                .long("services")
                .value_name("a,b")
                .value_delimiter(',')
                .help("Deploy only these services (default: every registered service)"),
        )
        .arg(
            Arg::new("binary")
                .long("binary")
                .value_name("PATH")
                .help("Absolute path of the binary where the units run [default: /usr/local/bin/<app>]"),
        )
        .arg(
            Arg::new("image")
                .long("image")
                .value_name("IMAGE")
                .help("Image of the container targets [default: <app>:<version>]"),
        )
        .arg(
            Arg::new("ops-port-base")
                .long("ops-port-base")
                .value_name("PORT")
                .value_parser(clap::value_parser!(u16))
                .default_value(PORT_BASE_TEXT)
                .help("Port of the first service's ops endpoint"),
        )
        .arg(
            Arg::new("force")
                .long("force")
                .action(ArgAction::SetTrue)
                .help("Write into a directory that is not empty, overwriting the files deploy writes"),
        )
}

/// Runs `deploy`.
pub(crate) fn main(
    info: AppInfo,
    entries: &[&Entry],
    matches: &ArgMatches,
    config: &Config,
) -> Exit {
    let format = config.log.format;
    let target = matches
        .get_one::<String>("target")
        .and_then(|name| Target::from_name(name))
        .expect("clap accepts only the names of targets");
    let options = Options {
        target,
        services: matches
            .get_many::<String>("services")
            .map(|names| names.cloned().collect())
            .unwrap_or_default(),
        binary: matches.get_one::<String>("binary").cloned(),
        image: matches.get_one::<String>("image").cloned(),
        ops_port_base: *matches
            .get_one::<u16>("ops-port-base")
            .expect("`ops-port-base` has a default"),
        budget: config.shutdown_timeout,
        drain: config.drain_delay,
    };
    let dir = matches
        .get_one::<PathBuf>("out")
        .expect("`out` is a required argument");
    let model = match Model::new(info.bin_name, info.version, entries, &options) {
        Ok(model) => model,
        Err(error) => {
            let exit = match error {
                ModelError::Usage(_) => Exit::Usage,
                ModelError::Registry(_) => Exit::Failure,
            };
            return exit.because(format, &format!("deploy {}: {error}", target.as_str()));
        }
    };
    let written = match write::write_all(dir, &render(&model), matches.get_flag("force")) {
        Ok(written) => written,
        Err(error) => {
            return Exit::Failure.because(format, &format!("deploy {}: {error}", target.as_str()));
        }
    };
    let mut out = io::stdout().lock();
    for path in written {
        if let Err(error) = writeln!(out, "{}", path.display()) {
            if error.kind() == io::ErrorKind::BrokenPipe {
                break;
            }
            return Exit::Failure.because(format, &format!("cannot write to stdout: {error}"));
        }
    }
    Exit::Success
}
