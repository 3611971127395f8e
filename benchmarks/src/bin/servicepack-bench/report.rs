//! Presenting the figures: sections of aligned rows, and the JSON document.
//!
//! Each section names what its baseline (and, where there is one, its peer) is: raw tokio
//! for the shapes, tokio-graceful-shutdown as the peer, tracing-subscriber's stock `fmt`
//! layer for the logs, a raw tokio loop for the crash loop, the plain tokio app for the
//! distinct types.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

/// What a figure counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unit {
    Seconds,
    Millis,
    Micros,
    Nanos,
    Bytes,
    KiB,
    MiB,
    PerSecond,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Self::Seconds => "s",
            Self::Millis => "ms",
            Self::Micros => "us",
            Self::Nanos => "ns",
            Self::Bytes => "B",
            Self::KiB => "KiB",
            Self::MiB => "MiB",
            Self::PerSecond => "1/s",
        }
    }

    fn format(self, value: f64) -> String {
        let unit = self.name();
        match self {
            Self::Millis | Self::Micros | Self::Nanos | Self::Seconds if value < 10.0 => {
                format!("{value:.2} {unit}")
            }
            Self::Millis | Self::Micros | Self::Seconds | Self::KiB => format!("{value:.1} {unit}"),
            Self::Nanos | Self::Bytes | Self::PerSecond => format!("{value:.0} {unit}"),
            Self::MiB => format!("{value:.2} {unit}"),
        }
    }
}

/// One condition a figure should meet; a row meets its target when it meets them all.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// servicepack / baseline at most this.
    RatioAtMost(f64),
    /// servicepack / peer at most this (`0.2`: at least 5x faster than the peer).
    PeerRatioAtMost(f64),
    /// servicepack - baseline at most this, in the row's unit.
    AboveBaselineAtMost(f64),
    /// servicepack below this, in the row's unit.
    Under(f64),
}

impl Target {
    fn describe(self, unit: Unit) -> String {
        match self {
            Self::RatioAtMost(ratio) => format!("<= {ratio}x"),
            Self::PeerRatioAtMost(ratio) if ratio < 1.0 => {
                format!("<= peer/{:.0}", 1.0 / ratio)
            }
            Self::PeerRatioAtMost(ratio) => format!("<= {ratio}x peer"),
            Self::AboveBaselineAtMost(most) => format!("<= base + {}", unit.format(most)),
            Self::Under(limit) => format!("< {}", unit.format(limit)),
        }
    }

    fn met(self, row: &Row) -> Option<bool> {
        match self {
            Self::RatioAtMost(most) => ratio(row.servicepack, row.baseline).map(|r| r <= most),
            Self::PeerRatioAtMost(most) => ratio(row.servicepack, row.peer).map(|r| r <= most),
            Self::AboveBaselineAtMost(most) => row
                .baseline
                .map(|baseline| row.servicepack - baseline <= most),
            Self::Under(limit) => Some(row.servicepack < limit),
        }
    }
}

fn ratio(ours: f64, theirs: Option<f64>) -> Option<f64> {
    theirs
        .filter(|&theirs| theirs > 0.0)
        .map(|theirs| ours / theirs)
}

/// One line of a section.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) shape: String,
    pub(crate) unit: Unit,
    pub(crate) servicepack: f64,
    pub(crate) baseline: Option<f64>,
    pub(crate) peer: Option<f64>,
    pub(crate) targets: Vec<Target>,
    /// A figure to print beside, with where it comes from (the Go original's, say).
    pub(crate) note: String,
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

impl Row {
    /// A figure in `unit` against its baseline.
    pub(crate) fn new(shape: impl Into<String>, unit: Unit, ours: f64, base: Option<f64>) -> Self {
        Self {
            shape: shape.into(),
            unit,
            servicepack: ours,
            baseline: base,
            peer: None,
            targets: Vec::new(),
            note: String::new(),
        }
    }

