//! Micro-benchmarks of the runtime's hot pieces, through its public API.
//!
//! ```text
//! cargo bench -p servicepack-bench --bench micro
//! ```
//!
//! - `plan`: planning a layered graph of `n` services. The planner is crate-private, so
//!   the graph ends in a two-service cycle: `Runner::run` builds and checks the whole
//!   plan (index, edges, Kahn's order, the cycle path) and returns the error before any
//!   service starts. That is the planning cost plus one task spawn.
//! - `one_shot` vs `retry_once`: one service that returns `Ok` at once, and one that
//!   fails once (zero delay) before it does; the difference is one retry cycle.
//! - `readiness_chain`: `n` one-shot `notify_ready` services in a chain; the slope over
//!   `n` is the cost of one readiness hand-off.

use std::sync::atomic::{AtomicU32, Ordering};

use divan::Bencher;
use servicepack::{Context, Policy, Result, Retries, Runner, Service, ServiceDef};
use servicepack_bench::shape::Shape;

fn main() {
    divan::main();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// Returns at once; ready by returning.
struct OneShot;

impl Service for OneShot {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.ready();
        Ok(())
    }
}

/// Fails its first run, succeeds the second.
#[derive(Default)]
struct FailsOnce {
    runs: AtomicU32,
}

impl Service for FailsOnce {
    async fn run(&self, _ctx: Context) -> Result<()> {
        if self.runs.fetch_add(1, Ordering::Relaxed) == 0 {
            Err("first run fails".into())
        } else {
            Ok(())
        }
    }
}

/// Never runs: the plan fails first.
struct Unreached;

impl Service for Unreached {
    async fn run(&self, _ctx: Context) -> Result<()> {
        unreachable!("a graph with a cycle never starts")
    }
}

/// `n` service names that live for the whole process, so that dropping the definitions
/// inside `run` frees no strings and the figure stays about planning.
fn static_names(n: usize) -> Vec<&'static str> {
    (0..n)
        .map(|node| &*Box::leak(Shape::name(node).into_boxed_str()))
        .collect()
}

#[divan::bench(args = [1_000, 10_000])]
fn plan(bencher: Bencher, n: usize) {
    let runtime = runtime();
    let shape = Shape::layered(n, n / 100, 5, 7);
    let names = static_names(n);
    bencher
        .with_inputs(|| {
            let defs = (0..n).map(|node| {
                ServiceDef::new(names[node], Unreached)
                    .depends_on(shape.dependencies(node).iter().map(|&dep| names[dep]))
            });
            Runner::new()
                .services(defs)
                .service(ServiceDef::new("cycle-a", Unreached).depends_on(["cycle-b"]))
                .service(ServiceDef::new("cycle-b", Unreached).depends_on(["cycle-a"]))
        })
        .bench_local_values(|runner| {
            let report = runtime.block_on(runner.run());
            assert_eq!(report.exit_code(), 1, "the cycle is reported");
            report
        });
}

#[divan::bench]
fn one_shot(bencher: Bencher) {
    let runtime = runtime();
    bencher
        .with_inputs(|| Runner::new().service(ServiceDef::new("one-shot", OneShot)))
        .bench_local_values(|runner| runtime.block_on(runner.run()));
}

#[divan::bench]
fn retry_once(bencher: Bencher) {
    let runtime = runtime();
    let policy = Policy::new().retries(Retries::Limited(1));
    bencher
        .with_inputs(|| {
            Runner::new().service(ServiceDef::new("flaky", FailsOnce::default()).policy(policy))
        })
        .bench_local_values(|runner| {
            let report = runtime.block_on(runner.run());
            assert_eq!(report.exit_code(), 0, "the retry succeeds");
            report
        });
}

#[divan::bench(args = [1, 10, 100])]
fn readiness_chain(bencher: Bencher, n: usize) {
    let runtime = runtime();
    let policy = Policy::new().notify_ready(true);
    bencher
        .with_inputs(|| {
            Runner::new().services((0..n).map(|node| {
                let def = ServiceDef::new(Shape::name(node), OneShot).policy(policy);
                if node == 0 {
                    def
                } else {
                    def.depends_on([Shape::name(node - 1)])
                }
            }))
        })
        .bench_local_values(|runner| runtime.block_on(runner.run()));
}
