//! One HTTP/1.1 `GET` to a running app's ops endpoint, with hyper's client over a
//! `TcpStream`: a fresh connection per request, a deadline over the whole exchange
//! (resolve, connect, request, body), a cap on the body.

use std::fmt;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The deadline of a probe: connect, send, and read the whole answer.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// The largest body read (a `/status` of 1,000 services is about 300 KiB).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// What the endpoint answered.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: StatusCode,
    /// The whole body.
    pub(crate) body: Bytes,
}

/// Why there is no answer.
#[derive(Debug)]
pub(crate) enum ProbeError {
    /// Nothing accepted the connection (refused, unresolvable, unroutable).
    Connect(std::io::Error),
    /// No complete answer within the deadline.
    Timeout(Duration),
    /// The connection broke, or what came back is not HTTP/1.1.
    Http(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(error) => write!(f, "cannot connect: {error}"),
            Self::Timeout(timeout) => write!(
                f,
                "no complete answer within {}",
                crate::format_duration(*timeout)
            ),
            Self::Http(error) => write!(f, "the exchange failed: {error}"),
        }
    }
}

/// `GET path` at `addr` (`host:port`), with `Authorization: Bearer token` when given.
///
/// # Errors
///
/// See [`ProbeError`].
pub(crate) async fn get(
    addr: &str,
    path: &str,
    token: Option<&str>,
    timeout: Duration,
) -> Result<Answer, ProbeError> {
    send(Method::GET, addr, path, token, Bytes::new(), timeout).await
}

/// `method path` at `addr` with `body` (JSON when not empty), with `Authorization:
/// Bearer token` when given, within `timeout`.
///
/// # Errors
///
/// See [`ProbeError`].
pub(crate) async fn send(
    method: Method,
    addr: &str,
    path: &str,
    token: Option<&str>,
    body: Bytes,
    timeout: Duration,
) -> Result<Answer, ProbeError> {
    tokio::time::timeout(timeout, exchange(method, addr, path, token, body))
        .await
        .unwrap_or(Err(ProbeError::Timeout(timeout)))
}

async fn exchange(
    method: Method,
    addr: &str,
    path: &str,
    token: Option<&str>,
    body: Bytes,
) -> Result<Answer, ProbeError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(ProbeError::Connect)?;
    // Small requests: do not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| ProbeError::Http(error.to_string()))?;
    let driving = tokio::spawn(connection);

    let http = |error: hyper::http::Error| ProbeError::Http(error.to_string());
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr)
        .header(
            USER_AGENT,
            concat!("servicepack/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(http)?;
    if let Some(token) = token {
        let mut value = HeaderValue::try_from(format!("Bearer {token}"))
            .map_err(|_| ProbeError::Http("OPS_TOKEN is not a valid header value".to_owned()))?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| ProbeError::Http(error.to_string()))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|error| ProbeError::Http(format!("reading the body: {error}")))?
        .to_bytes();
    drop(sender);
    driving.abort();
    Ok(Answer { status, body })
}
