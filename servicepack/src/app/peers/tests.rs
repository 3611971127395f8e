//! The variables, and the poller on the paused clock against a hyper server on loopback
//! that runs on the test's own runtime (so the paused clock moves only when both sides
//! wait: every poll takes no time, and the backoff is exact).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use super::poll::{Pace, until_ready};
use super::*;

fn parse(vars: &[(&str, &str)]) -> (PeersConfig, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let config = from_lookup(
        |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        },
        &mut errors,
    );
    (config, errors)
}

fn url(authority: &str, prefix: &str) -> PeerUrl {
    PeerUrl {
        authority: authority.to_owned(),
        prefix: prefix.to_owned(),
    }
}

#[test]
fn unset_means_no_peers_and_no_limit() {
    assert_eq!(parse(&[]), (PeersConfig::default(), Vec::new()));
}

#[test]
fn peers_and_timeout_parse() {
    let (config, errors) = parse(&[
        (
            SERVICES_PEERS,
            " example-database=http://db:9100, ,example-flaky = http://[::1]:9101/ops/ ",
        ),
        (RUNNER_PEERTIMEOUT, "1m30s"),
    ]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        config.peers,
        [
            Peer {
                name: "example-database".into(),
                url: url("db:9100", ""),
            },
            Peer {
                name: "example-flaky".into(),
                url: url("[::1]:9101", "/ops"),
            },
        ]
    );
    assert_eq!(config.peers[1].url.to_string(), "http://[::1]:9101/ops");
    assert_eq!(config.timeout, Duration::from_secs(90));
}

#[test]
fn a_name_given_twice_keeps_the_last_url() {
    let (config, _) = parse(&[(SERVICES_PEERS, "db=http://a:1,db=http://b:2")]);
    assert_eq!(
        config.peers,
        [Peer {
            name: "db".into(),
            url: url("b:2", "")
        }]
    );
}

#[test]
fn bad_urls_name_the_variable_the_peer_and_the_form() {
    for (value, why) in [
        ("db", "has no `=`"),
        ("=http://db:9100", "has no service name"),
        ("db=db:9100", "does not start with http://"),
        ("db=https://db:9100", "uses https"),
        ("db=http://db", "has no HOST:PORT"),
        ("db=http://:9100", "has no HOST:PORT"),
        ("db=http://db:http", "has no valid port"),
        ("db=http://db:0", "has no valid port"),
        ("db=http://db:9100?x=1", "has a query"),
        ("db=http://::1:9100", "has no HOST:PORT"),
    ] {
        let (config, errors) = parse(&[(SERVICES_PEERS, value)]);
        assert_eq!(errors.len(), 1, "{value}: {errors:?}");
        let text = errors[0].to_string();
        assert!(
            text.starts_with(&format!("invalid SERVICES_PEERS={value:?}: ")),
            "{text}"
        );
        assert!(text.contains(why), "{value}: {text}");
        assert!(text.contains("http://"), "{value}: says the form: {text}");
        assert!(config.peers.is_empty());
    }
}

#[test]
fn a_bad_timeout_names_the_expected_form() {
    let (_, errors) = parse(&[(RUNNER_PEERTIMEOUT, "soon")]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].variable, RUNNER_PEERTIMEOUT);
    assert!(
        errors[0].to_string().contains("\"0s\" for no limit"),
        "{}",
        errors[0]
    );
}

#[test]
fn peers_must_be_registered_services() {
    let (config, _) = parse(&[(SERVICES_PEERS, "db=http://db:9100,nope=http://x:1")]);
    assert!(config.check_registered(&["db", "nope"]).is_ok());
    let error = config.check_registered(&["api", "db"]).unwrap_err();
    assert_eq!(error.variable, SERVICES_PEERS);
    assert_eq!(
        error.to_string(),
        "invalid SERVICES_PEERS=\"db=http://db:9100,nope=http://x:1\": no service named \"nope\" is registered; name registered services (registered services: api, db) with the URL of the app that runs them"
    );
}

