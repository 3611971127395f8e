//! The routes of SPEC §6.1, as one function from a request to a response: no state of its
//! own beyond the [`Endpoint`], so the tests drive it over any byte stream.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Body;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::access::{self, Access, Verdict};
use super::recorder::UserMetrics;
use super::{metrics, page};
use crate::{AppState, StatusHandle};

/// The largest request body read (`413` past it).
pub(crate) const MAX_BODY: u64 = 64 * 1024;
/// How long a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// What every connection of one endpoint shares.
pub(crate) struct Endpoint {
    pub(crate) status: StatusHandle,
    pub(crate) access: Access,
    pub(crate) user: Option<&'static UserMetrics>,
    /// The control routes (SPEC §8), only with `OPS_TOKEN` set.
    pub(crate) admin: Option<std::sync::Arc<super::admin::Admin>>,
}

impl Endpoint {
    /// How long one answer may take: [`ANSWER_TIMEOUT`](super::server::ANSWER_TIMEOUT), or
    /// a dispatched command's timeout and 5 s more.
    pub(crate) fn answer_timeout(&self) -> Duration {
        let command = self.admin.as_ref().map_or(Duration::ZERO, |admin| {
            admin.command_timeout.saturating_add(Duration::from_secs(5))
        });
        super::server::ANSWER_TIMEOUT.max(command)
    }
}

/// The body of every response.
pub(crate) type ResponseBody = Full<Bytes>;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const ROUTES: &str = "/livez, /readyz, /readyz/{service}, /status, /metrics and /";

/// Answers one request. Never panics and never fails: every problem is a status code.
pub(crate) async fn handle<B>(endpoint: &Endpoint, request: Request<B>) -> Response<ResponseBody>
where
    B: Body,
{
    let (parts, body) = request.into_parts();
    let body = match read_body(&parts.headers, body).await {
        Ok(body) => body,
        Err(refusal) => return *refusal,
    };
    let path = parts.uri.path();
    if let (Some(rest), Some(admin)) = (path.strip_prefix("/admin/"), &endpoint.admin) {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        return super::admin::handle(admin, &parts.method, authorization, rest, body).await;
    }
    let route = match path {
        "/livez" => Route::Livez,
        "/readyz" => Route::Readyz,
        "/status" => Route::Status,
        "/metrics" => Route::Metrics,
        "/" => Route::Page,
        _ => match path.strip_prefix("/readyz/") {
            Some(name) if !name.is_empty() && !name.contains('/') => Route::ReadyzService(name),
            _ => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("not found; the routes are {ROUTES}"),
                );
            }
        },
    };
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed; this route answers GET and HEAD",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match route {
        Route::Livez => json(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#)),
        Route::Readyz => readyz(&endpoint.status),
        Route::ReadyzService(name) => readyz_service(&endpoint.status, name),
        Route::Metrics => {
            let mut text = metrics::render(&endpoint.status.snapshot(), endpoint.user);
            if let Some(admin) = &endpoint.admin {
                super::admin::render_metrics(&mut text, admin);
            }
            let mut response = Response::new(Full::new(Bytes::from(text)));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(metrics::CONTENT_TYPE),
            );
            response
        }
        Route::Status | Route::Page => match protected(&endpoint.access, authorization) {
            Some(refusal) => refusal,
            None if matches!(route, Route::Status) => {
                let body = serde_json::to_vec(&endpoint.status.snapshot())
                    .unwrap_or_else(|_| br#"{"error":"the status did not serialize"}"#.to_vec());
                no_store(json(StatusCode::OK, Bytes::from(body)))
            }
            None => {
                let html = page::render(&endpoint.status.snapshot());
                let mut response = Response::new(Full::new(Bytes::from(html)));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                no_store(response)
            }
        },
    }
}

#[derive(Clone, Copy)]
enum Route<'a> {
    Livez,
    Readyz,
    ReadyzService(&'a str),
    Status,
    Metrics,
    Page,
}

