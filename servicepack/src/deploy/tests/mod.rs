//! The renderers from static entries: golden files per target, the model's checks, and
//! the writer's file-safety rules on a real directory.

use std::time::Duration;

use super::model::{ModelError, Options};
use super::{Model, Target, render};
use crate::prelude::*;
use crate::registry::{Entry, Registered};
use crate::{Backoff, Policy, Restart, Retries};

mod golden;
mod write;

macro_rules! services {
    ($($ty:ident = $name:literal),* $(,)?) => {$(
        struct $ty;

        impl Service for $ty {
            async fn run(&self, _ctx: Context) -> Result<()> {
                Ok(())
            }
        }

        impl Registered for $ty {
            const NAME: &'static str = $name;

            fn construct() -> Result<Self> {
                panic!(concat!($name, " must not be constructed: deploy reads the registration only"))
            }
        }
    )*};
}

services!(
    Api = "api",
    Cache = "cache",
    Db = "db",
    Worker = "worker",
    Under = "under_score",
);

/// A small shop, sorted by name as the command line hands entries over: every mapping
/// of the table shows up (required and wanted dependencies, the three restart policies,
/// a delay in milliseconds, unlimited retries).
static SHOP: [Entry; 4] = [
    Entry::new::<Api>(
        "shop::Api",
        Policy::new()
            .restart(Restart::Always)
            .delay(Duration::from_millis(1500)),
        &["db", "cache", "payments"],
    ),
    Entry::new::<Cache>("shop::Cache", Policy::new().allowed_failure(true), &[]),
    Entry::new::<Db>(
        "shop::Db",
        Policy::new()
            .retries(Retries::Limited(2))
            .delay(Duration::from_secs(2))
            .notify_ready(true),
        &[],
    ),
    Entry::new::<Worker>(
        "shop::Worker",
        Policy::new()
            .retries(Retries::Unlimited)
            .backoff(Backoff::Exponential {
                max_delay: Duration::from_secs(60),
            })
            .delay(Duration::from_millis(500))
            .restart(Restart::Never),
        &["db"],
    ),
];

