//! Readiness notification for supervisors (SPEC §7): systemd's `NOTIFY_SOCKET` protocol
//! (`READY=1`, `STATUS=…`, `STOPPING=1`, `WATCHDOG=1`) and the newline on `READY_FD` of s6
//! and the other fd protocols.
//!
//! The variables are read with the rest of the environment into a [`NotifyConfig`] (a bad
//! `READY_FD` is exit 2 like every bad variable); [`alongside`] then runs the app's
//! lifecycle with a watcher task that follows the [`StatusHandle`] and tells the
//! supervisor, and a watchdog task that pings systemd for as long as the runtime answers.
//! Without these variables nothing is sent and nothing is opened.
//!
//! The datagrams are written here rather than with the `sd-notify` crate: that crate reads
//! `NOTIFY_SOCKET` from the process environment at every call (so a test cannot point it
//! at its own socket without `std::env::set_var`, which is `unsafe` in edition 2024), sends
//! with a blocking socket from whatever thread calls it, and its `unset_env` variants call
//! `remove_var`. What the protocol needs is one connected `AF_UNIX` datagram per message,
//! to a path or to an abstract name (`@…`), which std and tokio give in safe code.

use std::path::PathBuf;
use std::time::Duration;

use super::config::ConfigError;
use crate::StatusHandle;

// systemd and `/proc/self/fd` are Linux's; elsewhere the variables are parsed and ignored
// with a warning.
#[cfg(all(feature = "notify", target_os = "linux"))]
mod ready_fd;
#[cfg(all(feature = "notify", target_os = "linux"))]
mod systemd;
#[cfg(all(test, feature = "notify", target_os = "linux"))]
mod tests;
#[cfg(all(feature = "notify", target_os = "linux"))]
mod watch;

/// `NOTIFY_SOCKET`: where systemd listens for the notifications.
pub(crate) const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// `WATCHDOG_USEC`: the watchdog interval systemd expects pings within, in microseconds.
pub(crate) const WATCHDOG_USEC: &str = "WATCHDOG_USEC";
/// `WATCHDOG_PID`: the process the watchdog is meant for (unset: this one).
pub(crate) const WATCHDOG_PID: &str = "WATCHDOG_PID";
/// `READY_FD`: the fd to write a newline to once the app is ready.
pub(crate) const READY_FD: &str = "READY_FD";

/// What the supervisor asked to be told, read from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct NotifyConfig {
    /// `NOTIFY_SOCKET` (and the watchdog), when set.
    pub(crate) systemd: Option<SystemdConfig>,
    /// `READY_FD`, when set.
    pub(crate) ready_fd: Option<i32>,
    /// Settings that systemd documents as ignored when malformed, logged when the
    /// notifier starts (logging is not set up yet when the environment is read).
    pub(crate) warnings: Vec<String>,
}

/// `NOTIFY_SOCKET` and `WATCHDOG_USEC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemdConfig {
    /// The socket to send to.
    pub(crate) socket: SocketName,
    /// How often to ping: half of `WATCHDOG_USEC`; `None` without a watchdog.
    pub(crate) ping_every: Option<Duration>,
}

/// The address in `NOTIFY_SOCKET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SocketName {
    /// An absolute path (`/run/systemd/notify`).
    Path(PathBuf),
    /// A Linux abstract socket (`@name`, kept without the `@`).
    Abstract(Vec<u8>),
}

impl NotifyConfig {
    /// Reads the variables through `read`, which returns a variable's value trimmed, or
    /// `None` when it is unset or empty (the reader `Config::from_lookup` uses).
    ///
    /// # Errors
    ///
    /// `READY_FD` is not a file descriptor number, or names one that is not open.
    pub(crate) fn from_lookup(read: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(value) = read(NOTIFY_SOCKET) {
            match socket_name(&value) {
                Some(socket) => {
                    let ping_every = watchdog(&read, &mut config.warnings);
                    config.systemd = Some(SystemdConfig { socket, ping_every });
                }
                None => config.warnings.push(format!(
                    "ignoring {NOTIFY_SOCKET}={value:?}: only absolute paths and abstract sockets (`@name`) are supported, so systemd is not notified"
                )),
            }
        }
        if let Some(value) = read(READY_FD) {
            config.ready_fd = Some(ready_fd(value)?);
        }
        Ok(config)
    }

