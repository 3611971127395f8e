//! The routes and limits in-process: requests written as raw bytes into an in-memory
//! stream (timeouts on tokio's paused clock), the connection cap over loopback TCP.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};

use super::access::Access;
use super::config::Token;
use super::recorder::UserMetrics;
use super::routes::Endpoint;
use super::server::{self, HEAD_TIMEOUT, IDLE_TIMEOUT, MAX_CONNECTIONS};
use crate::State;
use crate::runtime::plan::Plan;
use crate::runtime::status::{Phase, StatusBoard};

const TOKEN: &str = "0123456789abcdef";

/// A board of `db` (counts), `api` (depends on db) and `batch` (an allowed failure
/// outside readiness, depends on db).
fn board() -> Arc<StatusBoard> {
    let plan = Plan::new([("db", vec![]), ("api", vec!["db"]), ("batch", vec!["db"])])
        .expect("a valid plan");
    let board = StatusBoard::new();
    board.plan(
        Arc::new(plan),
        [(false, true), (false, true), (true, false)],
    );
    board
}

fn endpoint(board: &Arc<StatusBoard>, addr: &str, token: Option<&str>) -> Arc<Endpoint> {
    Arc::new(Endpoint {
        status: board.handle(),
        access: Access::new(addr.parse().unwrap(), token.map(Token::new)),
        user: None,
        admin: None,
    })
}

fn local(board: &Arc<StatusBoard>) -> Arc<Endpoint> {
    endpoint(board, "127.0.0.1:9090", None)
}

/// A connection served in a task; the client half is returned.
fn connect(endpoint: &Arc<Endpoint>) -> DuplexStream {
    let (client, served) = tokio::io::duplex(1 << 20);
    tokio::spawn(server::serve_connection(served, Arc::clone(endpoint)));
    client
}

/// Everything the server writes until it closes (bounded by 30 s of tokio time).
async fn read_all(client: &mut DuplexStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), client.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .expect("reads");
    String::from_utf8_lossy(&out).into_owned()
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

fn parse(raw: &str) -> Answer {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// Sends one raw request on a fresh connection and reads the whole answer.
async fn raw(endpoint: &Arc<Endpoint>, request: &[u8]) -> Answer {
    let mut client = connect(endpoint);
    client.write_all(request).await.unwrap();
    parse(&read_all(&mut client).await)
}

async fn get(endpoint: &Arc<Endpoint>, path: &str, extra: &str) -> Answer {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n");
    raw(endpoint, request.as_bytes()).await
}

fn json(answer: &Answer) -> serde_json::Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|error| panic!("{error}: {}", answer.body))
}

#[tokio::test]
async fn livez_answers_ok() {
    let answer = get(&local(&board()), "/livez", "").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
    assert!(
        answer.head.contains("content-type: application/json"),
        "{}",
        answer.head
    );
    let head = raw(
        &local(&board()),
        b"HEAD /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((head.status, head.body.as_str()), (200, ""));
}

#[tokio::test]
async fn readyz_follows_the_app_and_says_draining() {
    let board = board();
    let endpoint = local(&board);
    let answer = get(&endpoint, "/readyz", "").await;
    assert_eq!(answer.status, 503);
    assert_eq!(
        json(&answer),
        serde_json::json!({"status": "not_ready", "reason": "db is pending"})
    );
    board.record(0, |cell| {
        cell.attempt(1).state(State::Starting);
    });
    assert_eq!(
        json(&get(&endpoint, "/readyz", "").await)["reason"],
        "db is starting"
    );
    board.record(0, |cell| {
        cell.state(State::Ready);
    });
    board.record(1, |cell| {
        cell.attempt(1).state(State::Ready);
    });
    let answer = get(&endpoint, "/readyz", "").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, r#"{"status":"ready"}"#)
    );
    board.set_phase(Phase::Draining);
    let answer = get(&endpoint, "/readyz", "").await;
    assert_eq!(answer.status, 503);
    assert_eq!(
        json(&answer),
        serde_json::json!({"status": "not_ready", "reason": "draining"})
    );
}

