//! `GET /`: the status page for people. One HTML document with its style inline, no
//! script and no outside asset: a table of the services and the dependency graph as
//! inline SVG, both coloured by state through one CSS class per state (`state-ready`,
//! `state-failed`, ...). It reloads itself every 2 s with a `<meta http-equiv="refresh">`.
//!
//! Everything that comes from the app is escaped, error messages above all.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::text::write_html;
use crate::{AppStatus, ServiceStatus, State, format_duration};

const NODE_WIDTH: usize = 190;
const NODE_HEIGHT: usize = 34;
const COLUMN: usize = 240;
const ROW: usize = 50;
const MARGIN: usize = 10;

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}\
h1{font-size:1.3em;margin:0 0 .3em}p.app{margin:0 0 1em;color:#555}\
table{border-collapse:collapse;margin-bottom:1.5em;background:#fff}\
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#eee}td.error{color:#a00;font-family:monospace;white-space:pre-wrap;max-width:40em}\
span.badge{display:inline-block;padding:0 .5em;border-radius:.6em;color:#fff;background:#888}\
svg{background:#fff;border:1px solid #ddd}svg text{font-size:12px;fill:#fff;dominant-baseline:middle;text-anchor:middle}\
svg line{stroke:#999;stroke-width:1.5}\
.state-pending{--c:#9e9e9e}.state-starting{--c:#1e88e5}.state-ready{--c:#2e7d32}\
.state-retrying{--c:#f9a825}.state-exited{--c:#607d8b}.state-failed{--c:#c62828}\
.state-skipped{--c:#bdbdbd}.state-stopping{--c:#8e24aa}.state-stopped{--c:#424242}\
span.badge{background:var(--c)}g.node rect{fill:var(--c)}";

/// The whole page for `status`.
pub(crate) fn render(status: &AppStatus) -> String {
    let now = SystemTime::now();
    let mut out = String::with_capacity(4096 + status.services.len() * 700);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta http-equiv=\"refresh\" content=\"2\"><title>");
    write_html(&mut out, &status.app);
    out.push_str(" status</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><h1>");
    write_html(&mut out, &status.app);
    out.push(' ');
    write_html(&mut out, &status.version);
    let _ = write!(
        out,
        "</h1><p class=\"app state-{state}\">app <span class=\"badge\" id=\"app-state\">{state}</span> \
         &middot; env ",
        state = status.state
    );
    write_html(&mut out, &status.env);
    let _ = write!(
        out,
        " &middot; pid {} &middot; up {}</p>",
        status.pid,
        format_duration(whole_seconds(status.uptime_seconds))
    );
    table(&mut out, status, now);
    graph(&mut out, status);
    out.push_str("</body></html>\n");
    out
}

fn table(out: &mut String, status: &AppStatus, now: SystemTime) {
    out.push_str(
        "<table id=\"services\"><thead><tr><th>service</th><th>state</th><th>attempt</th>\
         <th>restarts</th><th>uptime</th><th>depends on</th><th>last error</th></tr></thead><tbody>",
    );
    for service in &status.services {
        let _ = write!(
            out,
            "<tr class=\"service state-{}\" data-service=\"",
            service.state
        );
        write_html(out, &service.name);
        out.push_str("\"><td>");
        write_html(out, &service.name);
        let _ = write!(
            out,
            "</td><td><span class=\"badge\">{}</span></td><td>{}</td><td>{}</td><td>",
            service.state, service.attempt, service.restarts
        );
        out.push_str(&uptime(service, now));
        out.push_str("</td><td>");
        write_html(out, &service.depends_on.join(", "));
        out.push_str("</td><td class=\"error\">");
        if let Some(error) = &service.last_error {
            let _ = write!(out, "attempt {} at {}: ", error.attempt, error.at);
            write_html(out, &error.message);
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
}

/// How long a running service has been up; a dash for one that is not running.
fn uptime(service: &ServiceStatus, now: SystemTime) -> String {
    if !matches!(service.state, State::Ready | State::Starting) {
        return "&ndash;".to_owned();
    }
    let up = now
        .duration_since(service.since.system_time())
        .unwrap_or_default();
    format_duration(Duration::from_secs(up.as_secs()))
}

fn whole_seconds(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds.floor()).unwrap_or_default()
}

/// The graph in columns by depth: a service sits one column right of its deepest
/// dependency; an edge runs from each dependency to its dependent.
fn graph(out: &mut String, status: &AppStatus) {
    let services = &status.services;
    let index_of = |name: &str| services.iter().position(|service| service.name == name);
    // The plan's order puts dependencies first, so one pass sets every depth.
    let mut depth = vec![0_usize; services.len()];
    for (index, service) in services.iter().enumerate() {
        depth[index] = service
            .depends_on
            .iter()
            .filter_map(|dep| index_of(dep))
            .filter(|&dep| dep < index)
            .map(|dep| depth[dep] + 1)
            .max()
            .unwrap_or(0);
    }
    let mut rows = vec![0_usize; services.len()];
    let mut row = vec![0_usize; services.len()];
    for (index, &column) in depth.iter().enumerate() {
        row[index] = rows[column];
        rows[column] += 1;
    }
    let columns = depth.iter().max().map_or(0, |deepest| deepest + 1);
    let height_rows = rows.iter().copied().max().unwrap_or(0);
    let width = 2 * MARGIN + columns.max(1) * COLUMN;
    let height = 2 * MARGIN + height_rows.max(1) * ROW;
    let position = |index: usize| (MARGIN + depth[index] * COLUMN, MARGIN + row[index] * ROW);
    let _ = write!(
        out,
        "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"dependency graph\"><defs><marker id=\"arrow\" \
         viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"8\" markerHeight=\"8\" \
         orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#999\"/></marker></defs>"
    );
    for (index, service) in services.iter().enumerate() {
        for dep in service.depends_on.iter().filter_map(|dep| index_of(dep)) {
            let ((x1, y1), (x2, y2)) = (position(dep), position(index));
            let _ = write!(
                out,
                "<line x1=\"{}\" y1=\"{}\" x2=\"{x2}\" y2=\"{}\" marker-end=\"url(#arrow)\"/>",
                x1 + NODE_WIDTH,
                y1 + NODE_HEIGHT / 2,
                y2 + NODE_HEIGHT / 2
            );
        }
    }
    for (index, service) in services.iter().enumerate() {
        let (x, y) = position(index);
        let _ = write!(
            out,
            "<g class=\"node state-{}\" data-service=\"",
            service.state
        );
        write_html(out, &service.name);
        let _ = write!(
            out,
            "\"><title>{} ({})</title><rect x=\"{x}\" y=\"{y}\" width=\"{NODE_WIDTH}\" \
             height=\"{NODE_HEIGHT}\" rx=\"6\"/><text x=\"{}\" y=\"{}\">",
            Escaped(&service.name),
            service.state,
            x + NODE_WIDTH / 2,
            y + NODE_HEIGHT / 2
        );
        write_html(out, &service.name);
        out.push_str("</text></g>");
    }
    out.push_str("</svg>");
}

/// Displays a string HTML-escaped.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::with_capacity(self.0.len());
        write_html(&mut out, self.0);
        f.write_str(&out)
    }
}
