//! The ops endpoint against the real tools: `promtool check metrics`, a Prometheus
//! server scraping the showcase, and the status page in headless Chromium (Debian
//! packages `prometheus` and `chromium`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::get;
use crate::ops::{poll, start};
use crate::support::PATIENCE;

/// A child process killed when the test ends, passed or failed.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh directory under the target dir, for configs, databases and screenshots.
fn scratch(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps")
        .join("ops-e2e")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the target dir is writable");
    dir
}

fn tool(name: &str, package: &str) -> &'static str {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "`{name}` is not installed: apt-get install -y {package}"
    );
    Box::leak(name.to_owned().into_boxed_str())
}

#[test]
fn promtool_accepts_the_metrics() {
    let promtool = tool("promtool", "prometheus");
    // With the control routes, so that the command series are on the page too.
    let (app, addr) = start("127.0.0.1:0", &[("OPS_TOKEN", crate::ops::TOKEN)]);
    poll(addr, "/readyz/example-database", "200", |reply| {
        reply.status == 200
    });
    let body = r#"{"args":["status"]}"#;
    let command = format!(
        "POST /admin/services/example-migrator/commands HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{body}",
        crate::ops::TOKEN,
        body.len()
    );
    let answer = crate::http::exchange(addr, command.as_bytes()).unwrap();
    assert_eq!(answer.body, r#"{"ok":true}"#, "{answer:?}");
    let metrics = get(addr, "/metrics", "");
    assert!(
        metrics
            .head
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        metrics.head
    );
    for name in [
        "servicepack_service_state{service=\"example-database\",state=\"ready\"} 1",
        "servicepack_app_ready ",
        "servicepack_build_info{app=\"showcase\",version=",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_start_time_seconds ",
        // The showcase's own counter, recorded through servicepack::metrics.
        "# HELP showcase_heartbeats_total Heartbeats logged, per service.",
        "showcase_heartbeats_total{service=\"example-database\"} ",
        "servicepack_commands_total{service=\"example-migrator\",outcome=\"ok\"} 1",
        "servicepack_commands_in_flight 0",
    ] {
        assert!(metrics.body.contains(name), "{name} in\n{}", metrics.body);
    }
    drop(app);
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts (Debian package `prometheus`: run `bash .ci/setup`)");
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), metrics.body.as_bytes()).unwrap();
    let output = check.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}\n{said}",
        output.status
    );
}

#[test]
fn prometheus_scrapes_the_showcase_and_reads_app_ready_back() {
    let prometheus = tool("prometheus", "prometheus");
    let (app, addr) = start(
        "127.0.0.1:0",
        &[("SERVICES_ENABLED", "example-database,hello-world")],
    );
    let dir = scratch("prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: showcase\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let web = format!("127.0.0.1:{port}");
    let server = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus starts (Debian package `prometheus`: run `bash .ci/setup`)"),
    );
    let web: std::net::SocketAddr = web.parse().unwrap();
    let deadline = Instant::now() + PATIENCE * 2;
    let value = loop {
        if let Ok(reply) = crate::http::exchange(
            web,
            b"GET /api/v1/query?query=servicepack_app_ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ) && reply.status == 200
        {
            let json = reply.json();
            let result = &json["data"]["result"];
            if let Some(sample) = result.get(0) {
                assert_eq!(sample["metric"]["job"], "showcase", "{json}");
                break sample["value"][1].as_str().unwrap().to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not scrape servicepack_app_ready in time; its log:\n{}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(value == "0" || value == "1", "{value}");
    drop(server);
    drop(app);
}

fn chromium(dir: &Path, args: &[&str], url: &str) -> std::process::Output {
    let binary = tool("chromium", "chromium");
    let profile = dir.join("profile");
    let child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts (Debian package `chromium`: run `bash .ci/setup`)");
    let pid = child.id();
    // Bounded: a browser still running after the wait is killed, and the test fails below.
    // The watchdog kills only while the browser is known to be running (no pid reuse).
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(PATIENCE * 2).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let output = child.wait_with_output().expect("chromium runs");
    let _ = done.send(());
    let _ = watchdog.join();
    output
}

#[test]
fn the_status_page_renders_in_headless_chromium() {
    let (app, addr) = start("127.0.0.1:0", &[]);
    poll(addr, "/readyz/example-database", "200", |reply| {
        reply.status == 200
    });
    let dir = scratch("chromium");
    let url = format!("http://{addr}/");
    let dom = chromium(&dir, &["--dump-dom"], &url);
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "chromium --dump-dom: {}\n{}",
        dom.status,
        String::from_utf8_lossy(&dom.stderr)
    );
    let services = [
        "hello-world",
        "example-database",
        "example-api",
        "example-migrator",
        "example-optional",
        "example-flaky",
        "example-crasher",
        "example-nested-http",
        "example-nested-grpc",
    ];
    assert_eq!(
        html.matches("<tr class=\"service state-").count(),
        services.len(),
        "{html}"
    );
    assert_eq!(
        html.matches("<g class=\"node state-").count(),
        services.len(),
        "{html}"
    );
    for name in services {
        assert!(
            html.contains(&format!("data-service=\"{name}\"")),
            "{name} in {html}"
        );
    }
    assert!(
        html.contains("class=\"node state-ready\" data-service=\"example-database\""),
        "{html}"
    );
    let shot = dir.join("status-page.png");
    let screenshot = chromium(
        &dir,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000",
            "--hide-scrollbars",
        ],
        &url,
    );
    assert!(
        screenshot.status.success(),
        "chromium --screenshot: {}",
        String::from_utf8_lossy(&screenshot.stderr)
    );
    let png = std::fs::read(&shot).unwrap_or_else(|error| panic!("{}: {error}", shot.display()));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} is a real screenshot",
        shot.display()
    );
    eprintln!("status page screenshot: {}", shot.display());
    drop(app);
}