fn entries(entries: &'static [Entry]) -> Vec<&'static Entry> {
    entries.iter().collect()
}

fn options(target: Target) -> Options {
    Options {
        target,
        services: Vec::new(),
        binary: None,
        image: None,
        ops_port_base: 9100,
        budget: Duration::from_secs(10),
        drain: Duration::ZERO,
    }
}

fn model(options: &Options) -> Result<Model, ModelError> {
    Model::new("shop", "1.2.3", &entries(&SHOP), options)
}

#[test]
fn ports_follow_the_registry_whatever_is_selected() {
    let all = model(&options(Target::Systemd)).unwrap();
    let ports: Vec<(&str, u16)> = all
        .units
        .iter()
        .map(|u| (u.name.as_str(), u.port))
        .collect();
    assert_eq!(
        ports,
        [
            ("api", 9100),
            ("cache", 9101),
            ("db", 9102),
            ("worker", 9103)
        ]
    );

    let some = model(&Options {
        services: vec![" worker".to_owned(), String::new(), "api".to_owned()],
        ..options(Target::Systemd)
    })
    .unwrap();
    let ports: Vec<(&str, u16)> = some
        .units
        .iter()
        .map(|u| (u.name.as_str(), u.port))
        .collect();
    assert_eq!(ports, [("api", 9100), ("worker", 9103)]);
    assert!(
        some.units.iter().all(|unit| unit.depends_on.is_empty()),
        "dependencies that are not deployed here are left out: {:?}",
        some.units
    );
}

#[test]
fn only_deployed_dependencies_order_a_unit() {
    let all = model(&options(Target::Systemd)).unwrap();
    let api = &all.units[0];
    let deps: Vec<(&str, bool)> = api
        .depends_on
        .iter()
        .map(|dep| (dep.name.as_str(), dep.allowed_failure))
        .collect();
    assert_eq!(
        deps,
        [("db", false), ("cache", true)],
        "`payments` is external"
    );
}

#[test]
fn services_peers_name_where_each_deployed_dependency_answers() {
    for (target, db, cache) in [
        (Target::Systemd, "127.0.0.1:9102", "127.0.0.1:9101"),
        (Target::Runit, "127.0.0.1:9102", "127.0.0.1:9101"),
        (Target::Daemontools, "127.0.0.1:9102", "127.0.0.1:9101"),
        (Target::S6, "127.0.0.1:9102", "127.0.0.1:9101"),
        (Target::Compose, "db:9102", "cache:9101"),
        (Target::Swarm, "tasks.db:9102", "tasks.cache:9101"),
        (Target::Kubernetes, "shop-db:9102", "shop-cache:9101"),
    ] {
        let all = model(&options(target)).unwrap();
        let env = |name: &str| {
            let unit = all.units.iter().find(|unit| unit.name == name).unwrap();
            all.env(unit, "0.0.0.0")
                .into_iter()
                .find(|(key, _)| *key == "SERVICES_PEERS")
                .map(|(_, value)| value)
        };
        assert_eq!(
            env("api").as_deref(),
            Some(format!("db=http://{db},cache=http://{cache}").as_str()),
            "{target:?}: in `depends_on` order, `payments` (not registered) left out"
        );
        assert_eq!(env("db"), None, "{target:?}: no dependency, no variable");
    }
    // A dependency that is not deployed here is not waited for.
    let alone = model(&Options {
        services: vec!["api".to_owned()],
        ..options(Target::Runit)
    })
    .unwrap();
    let env = alone.env(&alone.units[0], "127.0.0.1");
    assert!(
        env.iter().all(|(key, _)| *key != "SERVICES_PEERS"),
        "{env:?}"
    );
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    let cases = [
        (
            Options {
                services: vec!["nope".to_owned()],
                ..options(Target::Runit)
            },
            "--services names `nope` but no such service is registered; registered services: api, cache, db, worker",
        ),
        (
            Options {
                ops_port_base: 65533,
                ..options(Target::Runit)
            },
            "--ops-port-base 65533",
        ),
        (
            Options {
                ops_port_base: 0,
                ..options(Target::Runit)
            },
            "pass a base from 1 to 65532",
        ),
        (
            Options {
                binary: Some("bin/shop".to_owned()),
                ..options(Target::Systemd)
            },
            "--binary \"bin/shop\": expected the absolute path",
        ),
        (
            Options {
                binary: Some("/opt/my shop".to_owned()),
                ..options(Target::Systemd)
            },
            "--binary \"/opt/my shop\"",
        ),
        (
            Options {
                image: Some("shop latest".to_owned()),
                ..options(Target::Compose)
            },
            "--image \"shop latest\"",
        ),
    ];
    for (options, expected) in cases {
        match model(&options) {
            Err(ModelError::Usage(message)) => {
                assert!(message.contains(expected), "{message:?} lacks {expected:?}");
            }
            other => panic!("{options:?} gave {other:?}, not a usage error"),
        }
    }
}

#[test]
fn registries_that_cannot_be_deployed_are_refused() {
    static DUPLICATE: [Entry; 2] = [
        Entry::new::<Db>("shop::Db", Policy::new(), &[]),
        Entry::new::<Db>("shop::other::Db", Policy::new(), &[]),
    ];
    static CYCLE: [Entry; 2] = [
        Entry::new::<Api>("shop::Api", Policy::new(), &["db"]),
        Entry::new::<Db>("shop::Db", Policy::new(), &["api"]),
    ];
    static UNDERSCORE: [Entry; 1] = [Entry::new::<Under>("shop::Under", Policy::new(), &[])];
    let refused = |entries_: &'static [Entry], target: Target| match Model::new(
        "shop",
        "1.2.3",
        &entries(entries_),
        &options(target),
    ) {
        Err(ModelError::Registry(message)) => message,
        other => panic!("{other:?} is not a registry error"),
    };
    assert!(refused(&DUPLICATE, Target::Runit).contains("duplicate service name `db`"));
    assert!(refused(&CYCLE, Target::Runit).contains("cycle"));
    assert!(refused(&[], Target::Runit).contains("nothing to deploy"));
    let message = refused(&UNDERSCORE, Target::Kubernetes);
    assert!(
        message.contains("`shop-under_score` must be a DNS label"),
        "{message}"
    );
    assert!(
        Model::new(
            "shop",
            "1.2.3",
            &entries(&UNDERSCORE),
            &options(Target::Systemd)
        )
        .is_ok(),
        "systemd takes an underscore"
    );
}

#[test]
fn the_same_registry_and_flags_give_the_same_files() {
    for target in Target::ALL {
        let first = render(&model(&options(target)).unwrap());
        let second = render(&model(&options(target)).unwrap());
        assert_eq!(first, second, "{target:?}");
        let paths: Vec<&str> = first.iter().map(|file| file.path.as_str()).collect();
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        assert_eq!(paths, sorted, "{target:?}: files come sorted by path");
    }
}

#[test]
fn stop_timeouts_cover_drain_and_budget() {
    let options = Options {
        budget: Duration::from_secs(30),
        drain: Duration::from_millis(2500),
        ..options(Target::Kubernetes)
    };
    let model = model(&options).unwrap();
    assert_eq!(model.stop_timeout(), Duration::from_millis(37_500));
    let grace = super::kubernetes::grace_seconds(&model);
    assert!(
        grace >= 38,
        "grace {grace}s must cover drain + budget + margin, rounded up"
    );
    let env = model.env(&model.units[0], "0.0.0.0");
    assert!(
        env.contains(&("RUNNER_DRAINDELAY", "2.5s".to_owned())),
        "{env:?}"
    );
    assert!(
        env.contains(&("RUNNER_SHUTDOWNTIMEOUT", "30s".to_owned())),
        "{env:?}"
    );
}
