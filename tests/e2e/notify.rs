//! SPEC §7 with real processes: the short-timing app under a pretend systemd (a datagram
//! socket in a temporary directory) and a pretend s6 (a pipe inherited as fd 3), and the
//! `health` and `status` clients as a runit check or a Docker `HEALTHCHECK` runs them.
//!
//! Each test starts the app with a cleared environment, so nothing of the caller's
//! (a `NOTIFY_SOCKET` of a CI runner under systemd, an `OPS_ADDR`) leaks in.

use std::io::Read as _;
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::support::{PATIENCE, short_showcase};

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "servicepack-e2e-notify-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The short-timing app with only `vars` in its environment.
fn app(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(short_showcase());
    command.args(args).env_clear().envs(vars.iter().copied());
    command
}

/// A child that is killed if the test fails before it ends.
struct Guard(Child);

impl Guard {
    fn spawn(mut command: Command) -> Self {
        Self(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the app starts"),
        )
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.0.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the exit, bounded by [`PATIENCE`]; returns the status and stderr.
    fn finish(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.0.try_wait().expect("the child can be waited for") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the app still runs after {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status, stderr)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn recv(socket: &UnixDatagram) -> String {
    let mut buf = [0; 512];
    loop {
        match socket.recv(&mut buf) {
            Ok(len) => return String::from_utf8_lossy(&buf[..len]).into_owned(),
            // A receive with a timeout fails with EINTR when the test process is stopped
            // and continued (signal(7)), as a loaded machine's scheduler may do.
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => panic!("no datagram within {PATIENCE:?}: {error}"),
        }
    }
}

#[test]
fn systemd_is_told_ready_status_stopping_and_pinged() {
    let dir = TempDir::new();
    let path = dir.0.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let app = Guard::spawn(app(
        &["run"],
        &[
            ("SERVICES_ENABLED", "example-database"),
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            // A ping every 100 ms.
            ("WATCHDOG_USEC", "200000"),
        ],
    ));

    let mut told = Vec::new();
    while told.last().map(String::as_str) != Some("READY=1") {
        let datagram = recv(&socket);
        if datagram != "WATCHDOG=1" {
            told.push(datagram);
        }
    }
    let (ready, before) = told.split_last().unwrap();
    assert_eq!(ready, "READY=1");
    assert_eq!(
        before.last().map(String::as_str),
        Some("STATUS=1/1 services ready"),
        "{told:?}"
    );
    assert!(
        before
            .iter()
            .all(|line| line.starts_with("STATUS=") && line.ends_with("/1 services ready")),
        "{told:?}"
    );
    // The pings go on while the app runs.
    for _ in 0..3 {
        assert_eq!(recv(&socket), "WATCHDOG=1");
    }

    app.signal("TERM");
    let (status, stderr) = app.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0; 512];
    let mut after = Vec::new();
    while let Ok(len) = socket.recv(&mut buf) {
        let datagram = String::from_utf8_lossy(&buf[..len]).into_owned();
        if datagram != "WATCHDOG=1" {
            after.push(datagram);
        }
    }
    assert_eq!(
        after,
        ["STOPPING=1", "STATUS=0/1 services ready"],
        "{stderr}"
    );
}

#[test]
fn an_abstract_notify_socket_is_reached() {
    use std::os::linux::net::SocketAddrExt as _;

    let name = format!("servicepack-e2e-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let app = Guard::spawn(app(
        &["run"],
        &[
            ("SERVICES_ENABLED", "example-database"),
            ("NOTIFY_SOCKET", &format!("@{name}")),
        ],
    ));
    while recv(&socket) != "READY=1" {}
    app.signal("TERM");
    let (status, stderr) = app.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(recv(&socket), "STOPPING=1");
}

#[test]
fn ready_fd_gets_a_newline_once_ready() {
    // fd 3 of the app is the writing end of our stdout pipe; its own stdout goes nowhere.
    let mut command = Command::new("sh");
    command
        .args(["-c", "exec \"$0\" run 3>&1 1>/dev/null"])
        .arg(short_showcase())
        .env_clear()
        .env("READY_FD", "3")
        .env("SERVICES_ENABLED", "example-database")
        .env("LOG_LEVEL", "debug");
    let mut app = Guard::spawn(command);
    let mut notifications = app.0.stdout.take().expect("stdout is piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut byte = [0; 1];
        let first = notifications.read_exact(&mut byte).map(|()| byte[0]);
        let _ = sender.send(first.map_err(|error| error.to_string()));
        let mut rest = Vec::new();
        let _ = notifications.read_to_end(&mut rest);
        let _ = sender.send(Ok(u8::try_from(rest.len()).unwrap_or(u8::MAX)));
    });
    let first = receiver
        .recv_timeout(PATIENCE)
        .expect("a byte on fd 3 once the app is ready");
    assert_eq!(first, Ok(b'\n'));
    app.signal("TERM");
    let (status, stderr) = app.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("wrote the readiness newline to READY_FD=3"),
        "{stderr}"
    );
    assert_eq!(
        receiver.recv_timeout(PATIENCE),
        Ok(Ok(0)),
        "nothing after the newline"
    );
}

fn output(command: &mut Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the app starts");
    let id = child.id();
    // A safety net, not a speed check: a hung probe fails the test instead of hanging it.
    std::thread::spawn(move || {
        std::thread::sleep(PATIENCE * 2);
        let _ = Command::new("kill")
            .args(["-KILL", &id.to_string()])
            .status();
    });
    child.wait_with_output().expect("the app can be waited for")
}