#[tokio::test]
async fn readyz_of_one_service() {
    let board = board();
    let endpoint = local(&board);
    board.record(0, |cell| {
        cell.attempt(1).state(State::Ready);
    });
    board.record(2, |cell| {
        cell.attempt(1).state(State::Exited);
    });
    assert_eq!(get(&endpoint, "/readyz/db", "").await.status, 200);
    assert_eq!(get(&endpoint, "/readyz/batch", "").await.status, 200);
    let answer = get(&endpoint, "/readyz/api", "").await;
    assert_eq!(
        (answer.status, json(&answer)["reason"].as_str()),
        (503, Some("api is pending"))
    );
    let answer = get(&endpoint, "/readyz/nope", "").await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        json(&answer)["error"],
        "no service named \"nope\" is enabled here"
    );
}

#[tokio::test]
async fn readyz_of_one_service_before_the_plan_is_not_ready_starting() {
    let board = StatusBoard::new();
    let endpoint = local(&board);
    for path in ["/readyz/db", "/readyz/nope"] {
        let answer = get(&endpoint, path, "").await;
        assert_eq!(
            (answer.status, json(&answer)),
            (
                503,
                serde_json::json!({"status": "not_ready", "reason": "starting"})
            ),
            "{path}"
        );
    }
    board.set_phase(Phase::Draining);
    let answer = get(&endpoint, "/readyz/db", "").await;
    assert_eq!(
        (answer.status, json(&answer)["reason"].as_str()),
        (503, Some("draining"))
    );
}

#[tokio::test]
async fn status_is_the_snapshot_as_json() {
    let board = board();
    board.record(1, |cell| {
        cell.attempt(2)
            .failure(1, "connection refused".into())
            .state(State::Retrying)
            .retry_in(Duration::from_secs(2));
    });
    let endpoint = local(&board);
    let answer = get(&endpoint, "/status", "").await;
    assert_eq!(answer.status, 200);
    assert!(answer.head.contains("cache-control: no-store"));
    let mut got = json(&answer);
    let mut want = serde_json::to_value(board.handle().snapshot()).unwrap();
    for value in [&mut got, &mut want] {
        value["uptime_seconds"] = serde_json::Value::Null;
    }
    assert_eq!(got, want);
    let api = &got["services"][1];
    assert_eq!(api["state"], "retrying");
    assert_eq!(api["last_error"]["message"], "connection refused");
    assert!(api["next_attempt_at"].is_string());
}

#[tokio::test]
async fn metrics_carry_every_state_of_every_service() {
    let board = board();
    board.record(0, |cell| {
        cell.attempt(1).state(State::Ready);
    });
    let answer = get(&local(&board), "/metrics", "").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .head
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        answer.head
    );
    for service in ["db", "api", "batch"] {
        for state in State::ALL {
            let line =
                format!("servicepack_service_state{{service=\"{service}\",state=\"{state}\"}} ");
            let value = answer
                .body
                .lines()
                .find_map(|l| l.strip_prefix(line.as_str()));
            let want = if (service, state) == ("db", State::Ready)
                || (service != "db" && state == State::Pending)
            {
                "1"
            } else {
                "0"
            };
            assert_eq!(value, Some(want), "{line}");
        }
    }
    for line in [
        "servicepack_service_ready{service=\"db\"} 1",
        "servicepack_service_attempts_total{service=\"db\"} 1",
        "servicepack_service_failures_total{service=\"api\"} 0",
        "servicepack_service_restarts_total{service=\"db\"} 0",
        "servicepack_app_ready 0",
        "servicepack_build_info{app=\"servicepack\",version=\"\"} 1",
    ] {
        assert!(
            answer.body.lines().any(|l| l == line),
            "{line} in\n{}",
            answer.body
        );
    }
    assert!(
        answer
            .body
            .contains("\nservicepack_app_start_time_seconds 1")
    );
}