    /// A time in milliseconds against its baseline.
    pub(crate) fn time(shape: impl Into<String>, ours: Duration, base: Duration) -> Self {
        Self::new(shape, Unit::Millis, millis(ours), Some(millis(base)))
    }

    /// A binary size in MiB, without a baseline.
    pub(crate) fn size(shape: &str, bytes: u64) -> Self {
        #[allow(clippy::cast_precision_loss)] // binary sizes are far below 2^52
        let mib = bytes as f64 / (1024.0 * 1024.0);
        Self::new(shape, Unit::MiB, mib, None)
    }

    /// The peer's figure beside.
    pub(crate) fn peer(mut self, peer: f64) -> Self {
        self.peer = Some(peer);
        self
    }

    /// The peer's time beside.
    pub(crate) fn peer_time(self, peer: Duration) -> Self {
        self.peer(millis(peer))
    }

    /// One more condition to meet (none when `enabled` is false, e.g. in `--quick`).
    pub(crate) fn target(mut self, target: Target, enabled: bool) -> Self {
        if enabled {
            self.targets.push(target);
        }
        self
    }

    /// A figure to print beside.
    pub(crate) fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    /// Whether every target is met; `None` without a target.
    fn met(&self) -> Option<bool> {
        let checks: Vec<Option<bool>> = self.targets.iter().map(|t| t.met(self)).collect();
        if checks.is_empty() {
            None
        } else {
            Some(checks.iter().all(|check| *check == Some(true)))
        }
    }

    fn describe_targets(&self) -> String {
        let parts: Vec<String> = self
            .targets
            .iter()
            .map(|target| target.describe(self.unit))
            .collect();
        parts.join(", ")
    }
}

/// Rows that share what their baseline and peer are.
#[derive(Debug)]
pub(crate) struct Section {
    pub(crate) title: &'static str,
    pub(crate) baseline: &'static str,
    pub(crate) peer: Option<&'static str>,
    pub(crate) rows: Vec<Row>,
}

/// The machine the figures were taken on.
#[derive(Debug)]
pub(crate) struct Machine {
    cores: usize,
    cpu: String,
    memory: String,
    rustc: String,
    load: String,
}

