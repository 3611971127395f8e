//! Presenting the figures: the aligned table and the JSON document.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

/// What a figure counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unit {
    Millis,
    Bytes,
    MiB,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Self::Millis => "ms",
            Self::Bytes => "B",
            Self::MiB => "MiB",
        }
    }

    fn format(self, value: f64) -> String {
        match self {
            Self::Millis if value < 10.0 => format!("{value:.2} ms"),
            Self::Millis => format!("{value:.1} ms"),
            Self::Bytes => format!("{value:.0} B"),
            Self::MiB => format!("{value:.2} MiB"),
        }
    }
}

/// What a figure should show.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    None,
    /// servicepack / baseline at most this.
    RatioAtMost(f64),
    /// servicepack - baseline at most this (bytes).
    AboveBaselineAtMost(f64),
    UnderMs(f64),
    UnderMiB(f64),
}

impl Target {
    fn describe(self) -> String {
        match self {
            Self::None => String::new(),
            Self::RatioAtMost(ratio) => format!("<= {ratio:.0}x"),
            Self::AboveBaselineAtMost(bytes) => format!("<= base + {bytes:.0} B"),
            Self::UnderMs(ms) => format!("< {ms} ms"),
            Self::UnderMiB(mib) => format!("< {mib} MiB"),
        }
    }
}

/// One line of the table.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) shape: String,
    pub(crate) unit: Unit,
    pub(crate) servicepack: f64,
    pub(crate) baseline: Option<f64>,
    pub(crate) target: Target,
    /// The Go original's figure, where there is one.
    pub(crate) go: &'static str,
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

impl Row {
    pub(crate) fn time(
        shape: String,
        servicepack: Duration,
        baseline: Duration,
        target: Target,
        go: &'static str,
    ) -> Self {
        Self {
            shape,
            unit: Unit::Millis,
            servicepack: millis(servicepack),
            baseline: Some(millis(baseline)),
            target,
            go,
        }
    }

    pub(crate) fn size(shape: &str, bytes: u64, target: Target) -> Self {
        #[allow(clippy::cast_precision_loss)] // binary sizes are far below 2^52
        let mib = bytes as f64 / (1024.0 * 1024.0);
        Self {
            shape: shape.to_owned(),
            unit: Unit::MiB,
            servicepack: mib,
            baseline: None,
            target,
            go: "",
        }
    }

    fn ratio(&self) -> Option<f64> {
        self.baseline
            .filter(|&baseline| baseline > 0.0)
            .map(|baseline| self.servicepack / baseline)
    }

    /// Whether the target is met; `None` without a target.
    fn met(&self) -> Option<bool> {
        match self.target {
            Target::None => None,
            Target::RatioAtMost(most) => self.ratio().map(|ratio| ratio <= most),
            Target::AboveBaselineAtMost(most) => self
                .baseline
                .map(|baseline| self.servicepack - baseline <= most),
            Target::UnderMs(limit) | Target::UnderMiB(limit) => Some(self.servicepack < limit),
        }
    }
}

/// The machine the figures were taken on.
#[derive(Debug)]
pub(crate) struct Machine {
    cores: usize,
    cpu: String,
    memory: String,
    rustc: String,
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
        }
    }
}

/// The aligned table, with the machine above it.
pub(crate) fn table(machine: &Machine, reps: usize, rows: &[Row]) -> String {
    let header = [
        "shape",
        "servicepack",
        "baseline",
        "ratio",
        "target",
        "Go original",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            let target = match row.met() {
                None => row.target.describe(),
                Some(true) => format!("{} ok", row.target.describe()),
                Some(false) => format!("{} MISSED", row.target.describe()),
            };
            [
                row.shape.clone(),
                row.unit.format(row.servicepack),
                row.baseline
                    .map_or_else(|| "-".to_owned(), |b| row.unit.format(b)),
                row.ratio()
                    .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x")),
                target,
                row.go.to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "machine: {} cores, {}, {} RAM, {}; medians of {reps} runs\n",
        machine.cores, machine.cpu, machine.memory, machine.rustc
    );
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            // Text columns align left, figures right.
            if i == 0 || i >= 4 {
                let _ = write!(text, "{cell}{:pad$} | ", "");
            } else {
                let _ = write!(text, "{:pad$}{cell} | ", "");
            }
        }
        let _ = writeln!(out, "{}", text.trim_end_matches([' ', '|']));
    };
    line(&header.map(str::to_owned));
    line(&widths.map(|width| "-".repeat(width)));
    for row in &cells {
        line(row);
    }
    out
}

/// The same figures as JSON.
pub(crate) fn json(machine: &Machine, quick: bool, reps: usize, rows: &[Row]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "shape": row.shape,
                "unit": row.unit.name(),
                "servicepack": row.servicepack,
                "baseline": row.baseline,
                "ratio": row.ratio(),
                "target": row.target.describe(),
                "met": row.met(),
                "go_original": (!row.go.is_empty()).then_some(row.go),
            })
        })
        .collect();
    json!({
        "machine": {
            "cores": machine.cores,
            "cpu": machine.cpu,
            "memory": machine.memory,
            "rustc": machine.rustc,
        },
        "quick": quick,
        "repetitions": reps,
        "rows": rows,
    })
}
