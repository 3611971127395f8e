//! The process series of the Prometheus clients on Linux, read from `/proc` the way the
//! Go client's `procfs` does (clock ticks at the kernel's fixed `USER_HZ` of 100).

use std::fmt::Write as _;

use super::text::write_f64;

/// `USER_HZ`: the unit of the times in `/proc/<pid>/stat`, 100 on every Linux ABI.
const USER_HZ: f64 = 100.0;

/// The four process series; whichever cannot be read (not Linux, `/proc` not mounted) is
/// left out rather than reported as a made-up zero.
pub(crate) fn render(out: &mut String) {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .as_deref()
        .and_then(|stat| stat.rsplit_once(')'))
        .map(|(_, rest)| rest.split_ascii_whitespace().collect())
        .unwrap_or_default();
    // `state` is field 3; utime, stime are 14 and 15; starttime is 22 (1-based, man 5 proc).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        family(
            out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
        );
        out.push_str("process_cpu_seconds_total ");
        #[expect(
            clippy::cast_precision_loss,
            reason = "clock ticks stay far below 2^52"
        )]
        write_f64(out, (utime + stime) as f64 / USER_HZ);
        out.push('\n');
    }
    if let Some(rss) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| kib(&status, "VmRSS:"))
    {
        family(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {}", rss * 1024);
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        // The directory handle being read is one of the entries: leave it out.
        let open = entries.count().saturating_sub(1);
        family(
            out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        );
        let _ = writeln!(out, "process_open_fds {open}");
    }
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
        stat.lines()
            .find_map(|line| line.strip_prefix("btime "))
            .and_then(|value| value.trim().parse::<u64>().ok())
    });
    if let (Some(boot), Some(start)) = (boot, field(22)) {
        family(
            out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
        );
        out.push_str("process_start_time_seconds ");
        #[expect(
            clippy::cast_precision_loss,
            reason = "seconds since the epoch fit an f64 exactly"
        )]
        write_f64(out, boot as f64 + start as f64 / USER_HZ);
        out.push('\n');
    }
}

/// `# HELP` and `# TYPE` of a family.
pub(crate) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The kB figure of a `/proc/<pid>/status` line such as `VmRSS:   1234 kB`.
fn kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_ascii_whitespace().next())
        .and_then(|value| value.parse().ok())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn every_process_series_is_read_on_linux() {
        let mut out = String::new();
        render(&mut out);
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_start_time_seconds ",
        ] {
            let line = out
                .lines()
                .find(|line| line.starts_with(name))
                .unwrap_or_else(|| panic!("{name} in {out}"));
            let value: f64 = line[name.len()..].parse().unwrap();
            assert!(value >= 0.0, "{line}");
        }
        let start: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix("process_start_time_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(start > 1.5e9 && start <= now + 1.0, "{start}");
    }
}