fn readyz(status: &StatusHandle) -> Response<ResponseBody> {
    let reason = match status.app_state() {
        AppState::Ready => {
            return json(StatusCode::OK, Bytes::from_static(br#"{"status":"ready"}"#));
        }
        AppState::Draining => "draining".to_owned(),
        _ => status
            .snapshot()
            .not_ready_reason()
            .unwrap_or_else(|| "starting".to_owned()),
    };
    not_ready(&reason)
}

fn readyz_service(status: &StatusHandle, name: &str) -> Response<ResponseBody> {
    // Before the runner has planned the services (during the pre-run hooks) no name is
    // known yet: `/readyz`'s answer (never ready before the plan), rather than a 404
    // saying that an enabled service is not enabled. Looked at before the snapshot is
    // taken, so a plan made in between is in it.
    if !status.is_planned() {
        return readyz(status);
    }
    let snapshot = status.snapshot();
    match snapshot.service(name) {
        Some(service) if service.ready => {
            json(StatusCode::OK, Bytes::from_static(br#"{"status":"ready"}"#))
        }
        Some(service) => not_ready(&format!("{} is {}", service.name, service.state)),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("no service named {} is enabled here", quoted(name)),
        ),
    }
}

fn not_ready(reason: &str) -> Response<ResponseBody> {
    // Written by hand to keep SPEC's key order: `status` first.
    let reason = serde_json::Value::from(reason);
    let body = format!(r#"{{"status":"not_ready","reason":{reason}}}"#);
    json(StatusCode::SERVICE_UNAVAILABLE, Bytes::from(body))
}

fn protected(access: &Access, authorization: Option<&[u8]>) -> Option<Response<ResponseBody>> {
    match access.protected(authorization) {
        Verdict::Allow => None,
        Verdict::Forbidden => Some(json(
            StatusCode::FORBIDDEN,
            Bytes::from_static(access::FORBIDDEN.as_bytes()),
        )),
        Verdict::Unauthorized => {
            let mut response = json(
                StatusCode::UNAUTHORIZED,
                Bytes::from_static(access::UNAUTHORIZED.as_bytes()),
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Some(response)
        }
    }
}

/// Reads the body, at most [`MAX_BODY`] bytes within [`BODY_TIMEOUT`]; the refusal to
/// send when it is too large, too slow or broken.
async fn read_body<B: Body>(
    headers: &hyper::HeaderMap,
    body: B,
) -> Result<Bytes, Box<Response<ResponseBody>>> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY) {
        return Err(Box::new(too_large()));
    }
    if body.is_end_stream() {
        // The usual GET: nothing to read, no timer to set.
        return Ok(Bytes::new());
    }
    let read = async {
        let mut body = std::pin::pin!(body);
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Err(Box::new(closing(error(
                    StatusCode::BAD_REQUEST,
                    "the request body is malformed",
                ))));
            };
            if let Some(data) = frame.data_ref() {
                let chunk = bytes::Buf::chunk(data);
                if u64::try_from(kept.len() + chunk.len()).unwrap_or(u64::MAX) > MAX_BODY {
                    return Err(Box::new(too_large()));
                }
                kept.extend_from_slice(chunk);
            }
        }
        Ok(Bytes::from(kept))
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| {
            Err(Box::new(closing(error(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            ))))
        })
}

fn too_large() -> Response<ResponseBody> {
    closing(error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the request body is larger than 65536 bytes",
    ))
}

/// Asks hyper to close the connection after this response (the rest of a refused body is
/// never read).
fn closing(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn no_store(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn json(status: StatusCode, body: Bytes) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, JSON);
    response
}

/// `{"error":"<message>"}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response<ResponseBody> {
    let body = serde_json::json!({ "error": message });
    json(status, Bytes::from(body.to_string()))
}

/// `name` in double quotes with control characters escaped, for a message about it.
fn quoted(name: &str) -> String {
    format!("{name:?}")
}