    /// Whether any supervisor asked to be told anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.systemd.is_none() && self.ready_fd.is_none()
    }
}

fn socket_name(value: &str) -> Option<SocketName> {
    if let Some(name) = value.strip_prefix('@') {
        Some(SocketName::Abstract(name.as_bytes().to_vec()))
    } else if value.starts_with('/') {
        Some(SocketName::Path(PathBuf::from(value)))
    } else {
        None
    }
}

/// Half of `WATCHDOG_USEC`, when it is set, valid and meant for this process
/// (`WATCHDOG_PID` unset or this pid), as `sd_watchdog_enabled(3)` decides.
fn watchdog(
    read: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Option<Duration> {
    let value = read(WATCHDOG_USEC)?;
    let usec = match value.parse::<u64>() {
        Ok(usec) if usec > 0 => usec,
        _ => {
            warnings.push(format!(
                "ignoring {WATCHDOG_USEC}={value:?}: expected a positive number of microseconds, so no watchdog ping is sent"
            ));
            return None;
        }
    };
    if let Some(pid) = read(WATCHDOG_PID) {
        match pid.parse::<u32>() {
            Ok(pid) if pid == std::process::id() => {}
            Ok(_) => return None,
            Err(_) => {
                warnings.push(format!(
                    "ignoring {WATCHDOG_USEC}: {WATCHDOG_PID}={pid:?} is not a process id, so no watchdog ping is sent"
                ));
                return None;
            }
        }
    }
    // At most a ping a millisecond, whatever a misconfigured unit asks.
    Some((Duration::from_micros(usec) / 2).max(Duration::from_millis(1)))
}

fn ready_fd(value: String) -> Result<i32, ConfigError> {
    let Ok(fd) = value.parse::<i32>() else {
        return Err(ConfigError {
            variable: READY_FD,
            value,
            expected: "expected a file descriptor number such as 3, the notification-fd of s6"
                .to_owned(),
        });
    };
    if fd < 0 {
        return Err(ConfigError {
            variable: READY_FD,
            value,
            expected: "expected a file descriptor number (0 or more)".to_owned(),
        });
    }
    if cfg!(target_os = "linux")
        && std::fs::symlink_metadata(format!("/proc/self/fd/{fd}")).is_err()
    {
        return Err(ConfigError {
            variable: READY_FD,
            value,
            expected: format!(
                "fd {fd} is not open in this process: the supervisor must start the app with it open (s6: `notification-fd` in the service directory)"
            ),
        });
    }
    Ok(fd)
}

/// Runs `work` (the app's lifecycle) and, while it runs, tells the supervisors of `config`
/// what `status` says; returns what `work` returns, once the last notification is sent.
#[cfg(all(feature = "notify", target_os = "linux"))]
pub(crate) async fn alongside<F: Future>(
    config: &NotifyConfig,
    status: StatusHandle,
    work: F,
) -> F::Output {
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    if config.is_empty() {
        return work.await;
    }
    watch::Notifier::start(config, status).run(work).await
}

/// Without the `notify` feature, or not on Linux: runs `work`, and says so when a
/// supervisor asked for notifications.
#[cfg(not(all(feature = "notify", target_os = "linux")))]
pub(crate) async fn alongside<F: Future>(
    config: &NotifyConfig,
    status: StatusHandle,
    work: F,
) -> F::Output {
    drop(status);
    if !config.is_empty() {
        tracing::warn!(
            "{NOTIFY_SOCKET} or {READY_FD} is set, but this binary was built without the `notify` feature of servicepack (or not for Linux), so no supervisor is notified"
        );
    }
    work.await
}

#[cfg(test)]
mod config_tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<NotifyConfig, ConfigError> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        NotifyConfig::from_lookup(|name| {
            map.get(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        })
    }

    #[test]
    fn nothing_set_means_nothing_to_tell() {
        let config = parse(&[]).unwrap();
        assert!(config.is_empty());
        assert!(config.warnings.is_empty());
    }

    #[test]
    fn path_and_abstract_sockets() {
        let config = parse(&[(NOTIFY_SOCKET, "/run/systemd/notify")]).unwrap();
        assert_eq!(
            config.systemd,
            Some(SystemdConfig {
                socket: SocketName::Path("/run/systemd/notify".into()),
                ping_every: None,
            })
        );
        let config = parse(&[(NOTIFY_SOCKET, "@/org/freedesktop/systemd1/notify")]).unwrap();
        assert_eq!(
            config.systemd.unwrap().socket,
            SocketName::Abstract(b"/org/freedesktop/systemd1/notify".to_vec())
        );
    }

    #[test]
    fn an_unsupported_socket_is_a_warning() {
        let config = parse(&[(NOTIFY_SOCKET, "vsock:2:1234")]).unwrap();
        assert!(config.systemd.is_none());
        assert!(
            config.warnings[0].contains("vsock:2:1234"),
            "{:?}",
            config.warnings
        );
    }

    #[test]
    fn the_watchdog_pings_at_half_the_interval() {
        let pid = std::process::id().to_string();
        for vars in [
            vec![(NOTIFY_SOCKET, "/tmp/n"), (WATCHDOG_USEC, "30000000")],
            vec![
                (NOTIFY_SOCKET, "/tmp/n"),
                (WATCHDOG_USEC, "30000000"),
                (WATCHDOG_PID, pid.as_str()),
            ],
        ] {
            let config = parse(&vars).unwrap();
            assert_eq!(
                config.systemd.unwrap().ping_every,
                Some(Duration::from_secs(15))
            );
        }
        let config = parse(&[(NOTIFY_SOCKET, "/tmp/n"), (WATCHDOG_USEC, "1")]).unwrap();
        assert_eq!(
            config.systemd.unwrap().ping_every,
            Some(Duration::from_millis(1))
        );
    }

    #[test]
    fn a_watchdog_for_another_process_or_malformed_is_not_ours() {
        let other = (std::process::id() + 1).to_string();
        let config = parse(&[
            (NOTIFY_SOCKET, "/tmp/n"),
            (WATCHDOG_USEC, "30000000"),
            (WATCHDOG_PID, other.as_str()),
        ])
        .unwrap();
        assert_eq!(config.systemd.unwrap().ping_every, None);
        assert!(config.warnings.is_empty());
        for usec in ["soon", "0", "-5"] {
            let config = parse(&[(NOTIFY_SOCKET, "/tmp/n"), (WATCHDOG_USEC, usec)]).unwrap();
            assert_eq!(config.systemd.unwrap().ping_every, None);
            assert!(
                config.warnings[0].contains(WATCHDOG_USEC),
                "{:?}",
                config.warnings
            );
        }
    }

    #[test]
    fn ready_fd_must_be_an_open_fd_number() {
        assert_eq!(parse(&[(READY_FD, " 2 ")]).unwrap().ready_fd, Some(2));
        for value in ["three", "3.0", "-1", "0x3"] {
            let error = parse(&[(READY_FD, value)]).unwrap_err();
            assert_eq!(error.variable, READY_FD);
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("invalid READY_FD={value:?}: expected")),
                "{error}"
            );
        }
        if cfg!(target_os = "linux") {
            let error = parse(&[(READY_FD, "987654")]).unwrap_err();
            assert!(
                error.to_string().contains("fd 987654 is not open"),
                "{error}"
            );
        }
    }
}