/// What the fake peer answers, and when each poll came.
struct Peer2 {
    authority: String,
    /// The status of the next answers.
    status: Arc<AtomicU16>,
    polls: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Peer2 {
    fn polls(&self) -> Vec<(Instant, String)> {
        self.polls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A fake ops endpoint on this runtime: every `GET` answers the current status with
/// `{"status":"not_ready","reason":"example-database is starting"}`.
async fn serve(status: StatusCode) -> Peer2 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let code = Arc::new(AtomicU16::new(status.as_u16()));
    let polls = Arc::new(Mutex::new(Vec::new()));
    let (shared_code, shared_polls) = (Arc::clone(&code), Arc::clone(&polls));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (code, polls) = (Arc::clone(&shared_code), Arc::clone(&shared_polls));
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    polls
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((Instant::now(), request.uri().path().to_owned()));
                    let status = StatusCode::from_u16(code.load(Ordering::SeqCst)).unwrap();
                    let body = r#"{"status":"not_ready","reason":"example-database is starting"}"#;
                    async move {
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(body)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Peer2 {
        authority,
        status: code,
        polls,
    }
}

/// Log lines written while `future` runs, as text without times or colours.
async fn logged<T>(future: impl Future<Output = T>) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let output = future.await;
    let text = String::from_utf8_lossy(&buffer.0.lock().unwrap_or_else(PoisonError::into_inner))
        .into_owned();
    (output, text)
}

#[tokio::test(start_paused = true)]
async fn polls_back_off_from_100_ms_to_5_s_until_the_peer_answers_200() {
    let peer = serve(StatusCode::SERVICE_UNAVAILABLE).await;
    let start = Instant::now();
    let waiter = tokio::spawn(until_ready(
        "example-database".into(),
        url(&peer.authority, ""),
        Pace::default(),
    ));
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!waiter.is_finished());
    peer.status.store(200, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("ready within one backoff step")
        .unwrap()
        .unwrap();
    let polls = peer.polls();
    assert!(
        polls
            .iter()
            .all(|(_, path)| path == "/readyz/example-database"),
        "{polls:?}"
    );
    let at: Vec<u128> = polls
        .iter()
        .map(|(at, _)| (*at - start).as_millis())
        .collect();
    // 100, 200, 400, 800, 1600, 3200 ms, then 5 s each.
    assert_eq!(
        at,
        [0, 100, 300, 700, 1500, 3100, 6300, 11_300, 16_300, 21_300]
    );
}

#[tokio::test(start_paused = true)]
async fn a_warn_every_30_s_names_the_peer_its_url_and_what_it_answered() {
    let peer = serve(StatusCode::SERVICE_UNAVAILABLE).await;
    let target = url(&peer.authority, "");
    let waiting = until_ready("example-database".into(), target.clone(), Pace::default());
    let (outcome, text) = logged(tokio::time::timeout(Duration::from_secs(95), waiting)).await;
    assert!(outcome.is_err(), "never ready");
    let warns: Vec<&str> = text.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warns.len(), 3, "{text}");
    for (line, waited) in warns.iter().zip(["30s", "1m0s", "1m30s"]) {
        assert!(line.contains("still waiting for peer"), "{line}");
        assert!(line.contains("peer=\"example-database\""), "{line}");
        assert!(
            line.contains(&format!("url=http://{}", peer.authority)),
            "{line}"
        );
        assert!(line.contains(&format!("waited={waited} ")), "{line}");
        assert!(
            line.contains("last=\"not ready: example-database is starting\""),
            "{line}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn nothing_listening_is_not_ready_yet_and_says_so() {
    let authority = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let waiting = until_ready(
        "example-database".into(),
        url(&authority, ""),
        Pace::default(),
    );
    let (outcome, text) = logged(tokio::time::timeout(Duration::from_secs(31), waiting)).await;
    assert!(outcome.is_err());
    let warn = text
        .lines()
        .find(|line| line.contains("WARN"))
        .expect(&text);
    assert!(warn.contains("last=\"cannot connect: "), "{warn}");
}

#[tokio::test(start_paused = true)]
async fn a_404_is_described_and_a_prefix_is_kept() {
    let peer = serve(StatusCode::NOT_FOUND).await;
    let waiting = until_ready(
        "example-database".into(),
        url(&peer.authority, "/ops"),
        Pace::default(),
    );
    let (outcome, text) = logged(tokio::time::timeout(Duration::from_secs(31), waiting)).await;
    assert!(outcome.is_err());
    assert!(
        text.contains("last=\"the app there does not run it (404)\""),
        "{text}"
    );
    assert_eq!(peer.polls()[0].1, "/ops/readyz/example-database");
}
