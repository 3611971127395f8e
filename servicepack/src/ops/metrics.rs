//! `GET /metrics` (SPEC §6.2): the framework's series from a status snapshot, the process
//! series, then the user's, in the text exposition format 0.0.4.
//!
//! Written straight into one `String` with `push_str` (no `format!` per line): 1,000
//! services make about 13,000 lines, rendered well under a millisecond (BENCHMARKS.md).

use std::fmt::Write as _;

use super::process::{self, family};
use super::recorder::UserMetrics;
use super::text::{write_f64, write_label_value};
use crate::{AppStatus, ServiceStatus, State};

/// The `Content-Type` of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The whole page for `status`, with the user's series from `user` when installed.
pub(crate) fn render(status: &AppStatus, user: Option<&UserMetrics>) -> String {
    let mut out = String::with_capacity(1024 + status.services.len() * 1200);
    render_framework(&mut out, status);
    process::render(&mut out);
    if let Some(user) = user {
        user.render(&mut out);
    }
    out
}

/// The `servicepack_*` series.
pub(crate) fn render_framework(out: &mut String, status: &AppStatus) {
    family(
        out,
        "servicepack_service_state",
        "gauge",
        "1 for the state the service is in, 0 for the others.",
    );
    for service in &status.services {
        for state in State::ALL {
            label_start(out, "servicepack_service_state", service);
            out.push_str("\",state=\"");
            out.push_str(state.as_str());
            out.push_str(if service.state == state {
                "\"} 1\n"
            } else {
                "\"} 0\n"
            });
        }
    }
    family(
        out,
        "servicepack_service_ready",
        "gauge",
        "1 when the service is ready or exited.",
    );
    for service in &status.services {
        label_start(out, "servicepack_service_ready", service);
        out.push_str(if service.ready { "\"} 1\n" } else { "\"} 0\n" });
    }
    let counters: [Counter; 3] = [
        (
            "servicepack_service_attempts_total",
            "Attempts started (runs of the service).",
            |s| s.attempt,
        ),
        (
            "servicepack_service_failures_total",
            "Attempts that failed.",
            |s| s.failures,
        ),
        (
            "servicepack_service_restarts_total",
            "Starts after the first attempt.",
            |s| s.restarts,
        ),
    ];
    for (name, help, value) in counters {
        family(out, name, "counter", help);
        for service in &status.services {
            label_start(out, name, service);
            let _ = writeln!(out, "\"}} {}", value(service));
        }
    }
    family(
        out,
        "servicepack_app_ready",
        "gauge",
        "1 when the app is ready (SPEC section 5).",
    );
    out.push_str(if status.ready {
        "servicepack_app_ready 1\n"
    } else {
        "servicepack_app_ready 0\n"
    });
    family(
        out,
        "servicepack_app_start_time_seconds",
        "gauge",
        "When the app started, seconds since the Unix epoch.",
    );
    out.push_str("servicepack_app_start_time_seconds ");
    write_f64(out, status.started_at.unix_seconds());
    out.push('\n');
    family(
        out,
        "servicepack_build_info",
        "gauge",
        "The app's name and version; always 1.",
    );
    out.push_str("servicepack_build_info{app=\"");
    write_label_value(out, &status.app);
    out.push_str("\",version=\"");
    write_label_value(out, &status.version);
    out.push_str("\"} 1\n");
}

/// A per-service counter family: name, help, and the value of one service.
type Counter = (&'static str, &'static str, fn(&ServiceStatus) -> u32);

/// `name{service="<name>` (the caller closes the label set).
fn label_start(out: &mut String, name: &str, service: &ServiceStatus) {
    out.push_str(name);
    out.push_str("{service=\"");
    write_label_value(out, &service.name);
}
