//! The control routes of SPEC §8 under `/admin/`: they exist only with `OPS_TOKEN` set
//! and always need the bearer, on any address. Each maps onto the runtime's
//! [`Control`]; a command's args are parsed here by the service's own clap
//! `Subcommand`, so the runtime never sees clap.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Response, StatusCode};

use super::config::Token;
use super::process::family;
use super::routes::{ResponseBody, error, json};
use super::text::write_label_value;
use crate::registry::CommandsEntry;
use crate::runtime::commands::{Answer, Refused};
use crate::{Control, ControlError, format_duration};

/// What the control routes need: the runtime's handle, the token, and the commands of
/// the services that have them.
pub(crate) struct Admin {
    pub(crate) control: Control,
    pub(crate) token: Token,
    pub(crate) commands: Vec<(&'static str, CommandsEntry)>,
    /// `OPS_COMMAND_TIMEOUT`: the connection waits that long (and a little more).
    pub(crate) command_timeout: Duration,
}

const ROUTES: &str = "POST /admin/shutdown, /admin/drain, /admin/services/{name}/restart and /admin/services/{name}/commands";

/// Answers a request under `/admin/` (`rest` is the path after it).
pub(crate) async fn handle(
    admin: &Admin,
    method: &Method,
    authorization: Option<&[u8]>,
    rest: &str,
    body: Bytes,
) -> Response<ResponseBody> {
    let route = match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["shutdown"] => Route::Shutdown,
        ["drain"] => Route::Drain,
        ["services", name, "restart"] if !name.is_empty() => Route::Restart(name),
        ["services", name, "commands"] if !name.is_empty() => Route::Command(name),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("not found; the control routes are {ROUTES}"),
            );
        }
    };
    if method != Method::POST {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed; this route answers POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let authorized = authorization
        .and_then(super::access::bearer)
        .is_some_and(|candidate| admin.token.matches(candidate));
    if !authorized {
        let mut response = json(
            StatusCode::UNAUTHORIZED,
            Bytes::from_static(super::access::UNAUTHORIZED.as_bytes()),
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    match route {
        Route::Shutdown => {
            tracing::info!("shutdown requested through the control routes");
            admin.control.shutdown();
            accepted("shutting down")
        }
        Route::Drain => {
            admin.control.drain();
            accepted("draining")
        }
        Route::Restart(name) => match admin.control.restart(name) {
            Ok(()) => {
                tracing::error_span!("service", service = name)
                    .in_scope(|| tracing::info!("restart requested"));
                accepted("restarting")
            }
            Err(refusal) => control_error(&refusal),
        },
        Route::Command(name) => command(admin, name, &body).await,
    }
}

#[derive(Clone, Copy)]
enum Route<'a> {
    Shutdown,
    Drain,
    Restart(&'a str),
    Command(&'a str),
}

fn accepted(status: &str) -> Response<ResponseBody> {
    let body = serde_json::json!({ "status": status });
    json(StatusCode::ACCEPTED, Bytes::from(body.to_string()))
}

fn control_error(refusal: &ControlError) -> Response<ResponseBody> {
    let status = match refusal {
        ControlError::UnknownService(_) => StatusCode::NOT_FOUND,
        ControlError::NotRunning => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::CONFLICT,
    };
    error(status, &refusal.to_string())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    args: Vec<String>,
}

/// `POST /admin/services/{name}/commands`.
async fn command(admin: &Admin, name: &str, body: &[u8]) -> Response<ResponseBody> {
    let Some(&(service, entry)) = admin.commands.iter().find(|(service, _)| *service == name)
    else {
        if admin.control.find(name).is_ok() {
            return error(
                StatusCode::NOT_FOUND,
                &format!("{name} has no commands (it is not `#[service(commands)]`)"),
            );
        }
        return control_error(&ControlError::UnknownService(name.to_owned()));
    };
    let args = match serde_json::from_slice::<CommandBody>(body) {
        Ok(CommandBody { args }) => args,
        Err(reason) => {
            admin.control.inner.dispatch.count(service, "invalid");
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body must be a JSON object such as {{\"args\": [\"up\"]}}: {reason}"),
            );
        }
    };
    let parser = (entry.augment)(
        clap::Command::new(service)
            .no_binary_name(true)
            .subcommand_required(true)
            .disable_help_subcommand(true),
    );
    let matches = match parser.try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(clap_error) => {
            admin.control.inner.dispatch.count(service, "invalid");
            let message = clap_error.render().to_string();
            return error(StatusCode::BAD_REQUEST, message.trim_end());
        }
    };
    let dispatch = entry.dispatch;
    let call = Box::new(move |instance, ctx| dispatch(instance, matches, ctx));
    match admin.control.dispatch(service, call).await {
        Ok(Answer::Ok) => json(StatusCode::OK, Bytes::from_static(br#"{"ok":true}"#)),
        Ok(Answer::Failed(message)) => {
            let body = serde_json::json!({ "ok": false, "error": message });
            json(StatusCode::OK, Bytes::from(body.to_string()))
        }
        Ok(Answer::TimedOut(timeout)) => error(
            StatusCode::GATEWAY_TIMEOUT,
            &format!(
                "the command did not finish within {} (OPS_COMMAND_TIMEOUT) and was cancelled",
                format_duration(timeout)
            ),
        ),
        Err(Refused::Busy) => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "too many commands at once (OPS_COMMANDS_MAX, and one per service): {service} or the app is busy; retry later"
                ),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Err(Refused::ShuttingDown) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the app is shutting down: no new commands",
        ),
        Err(Refused::Control(refusal)) => control_error(&refusal),
    }
}

/// `servicepack_commands_total{service,outcome}` and `servicepack_commands_in_flight`.
pub(crate) fn render_metrics(out: &mut String, admin: &Admin) {
    let dispatch = &admin.control.inner.dispatch;
    family(
        out,
        "servicepack_commands_total",
        "counter",
        "Commands dispatched into running services, by outcome.",
    );
    for (service, outcome, count) in dispatch.counts() {
        out.push_str("servicepack_commands_total{service=\"");
        write_label_value(out, &service);
        let _ = writeln!(out, "\",outcome=\"{outcome}\"}} {count}");
    }
    family(
        out,
        "servicepack_commands_in_flight",
        "gauge",
        "Commands running in services now.",
    );
    let _ = writeln!(
        out,
        "servicepack_commands_in_flight {}",
        dispatch.in_flight()
    );
}

/// The admin part of an endpoint, when `OPS_TOKEN` is set.
pub(crate) fn new(
    token: Option<Token>,
    control: Option<(Control, Vec<(&'static str, CommandsEntry)>)>,
    command_timeout: Duration,
) -> Option<Arc<Admin>> {
    let (token, (control, commands)) = (token?, control?);
    Some(Arc::new(Admin {
        control,
        token,
        commands,
        command_timeout,
    }))
}
