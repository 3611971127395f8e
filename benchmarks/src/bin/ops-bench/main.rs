//! `ops-bench`: the ops endpoint of an app with 1,000 services under `wrk`, next to a
//! minimal server on the same crate (hyper 1, HTTP/1.1) that answers a constant body, in
//! the same process and the same run; the time to render `/metrics` for those services;
//! and flat 10,000 start and stop with and without the endpoint serving.
//!
//! `cargo run --release -p servicepack-bench --bin ops-bench [-- --seconds 5 --services 1000]`
//! needs `wrk` (Debian package `wrk`). It prints figures; it never fails on a missed target.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use servicepack::{Context, Result, Runner, Service, ServiceDef, StatusHandle};

/// Waits for shutdown.
struct Idle;

impl Service for Idle {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        Ok(())
    }
}

struct Options {
    seconds: u32,
    services: usize,
    connections: u32,
}

fn options() -> std::result::Result<Options, String> {
    let mut options = Options {
        seconds: 5,
        services: 1000,
        connections: 32,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seconds" => {
                options.seconds = u32::try_from(value("--seconds")?).map_err(|e| e.to_string())?;
            }
            "--services" => {
                options.services =
                    usize::try_from(value("--services")?).map_err(|e| e.to_string())?;
            }
            "--connections" => {
                options.connections =
                    u32::try_from(value("--connections")?).map_err(|e| e.to_string())?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; expected --seconds N, --services N, --connections N"
                ));
            }
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("ops-bench: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(bench(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ops-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(options: &Options) -> std::result::Result<(), String> {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "ops-bench: {} services, wrk -t2 -c{} -d{}s, load average {}",
        options.services,
        options.connections,
        options.seconds,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let runner = Runner::new()
        .services((0..options.services).map(|i| ServiceDef::new(format!("service-{i:05}"), Idle)));
    let (status, shutdown) = (runner.status(), runner.shutdown_handle());
    let run = tokio::spawn(runner.run());
    tokio::time::timeout(Duration::from_secs(60), ready(&status))
        .await
        .map_err(|_| "the services were not ready within 60 s")?;

    render_figures(&status);

    let ops =
        servicepack::__private::ops::serve(([127, 0, 0, 1], 0).into(), status.clone()).await?;
    let minimal = minimal_server().await?;
    println!("\n| target | requests/s | p99 latency |\n|---|---:|---:|");
    let mut livez = Vec::new();
    for round in 0..2 {
        let base = wrk(options, &format!("http://{minimal}/livez")).await?;
        let ours = wrk(options, &format!("http://{}/livez", ops.addr)).await?;
        println!(
            "| minimal hyper server, constant body (round {}) | {:.0} | {} |",
            round + 1,
            base.0,
            base.1
        );
        println!(
            "| ops `/livez`, 1,000 services (round {}) | {:.0} | {} |",
            round + 1,
            ours.0,
            ours.1
        );
        livez.push(ours.0 / base.0);
    }
    let metrics = wrk(options, &format!("http://{}/metrics", ops.addr)).await?;
    println!(
        "| ops `/metrics`, 1,000 services | {:.0} | {} |",
        metrics.0, metrics.1
    );
    livez.sort_by(f64::total_cmp);
    let ratio = livez[livez.len() / 2];
    println!(
        "\n/livez throughput: {:.0} % of the minimal server (target >= 70 %){}",
        ratio * 100.0,
        if ratio >= 0.7 { "" } else { " MISSED" }
    );
    drop(ops);
    shutdown.request();
    let report = run.await.map_err(|error| error.to_string())?;
    if report.exit_code() != 0 {
        return Err(format!("the services ended with {}", report.exit_code()));
    }
    start_stop_figures().await
}

async fn ready(status: &StatusHandle) {
    loop {
        let changed = status.changed();
        if status.is_ready() {
            return;
        }
        changed.await;
    }
}

