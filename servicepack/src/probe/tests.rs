//! The clients against a real hyper server on loopback that answers the routes of §6.1
//! from a [`StatusBoard`], as the ops endpoint does; and against addresses where nothing
//! listens or nothing answers.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::AUTHORIZATION;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::ask::*;
use crate::State;
use crate::runtime::plan::Plan;
use crate::runtime::status::{AppIdentity, Phase, StatusBoard};

const WAIT: Duration = Duration::from_secs(30);

/// A server on its own thread and runtime; stopped on drop.
struct Server {
    addr: SocketAddr,
    /// The paths asked, as they arrived.
    paths: Arc<Mutex<Vec<String>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Server {
    fn addr(&self) -> String {
        self.addr.to_string()
    }

    fn paths(&self) -> Vec<String> {
        self.paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// How the test server answers.
#[derive(Clone, Copy)]
enum Mode {
    /// The routes of §6.1; `/status` needs this bearer when set.
    Ops(Option<&'static str>),
    /// Accepts and reads, never answers.
    Silent,
    /// Answers everything `500` with a page of HTML.
    NotOurs,
    /// Answers `/status` with a body larger than a client reads.
    Huge,
}

fn serve(board: &Arc<StatusBoard>, mode: Mode) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let paths = Arc::new(Mutex::new(Vec::new()));
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::spawn({
        let board = Arc::clone(board);
        let paths = Arc::clone(&paths);
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::pin!(stopped);
                loop {
                    let (stream, _) = tokio::select! {
                        accepted = listener.accept() => accepted.unwrap(),
                        _ = &mut stopped => return,
                    };
                    let (board, paths) = (Arc::clone(&board), Arc::clone(&paths));
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let (board, paths) = (Arc::clone(&board), Arc::clone(&paths));
                            async move { Ok::<_, Infallible>(answer(&board, mode, &paths, &request)) }
                        });
                        if matches!(mode, Mode::Silent) {
                            // Holds the connection open until the server stops.
                            tokio::time::sleep(WAIT).await;
                            drop(stream);
                            return;
                        }
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        }
    });
    Server {
        addr,
        paths,
        stop: Some(stop),
        thread: Some(thread),
    }
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn answer(
    board: &Arc<StatusBoard>,
    mode: Mode,
    paths: &Mutex<Vec<String>>,
    request: &Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    paths
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(path.clone());
    let token = match mode {
        Mode::Ops(token) => token,
        Mode::Huge => {
            return Response::new(Full::new(Bytes::from(vec![b' '; 17 * 1024 * 1024])));
        }
        Mode::NotOurs | Mode::Silent => {
            return Response::builder()
                .status(500)
                .body(Full::new(Bytes::from(
                    "<html><h1>Internal Server Error</h1></html>",
                )))
                .unwrap();
        }
    };
    let snapshot = board.handle().snapshot();
    let readiness = |ready: bool, reason: Option<String>| {
        if ready {
            json(StatusCode::OK, &serde_json::json!({"status": "ready"}))
        } else {
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"status": "not_ready", "reason": reason}),
            )
        }
    };
    if path == "/readyz" {
        return readiness(snapshot.ready, snapshot.not_ready_reason());
    }
    if let Some(name) = path.strip_prefix("/readyz/") {
        let name = name.replace("%20", " ");
        return match snapshot.service(&name) {
            Some(service) => readiness(
                service.ready,
                Some(format!("{} is {}", service.name, service.state)),
            ),
            None => json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": format!("no service named {name:?} is enabled")}),
            ),
        };
    }
    if path == "/status" {
        if let Some(token) = token {
            let bearer = format!("Bearer {token}");
            if request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                != Some(&bearer)
            {
                return json(
                    StatusCode::UNAUTHORIZED,
                    &serde_json::json!({"error": "unauthorized"}),
                );
            }
        }
        return json(StatusCode::OK, &serde_json::to_value(&snapshot).unwrap());
    }
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "not found"}),
    )
}