#[tokio::test]
async fn user_metrics_follow_the_framework_series() {
    let board = board();
    let user: &'static UserMetrics = Box::leak(Box::default());
    metrics::with_local_recorder(user, || {
        metrics::counter!("jobs_done").increment(2);
        metrics::gauge!("servicepack_app_ready").set(7.0);
    });
    let endpoint = Arc::new(Endpoint {
        status: board.handle(),
        access: Access::new("127.0.0.1:1".parse().unwrap(), None),
        user: Some(user),
        admin: None,
    });
    let body = get(&endpoint, "/metrics", "").await.body;
    let framework = body.find("servicepack_build_info{").unwrap();
    let own = body
        .find("\njobs_done_total 2\n")
        .expect("the user counter");
    assert!(framework < own, "{body}");
    assert_eq!(
        body.lines()
            .filter(|line| line.starts_with("servicepack_app_ready "))
            .count(),
        1,
        "no user shadowing: {body}"
    );
}

#[tokio::test]
async fn the_page_lists_every_service_and_escapes_errors() {
    let board = board();
    board.record(1, |cell| {
        cell.attempt(1)
            .failure(1, "<script>alert('x')</script> & \"more\"".into())
            .state(State::Failed);
    });
    let answer = get(&local(&board), "/", "").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .head
            .contains("content-type: text/html; charset=utf-8")
    );
    let html = &answer.body;
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;")
    );
    assert_eq!(html.matches("<tr class=\"service ").count(), 3);
    assert_eq!(html.matches("<g class=\"node ").count(), 3);
    assert!(html.contains("<tr class=\"service state-failed\" data-service=\"api\">"));
    assert_eq!(html.matches("<line ").count(), 2);
    assert!(html.contains("http-equiv=\"refresh\""));
    assert!(
        !html.contains("http://") || html.matches("http://").count() == 1,
        "only the SVG namespace"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let endpoint = local(&board());
    for path in ["/nope", "/readyz/", "/readyz/a/b", "/status/x"] {
        let answer = get(&endpoint, path, "").await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(
            json(&answer)["error"]
                .as_str()
                .unwrap()
                .starts_with("not found"),
            "{path}"
        );
    }
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let request = format!(
            "{method} /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let answer = raw(&endpoint, request.as_bytes()).await;
        assert_eq!(answer.status, 405, "{method}");
        assert!(answer.head.contains("allow: get, head"));
        assert!(json(&answer)["error"].is_string());
    }
}

#[tokio::test]
async fn non_loopback_needs_a_token_and_the_bearer() {
    let board = board();
    let open = endpoint(&board, "0.0.0.0:9090", None);
    for path in ["/status", "/"] {
        let answer = get(&open, path, "").await;
        assert_eq!(answer.status, 403);
        assert_eq!(
            answer.body,
            r#"{"error":"set OPS_TOKEN to serve /status on a non-loopback address"}"#
        );
    }
    for path in ["/livez", "/readyz/db", "/metrics"] {
        assert_ne!(get(&open, path, "").await.status, 403, "{path} is open");
    }
    let guarded = endpoint(&board, "0.0.0.0:9090", Some(TOKEN));
    for path in ["/status", "/"] {
        let answer = get(&guarded, path, "").await;
        assert_eq!(answer.status, 401);
        assert!(answer.head.contains("www-authenticate: bearer"));
        assert_eq!(
            get(&guarded, path, "Authorization: Bearer wrong-token-0000\r\n")
                .await
                .status,
            401
        );
        let right = format!("Authorization: Bearer {TOKEN}\r\n");
        assert_eq!(get(&guarded, path, &right).await.status, 200, "{path}");
    }
    let loopback = endpoint(&board, "[::1]:9090", Some(TOKEN));
    assert_eq!(get(&loopback, "/status", "").await.status, 200);
}