impl Machine {
    pub(crate) fn detect() -> Self {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|line| line.strip_prefix("model name"))
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let memory = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|line| line.strip_prefix("MemTotal:"))
                    .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or_else(|| "unknown".to_owned(), |kb| format!("{} MiB", kb / 1024));
        let rustc = Command::new("rustc")
            .arg("-V")
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map_or_else(
                || "unknown".to_owned(),
                |output| String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            );
        Self {
            cores: std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
            cpu,
            memory,
            rustc,
            load: load_average(),
        }
    }
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` says.
pub(crate) fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").ok().map_or_else(
        || "unknown".to_owned(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

/// The aligned tables, one per section, with the machine above them.
pub(crate) fn table(machine: &Machine, reps: usize, sections: &[Section]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "machine: {} cores, {}, {} RAM, {}; load average {} at the start, {} at the end; \
         medians of {reps} runs",
        machine.cores,
        machine.cpu,
        machine.memory,
        machine.rustc,
        machine.load,
        load_average()
    );
    for section in sections.iter().filter(|section| !section.rows.is_empty()) {
        let _ = writeln!(out, "\n## {}\n", section.title);
        out.push_str(&section_table(section));
    }
    out
}

fn section_table(section: &Section) -> String {
    let mut header = vec!["shape", "servicepack", section.baseline, "ratio"];
    if let Some(peer) = section.peer {
        header.extend([peer, "ratio"]);
    }
    header.extend(["target", "note"]);
    let cells: Vec<Vec<String>> = section
        .rows
        .iter()
        .map(|row| {
            let format =
                |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| row.unit.format(v));
            let show_ratio = |theirs| {
                ratio(row.servicepack, theirs)
                    .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"))
            };
            let mut line = vec![
                row.shape.clone(),
                row.unit.format(row.servicepack),
                format(row.baseline),
                show_ratio(row.baseline),
            ];
            if section.peer.is_some() {
                line.extend([format(row.peer), show_ratio(row.peer)]);
            }
            let target = match row.met() {
                None => String::new(),
                Some(true) => format!("{} ok", row.describe_targets()),
                Some(false) => format!("{} MISSED", row.describe_targets()),
            };
            line.extend([target, row.note.clone()]);
            line
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.len()).collect();
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let text_columns = header.len() - 2;
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            let pad = width - cell.chars().count();
            // Text columns align left, figures right.
            if i == 0 || i >= text_columns {
                let _ = write!(text, "{cell}{:pad$} | ", "");
            } else {
                let _ = write!(text, "{:pad$}{cell} | ", "");
            }
        }
        let _ = writeln!(out, "{}", text.trim_end_matches([' ', '|']));
    };
    line(
        &header
            .iter()
            .map(|cell| (*cell).to_owned())
            .collect::<Vec<_>>(),
    );
    line(
        &widths
            .iter()
            .map(|width| "-".repeat(*width))
            .collect::<Vec<_>>(),
    );
    for row in &cells {
        line(row);
    }
    out
}

/// The same figures as JSON.
pub(crate) fn json(machine: &Machine, quick: bool, reps: usize, sections: &[Section]) -> Value {
    let sections: Vec<Value> = sections
        .iter()
        .map(|section| {
            let rows: Vec<Value> = section
                .rows
                .iter()
                .map(|row| {
                    json!({
                        "shape": row.shape,
                        "unit": row.unit.name(),
                        "servicepack": row.servicepack,
                        "baseline": row.baseline,
                        "ratio": ratio(row.servicepack, row.baseline),
                        "peer": row.peer,
                        "peer_ratio": ratio(row.servicepack, row.peer),
                        "target": row.describe_targets(),
                        "met": row.met(),
                        "note": (!row.note.is_empty()).then_some(&row.note),
                    })
                })
                .collect();
            json!({
                "title": section.title,
                "baseline": section.baseline,
                "peer": section.peer,
                "rows": rows,
            })
        })
        .collect();
    json!({
        "machine": {
            "cores": machine.cores,
            "cpu": machine.cpu,
            "memory": machine.memory,
            "rustc": machine.rustc,
            "load_average_start": machine.load,
            "load_average_end": load_average(),
        },
        "quick": quick,
        "repetitions": reps,
        "sections": sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_meets_its_target_only_when_it_meets_every_condition() {
        let row = Row::new("flat", Unit::Millis, 10.0, Some(8.0))
            .peer(100.0)
            .target(Target::RatioAtMost(1.3), true)
            .target(Target::PeerRatioAtMost(0.2), true);
        assert_eq!(row.met(), Some(true));
        assert_eq!(row.describe_targets(), "<= 1.3x, <= peer/5");
        let slow =
            Row::new("flat", Unit::Millis, 11.0, Some(8.0)).target(Target::RatioAtMost(1.3), true);
        assert_eq!(slow.met(), Some(false));
        let no_peer = Row::new("flat", Unit::Millis, 1.0, Some(1.0))
            .target(Target::PeerRatioAtMost(0.2), true);
        assert_eq!(
            no_peer.met(),
            Some(false),
            "a missing peer figure cannot meet a peer target"
        );
    }

    #[test]
    fn targets_left_out_in_quick_runs_are_not_judged() {
        let row = Row::new("memory", Unit::Bytes, 2000.0, Some(500.0))
            .target(Target::AboveBaselineAtMost(512.0), false);
        assert_eq!(row.met(), None);
    }

    #[test]
    fn missed_targets_are_printed_as_missed() {
        let section = Section {
            title: "t",
            baseline: "raw tokio",
            peer: None,
            rows: vec![
                Row::new("memory", Unit::Bytes, 2000.0, Some(500.0))
                    .target(Target::AboveBaselineAtMost(512.0), true),
            ],
        };
        let table = section_table(&section);
        assert!(table.contains("<= base + 512 B MISSED"), "{table}");
        assert!(table.contains("4.00x"), "{table}");
    }
}