#[track_caller]
fn assert_exit(output: &Output, code: i32, stderr_has: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        stderr.contains(stderr_has),
        "{stderr_has:?} not in stderr: {stderr}"
    );
}

#[test]
fn a_bad_ready_fd_exits_2_naming_it() {
    assert_exit(
        &output(&mut app(&["run"], &[("READY_FD", "three")])),
        2,
        "invalid READY_FD=\"three\": expected a file descriptor number",
    );
    assert_exit(
        &output(&mut app(&["run"], &[("READY_FD", "987")])),
        2,
        "fd 987 is not open in this process",
    );
}

#[test]
fn health_and_status_without_an_address_are_usage_errors() {
    for args in [
        &["health"][..],
        &["status", "--json"],
        &["health", "--service", "x"],
    ] {
        assert_exit(
            &output(&mut app(args, &[])),
            2,
            "pass --addr HOST:PORT or set OPS_ADDR",
        );
    }
    assert_exit(
        &output(&mut app(&["health"], &[("OPS_ADDR", "127.0.0.1:0")])),
        2,
        "port 0",
    );
    assert_exit(
        &output(&mut app(&["status", "--addr", "localhost"], &[])),
        2,
        "expected HOST:PORT",
    );
    assert_exit(&output(&mut app(&["health", "--bogus"], &[])), 2, "--bogus");
    // With JSON logs the reason is a JSON line too.
    let json = output(&mut app(&["health"], &[("LOG_FORMAT", "json")]));
    assert_exit(&json, 2, "OPS_ADDR");
    let line: serde_json::Value =
        serde_json::from_slice(json.stderr.trim_ascii()).expect("the reason is one JSON line");
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["exit_code"], 2);
}

#[test]
fn health_and_status_of_nothing_listening_exit_1() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    for args in [&["health"][..], &["status"]] {
        let output = output(&mut app(args, &[("OPS_ADDR", &addr)]));
        assert_exit(&output, 1, &format!("cannot reach the app at {addr}"));
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn health_gives_up_on_an_endpoint_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // The kernel accepts the connection into the backlog; nobody ever answers.
    let output = output(&mut app(&["health", "--addr", &addr], &[]));
    assert_exit(&output, 1, "no complete answer within 5s");
    drop(listener);
}

/// A command of the Debian package `s6`, with a clear failure when it is missing.
fn s6(tool: &str) -> Command {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
    assert!(
        found,
        "`{tool}` is not on PATH: install the Debian package s6"
    );
    Command::new(tool)
}

#[track_caller]
fn s6_ok(tool: &str, args: &[&str], dir: &std::path::Path) -> String {
    let output = s6(tool)
        .args(args)
        .arg(dir)
        .output()
        .expect("the s6 tool runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Takes the service down and ends its s6-supervise, even when the test fails.
struct DownOnDrop<'a>(&'a std::path::Path);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = Command::new("s6-svc").arg("-dx").arg(self.0).status();
    }
}

#[test]
fn the_real_s6_supervise_sees_the_app_ready_through_its_notification_fd() {
    let temp = TempDir::new();
    let dir = temp.0.join("short-showcase");
    std::fs::create_dir_all(&dir).unwrap();
    let run = format!(
        "#!/bin/sh\nexport SERVICES_ENABLED=example-database READY_FD=3\nexec {} run 2>>{}\n",
        short_showcase().display(),
        temp.0.join("log").display()
    );
    std::fs::write(dir.join("run"), run).unwrap();
    std::fs::write(dir.join("notification-fd"), "3\n").unwrap();
    let chmod = Command::new("chmod")
        .arg("+x")
        .arg(dir.join("run"))
        .status()
        .unwrap();
    assert!(chmod.success());

    let mut supervise = s6("s6-supervise");
    supervise.arg(&dir).env_clear();
    let supervise = Guard::spawn(supervise);
    let _down = DownOnDrop(&dir);
    // s6-supervise needs a moment to set up `supervise/`: wait for it, as s6-svscan would.
    let deadline = Instant::now() + PATIENCE;
    while !s6("s6-svok")
        .arg(&dir)
        .status()
        .is_ok_and(|status| status.success())
        || !dir.join("supervise/status").exists()
    {
        assert!(
            Instant::now() < deadline,
            "s6-supervise did not start within {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // -U: wait until up and ready, as s6-rc and `s6-svc -wU` do.
    s6_ok("s6-svwait", &["-U", "-t", "60000"], &dir);
    let status = s6_ok("s6-svstat", &[], &dir);
    assert!(
        status.starts_with("up (pid ") && status.contains(", ready "),
        "{status}"
    );

    s6_ok("s6-svc", &["-d"], &dir);
    s6_ok("s6-svwait", &["-D", "-t", "60000"], &dir);
    let status = s6_ok("s6-svstat", &[], &dir);
    assert!(status.starts_with("down (exitcode 0)"), "{status}");
    s6_ok("s6-svc", &["-x"], &dir);
    let (exit, _) = supervise.finish();
    assert!(exit.success(), "s6-supervise: {exit}");
    let log = std::fs::read_to_string(temp.0.join("log")).unwrap_or_default();
    assert!(log.contains("all services stopped"), "{log}");
}