fn showcase() -> Arc<StatusBoard> {
    let board = StatusBoard::new();
    board.set_info(AppIdentity::new("showcase", "0.1.0", "prod"));
    let plan = Plan::new([
        ("example-database", vec![]),
        ("example-api", vec!["example-database"]),
    ])
    .unwrap();
    board.plan(Arc::new(plan), [(false, true), (false, true)]);
    board
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn health_at(server: &Server, service: Option<&str>) -> Outcome {
    health_outcome(Some(&server.addr()), service, no_env, WAIT)
}

#[test]
fn no_address_is_a_usage_error_naming_both_ways_to_give_one() {
    for outcome in [
        health_outcome(None, None, no_env, WAIT),
        status_outcome(
            None,
            false,
            |name| (name == "OPS_ADDR").then(String::new),
            WAIT,
        ),
    ] {
        assert_eq!(outcome.code, 2);
        let reason = outcome.reason.unwrap();
        assert!(
            reason.contains("--addr") && reason.contains("OPS_ADDR"),
            "{reason}"
        );
    }
}

#[test]
fn addresses_are_host_and_port() {
    let env = |addr: &'static str| move |name: &str| (name == "OPS_ADDR").then(|| addr.to_owned());
    assert_eq!(
        target(None, env("127.0.0.1:9090")).unwrap(),
        "127.0.0.1:9090"
    );
    assert_eq!(
        target(Some("[::1]:9090"), env("127.0.0.1:1")).unwrap(),
        "[::1]:9090"
    );
    assert_eq!(
        target(Some(" http://localhost:9090/ "), no_env).unwrap(),
        "localhost:9090"
    );
    for bad in [
        "9090",
        ":9090",
        "localhost",
        "127.0.0.1:http",
        "127.0.0.1:70000",
        "https://x:1",
    ] {
        let error = target(Some(bad), no_env).unwrap_err();
        assert!(error.contains("expected HOST:PORT"), "{bad}: {error}");
    }
    let error = target(None, env("0.0.0.0:0")).unwrap_err();
    assert!(
        error.contains("OPS_ADDR=\"0.0.0.0:0\"") && error.contains("port 0"),
        "{error}"
    );
}

#[test]
fn health_follows_readyz() {
    let board = showcase();
    let server = serve(&board, Mode::Ops(None));
    let outcome = health_at(&server, None);
    assert_eq!(
        (outcome.code, outcome.reason.as_deref()),
        (1, Some("the app is not ready: example-database is pending"))
    );
    board.record(0, |cell| {
        cell.attempt(1).state(State::Ready);
    });
    assert_eq!(health_at(&server, Some("example-database")).code, 0);
    let outcome = health_at(&server, Some("example-api"));
    assert_eq!(
        outcome.reason.as_deref(),
        Some("service example-api is not ready: example-api is pending")
    );
    board.record(1, |cell| {
        cell.attempt(1).state(State::Ready);
    });
    assert_eq!(
        health_at(&server, None),
        Outcome {
            stdout: "the app is ready\n".to_owned(),
            code: 0,
            reason: None
        }
    );
    board.set_phase(Phase::Draining);
    assert_eq!(
        health_at(&server, None).reason.as_deref(),
        Some("the app is not ready: draining")
    );
    assert_eq!(
        server.paths()[..3],
        ["/readyz", "/readyz/example-database", "/readyz/example-api"]
    );
}

#[test]
fn health_of_an_unknown_service_is_not_ready_and_names_it() {
    let server = serve(&showcase(), Mode::Ops(None));
    let outcome = health_at(&server, Some("no such"));
    assert_eq!(outcome.code, 1);
    assert!(
        outcome
            .reason
            .unwrap()
            .contains("service no such is not enabled")
    );
    assert_eq!(server.paths(), ["/readyz/no%20such"]);
    assert_eq!(health_at(&server, Some(" ")).code, 2);
}

#[test]
fn status_prints_a_table_with_every_column() {
    let board = showcase();
    board.record(0, |cell| {
        cell.attempt(1).state(State::Ready);
    });
    board.record(1, |cell| {
        cell.attempt(2)
            .failure(1, "connect: refused\n\u{1b}[2Jgotcha".to_owned())
            .state(State::Retrying)
            .retry_in(Duration::from_secs(2));
    });
    let server = serve(&board, Mode::Ops(None));
    let outcome = status_outcome(Some(&server.addr()), false, no_env, WAIT);
    assert_eq!(outcome.code, 1, "not ready: {outcome:?}");
    assert_eq!(
        outcome.reason.as_deref(),
        Some("the app is not ready: example-api is retrying")
    );
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "showcase 0.1.0 (prod), pid {}: starting, up ",
            std::process::id()
        )),
        "{}",
        outcome.stdout
    );
    let columns: Vec<&str> = lines[1]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns,
        [
            "NAME",
            "STATE",
            "READY",
            "ATTEMPT",
            "RESTARTS",
            "SINCE",
            "LAST ERROR"
        ]
    );
    let database: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        database[..5],
        ["example-database", "ready", "yes", "1", "0"]
    );
    assert!(
        database[5].ends_with('Z') && database[5].len() == 24,
        "{}",
        lines[2]
    );
    assert_eq!(database[6], "-");
    assert!(lines[3].starts_with("example-api"), "{}", lines[3]);
    assert!(lines[3].contains("retrying (next at "), "{}", lines[3]);
    assert!(
        lines[3].ends_with("attempt 1: connect: refused\\n\\u{1b}[2Jgotcha"),
        "control characters are escaped: {}",
        lines[3]
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn status_json_is_the_status_itself_and_the_exit_says_ready() {
    let board = showcase();
    for node in 0..2 {
        board.record(node, |cell| {
            cell.attempt(1).state(State::Ready);
        });
    }
    let server = serve(&board, Mode::Ops(None));
    let outcome = status_outcome(Some(&server.addr()), true, no_env, WAIT);
    assert_eq!((outcome.code, outcome.reason), (0, None));
    let printed: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let mut expected = serde_json::to_value(board.handle().snapshot()).unwrap();
    expected["uptime_seconds"] = printed["uptime_seconds"].clone();
    assert_eq!(printed, expected);
    assert!(outcome.stdout.ends_with('\n'));
}

#[test]
fn status_sends_ops_token_as_the_bearer() {
    let board = showcase();
    let server = serve(&board, Mode::Ops(Some("0123456789abcdef")));
    let outcome = status_outcome(Some(&server.addr()), true, no_env, WAIT);
    assert_eq!(outcome.code, 1);
    assert!(outcome.reason.unwrap().contains("(401): set OPS_TOKEN"));
    let wrong = |name: &str| (name == "OPS_TOKEN").then(|| "fedcba9876543210".to_owned());
    let outcome = status_outcome(Some(&server.addr()), true, wrong, WAIT);
    assert!(outcome.reason.unwrap().contains("is not the app's"));
    let right = |name: &str| (name == "OPS_TOKEN").then(|| "0123456789abcdef".to_owned());
    let outcome = status_outcome(Some(&server.addr()), true, right, WAIT);
    assert!(
        outcome.stdout.contains("\"example-database\""),
        "{outcome:?}"
    );
}

#[test]
fn an_address_where_nothing_listens_is_unreachable() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    for outcome in [
        health_outcome(Some(&addr), None, no_env, WAIT),
        status_outcome(Some(&addr), false, no_env, WAIT),
    ] {
        assert_eq!(outcome.code, 1);
        let reason = outcome.reason.unwrap();
        assert!(
            reason.starts_with(&format!("cannot reach the app at {addr}: cannot connect")),
            "{reason}"
        );
        assert!(outcome.stdout.is_empty());
    }
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = serve(&showcase(), Mode::Silent);
    let outcome = health_outcome(
        Some(&server.addr()),
        None,
        no_env,
        Duration::from_millis(300),
    );
    assert_eq!(outcome.code, 1);
    assert_eq!(
        outcome.reason.unwrap(),
        format!(
            "no answer from the app at {} for /readyz: no complete answer within 300ms",
            server.addr()
        )
    );
}

#[test]
fn something_else_at_the_address_is_not_ready() {
    let server = serve(&showcase(), Mode::NotOurs);
    for outcome in [
        health_at(&server, None),
        status_outcome(Some(&server.addr()), false, no_env, WAIT),
    ] {
        assert_eq!(outcome.code, 1);
        let reason = outcome.reason.unwrap();
        assert!(
            reason.contains("answered 500 Internal Server Error"),
            "{reason}"
        );
        assert!(reason.contains("<html>"), "{reason}");
    }
}

#[test]
fn a_body_past_the_limit_is_refused_not_read_whole() {
    let server = serve(&showcase(), Mode::Huge);
    let outcome = status_outcome(Some(&server.addr()), true, no_env, WAIT);
    assert_eq!(outcome.code, 1);
    let reason = outcome.reason.unwrap();
    assert!(
        reason.contains("reading the body: length limit exceeded"),
        "{reason}"
    );
    assert!(outcome.stdout.is_empty());
}