#[tokio::test]
async fn oversized_heads_and_bodies_are_refused() {
    let endpoint = local(&board());
    let big = "a".repeat(20 * 1024);
    let refused = get(&endpoint, "/livez", &format!("X-Big: {big}\r\n")).await;
    assert_eq!(refused.status, 431);
    assert_eq!(
        json(&refused)["error"],
        "the request head is larger than 16384 bytes"
    );
    let huge = "a".repeat(64 * 1024);
    assert_eq!(
        get(&endpoint, "/livez", &format!("X-Big: {huge}\r\n"))
            .await
            .status,
        431
    );
    let just_fits = "a".repeat(15 * 1024);
    assert_eq!(
        get(&endpoint, "/livez", &format!("X-Big: {just_fits}\r\n"))
            .await
            .status,
        200
    );
    let declared = raw(
        &endpoint,
        b"GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n",
    )
    .await;
    assert_eq!(declared.status, 413);
    assert_eq!(
        json(&declared)["error"],
        "the request body is larger than 65536 bytes"
    );
    let mut chunked =
        b"GET /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..5 {
        chunked.extend_from_slice(b"4000\r\n");
        chunked.extend(std::iter::repeat_n(b'x', 0x4000));
        chunked.extend_from_slice(b"\r\n");
    }
    assert_eq!(raw(&endpoint, &chunked).await.status, 413);
    let small = raw(
        &endpoint,
        b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    assert_eq!(small.status, 200);
}

#[tokio::test]
async fn malformed_requests_get_400() {
    let endpoint = local(&board());
    for request in [
        &b"HELLO\r\n\r\n"[..],
        b"GET /livez HTTP/1.1\r\nHost x\r\n\r\n",
        b"GET /livez HTTP/9.9\r\n\r\n",
        b"GET /livez HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
    ] {
        let answer = raw(&endpoint, request).await;
        let text = String::from_utf8_lossy(request);
        assert_eq!(answer.status, 400, "{text}");
        assert_eq!(
            json(&answer)["error"],
            "the request is not valid HTTP/1.1",
            "{text}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_head_is_dropped_after_five_seconds() {
    let endpoint = local(&board());
    let mut client = connect(&endpoint);
    let started = tokio::time::Instant::now();
    client
        .write_all(b"GET /livez HTTP/1.1\r\nHost:")
        .await
        .unwrap();
    // Trickle a byte a second: never a whole head.
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if client.write_all(b"x").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), trickle).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= HEAD_TIMEOUT && elapsed < HEAD_TIMEOUT + Duration::from_secs(2),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_after_ten_seconds() {
    let endpoint = local(&board());
    let mut client = connect(&endpoint);
    for _ in 0..3 {
        client
            .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0; 4096];
        let read = client.read(&mut buf).await.unwrap();
        assert!(buf[..read].starts_with(b"HTTP/1.1 200 OK"));
        // Idle, but not long enough to be closed.
        tokio::time::sleep(IDLE_TIMEOUT.saturating_sub(Duration::from_secs(1))).await;
    }
    let started = tokio::time::Instant::now();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    let elapsed = started.elapsed();
    assert!(
        elapsed <= Duration::from_secs(2),
        "closed {elapsed:?} after the last wait"
    );
}

#[tokio::test]
async fn connections_past_the_cap_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(server::accept(listener, local(&board())));
    let mut open = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        // A request answered proves the connection holds a slot.
        stream
            .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0; 1024];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(buf[..read].starts_with(b"HTTP/1.1 200"));
        open.push(stream);
    }
    let mut refused = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = refused
        .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = [0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), refused.read(&mut buf))
        .await
        .expect("closed at once");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the 257th connection was served"
    );
    drop(open.pop());
    // The freed slot takes a new connection (the server notices the close first).
    let served = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let _ = stream
                .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await;
            let mut out = Vec::new();
            let _ = stream.read_to_end(&mut out).await;
            if out.starts_with(b"HTTP/1.1 200") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    served
        .await
        .expect("a slot frees up when a connection closes");
    task.abort();
}

mod admin;
mod fuzz;