/// The median time to render `/metrics`, next to serializing `/status` of the same snapshot.
fn render_figures(status: &StatusHandle) {
    let snapshot = status.snapshot();
    let mut render = Vec::new();
    let mut json = Vec::new();
    let mut with_snapshot = Vec::new();
    let mut bytes = 0;
    for _ in 0..201 {
        let started = Instant::now();
        bytes = std::hint::black_box(servicepack::__private::ops::render_metrics(&snapshot)).len();
        render.push(started.elapsed());
        let started = Instant::now();
        std::hint::black_box(
            serde_json::to_vec(&snapshot)
                .map(|v| v.len())
                .unwrap_or_default(),
        );
        json.push(started.elapsed());
        let started = Instant::now();
        std::hint::black_box(servicepack::__private::ops::render_metrics(
            &status.snapshot(),
        ));
        with_snapshot.push(started.elapsed());
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let render = median(&mut render);
    println!(
        "\n| /metrics for {} services ({bytes} bytes) | median of 201 |\n|---|---:|",
        snapshot.services.len()
    );
    println!(
        "| render from a snapshot | {render:?}{} |",
        if render < Duration::from_millis(1) {
            ""
        } else {
            " MISSED (target < 1 ms)"
        }
    );
    println!(
        "| snapshot + render (what a scrape costs) | {:?} |",
        median(&mut with_snapshot)
    );
    println!(
        "| baseline: serde_json of /status, same snapshot | {:?} |",
        median(&mut json)
    );
}

/// A hyper server with the same builder calls and no routing: the constant body of `/livez`.
async fn minimal_server() -> std::result::Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| error.to_string())?;
    let addr = listener.local_addr().map_err(|error| error.to_string())?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_request: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        br#"{"status":"ok"}"#,
                    ))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Requests per second and the p99 latency `wrk` reports for `url`.
async fn wrk(options: &Options, url: &str) -> std::result::Result<(f64, String), String> {
    let args = vec![
        "-t2".to_owned(),
        format!("-c{}", options.connections),
        format!("-d{}s", options.seconds),
        "--latency".to_owned(),
        url.to_owned(),
    ];
    let output = tokio::task::spawn_blocking(move || Command::new("wrk").args(&args).output())
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| format!("cannot run wrk ({error}): apt-get install -y wrk"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let rate = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p99 = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("99%"))
        .map_or_else(|| "?".to_owned(), |value| value.trim().to_owned());
    if text.contains("Non-2xx") {
        return Err(format!("wrk saw errors on {url}:\n{text}"));
    }
    Ok((rate, p99))
}

/// Flat 10,000: start (until ready) and stop, with and without the endpoint serving,
/// interleaved, 15 times each; medians.
async fn start_stop_figures() -> std::result::Result<(), String> {
    let mut without = (Vec::new(), Vec::new());
    let mut with = (Vec::new(), Vec::new());
    for round in 0..30 {
        let serve = round % 2 == 1;
        let runner = Runner::new()
            .services((0..10_000).map(|i| ServiceDef::new(format!("service-{i:05}"), Idle)));
        let (status, shutdown) = (runner.status(), runner.shutdown_handle());
        let endpoint = if serve {
            Some(
                servicepack::__private::ops::serve(([127, 0, 0, 1], 0).into(), status.clone())
                    .await?,
            )
        } else {
            None
        };
        let started = Instant::now();
        let run = tokio::spawn(runner.run());
        tokio::time::timeout(Duration::from_secs(120), ready(&status))
            .await
            .map_err(|_| "flat 10,000 not ready in 120 s")?;
        let start = started.elapsed();
        let stopping = Instant::now();
        shutdown.request();
        run.await.map_err(|error| error.to_string())?;
        let stop = stopping.elapsed();
        drop(endpoint);
        let side = if serve { &mut with } else { &mut without };
        side.0.push(start);
        side.1.push(stop);
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (a, b) = (median(&mut without.0), median(&mut with.0));
    let (c, d) = (median(&mut without.1), median(&mut with.1));
    println!(
        "\n| flat 10,000 (median of 15) | without endpoint | with endpoint | ratio |\n|---|---:|---:|---:|"
    );
    println!(
        "| start (until ready) | {a:?} | {b:?} | {:.2} |",
        b.as_secs_f64() / a.as_secs_f64()
    );
    println!(
        "| stop | {c:?} | {d:?} | {:.2} |",
        d.as_secs_f64() / c.as_secs_f64()
    );
    Ok(())
}
