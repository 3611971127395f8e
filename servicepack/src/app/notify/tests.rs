//! The notifier against real sockets and pipes: a `UnixDatagram` bound in a temporary
//! directory or in the abstract namespace plays systemd, a pipe plays s6; a
//! [`StatusBoard`] plays the runtime.

use std::io::Read as _;
use std::os::fd::AsRawFd as _;
use std::os::linux::net::SocketAddrExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::UnixDatagram;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::*;
use crate::State;
use crate::runtime::plan::Plan;
use crate::runtime::status::{Phase, StatusBoard};

/// Generous: a loaded 2-core machine; on paused time it costs nothing.
const WAIT: Duration = Duration::from_secs(60);

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "servicepack-notify-{}-{}",
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

/// Plans independent services `(name, counts towards readiness)` on `board`.
fn plan(board: &StatusBoard, names: &[(&'static str, bool)]) {
    let plan = Plan::new(names.iter().map(|&(name, _)| (name, [""; 0]))).unwrap();
    board.plan(
        Arc::new(plan),
        names.iter().map(|&(_, counts)| (false, counts)),
    );
}

fn board(names: &[(&'static str, bool)]) -> Arc<StatusBoard> {
    let board = StatusBoard::new();
    plan(&board, names);
    board
}

fn systemd(socket: SocketName, ping_every: Option<Duration>) -> NotifyConfig {
    NotifyConfig {
        systemd: Some(SystemdConfig { socket, ping_every }),
        ..NotifyConfig::default()
    }
}

/// Runs the notifier for `board` until the returned sender is used.
fn start(
    config: NotifyConfig,
    board: &Arc<StatusBoard>,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (finish, finished) = oneshot::channel::<()>();
    let status = board.handle();
    let task = tokio::spawn(async move {
        alongside(&config, status, async move {
            let _ = finished.await;
        })
        .await;
    });
    (finish, task)
}

async fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0; 256];
    let len = tokio::time::timeout(WAIT, socket.recv(&mut buf))
        .await
        .expect("a datagram within the wait")
        .expect("recv works");
    String::from_utf8(buf[..len].to_vec()).expect("datagrams are UTF-8")
}

fn nothing_more(socket: &UnixDatagram) {
    let mut buf = [0; 256];
    match socket.try_recv(&mut buf) {
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!(
            "no further datagram expected, got {:?}",
            other.map(|len| String::from_utf8_lossy(&buf[..len]).into_owned())
        ),
    }
}

fn set(board: &StatusBoard, node: usize, state: State) {
    board.record(node, |cell| {
        cell.state(state);
    });
}

#[tokio::test]
async fn systemd_hears_status_ready_and_stopping_in_order() {
    let dir = TempDir::new();
    let path = dir.0.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let board = StatusBoard::new();
    let (finish, task) = start(systemd(SocketName::Path(path), None), &board);

    plan(&board, &[("db", true), ("api", true)]);
    assert_eq!(next(&socket).await, "STATUS=0/2 services ready");
    set(&board, 0, State::Ready);
    assert_eq!(next(&socket).await, "STATUS=1/2 services ready");
    // A change that leaves the count alone says nothing: the next datagram is the next count.
    set(&board, 1, State::Starting);
    set(&board, 1, State::Ready);
    assert_eq!(next(&socket).await, "STATUS=2/2 services ready");
    assert_eq!(next(&socket).await, "READY=1");
    // Readiness lost and regained: the count follows, READY=1 is said once.
    set(&board, 0, State::Retrying);
    assert_eq!(next(&socket).await, "STATUS=1/2 services ready");
    set(&board, 0, State::Ready);
    assert_eq!(next(&socket).await, "STATUS=2/2 services ready");
    board.set_phase(Phase::Draining);
    assert_eq!(next(&socket).await, "STOPPING=1");
    board.set_phase(Phase::Stopping);
    set(&board, 1, State::Stopping);
    assert_eq!(next(&socket).await, "STATUS=1/2 services ready");
    set(&board, 0, State::Stopped);
    assert_eq!(next(&socket).await, "STATUS=0/2 services ready");

    finish.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    nothing_more(&socket);
}

#[tokio::test]
async fn an_abstract_socket_is_reached_and_a_fatal_end_still_says_stopping() {
    let name = format!("servicepack-notify-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = std::os::unix::net::UnixDatagram::bind_addr(&addr).unwrap();
    socket.set_nonblocking(true).unwrap();
    let socket = UnixDatagram::from_std(socket).unwrap();
    let config =
        NotifyConfig::from_lookup(|var| (var == NOTIFY_SOCKET).then(|| format!("@{name}")))
            .unwrap();
    let board = board(&[("db", true), ("cache", false)]);
    let (finish, task) = start(config, &board);

    assert_eq!(next(&socket).await, "STATUS=0/1 services ready");
    // Straight to stopped, never ready: no READY=1, and the end is told before `alongside`
    // returns, even when the watcher had no time to see the phase change.
    board.set_phase(Phase::Stopped);
    finish.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    assert_eq!(next(&socket).await, "STOPPING=1");
    nothing_more(&socket);
}

#[tokio::test(start_paused = true)]
async fn the_watchdog_pings_every_half_interval_until_the_app_ends() {
    let dir = TempDir::new();
    let path = dir.0.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let config = NotifyConfig::from_lookup(|var| match var {
        NOTIFY_SOCKET => Some(path.display().to_string()),
        WATCHDOG_USEC => Some("30000000".to_owned()),
        _ => None,
    })
    .unwrap();
    // No plan: only the pings are sent.
    let board = StatusBoard::new();
    let started = Instant::now();
    let (finish, task) = start(config, &board);
    for ping in 1..=4 {
        assert_eq!(next(&socket).await, "WATCHDOG=1");
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(15 * ping),
            "ping {ping} at half of WATCHDOG_USEC after the one before"
        );
    }
    finish.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    nothing_more(&socket);
}

#[tokio::test]
async fn nobody_listening_is_not_an_error_of_the_app() {
    let dir = TempDir::new();
    let board = board(&[("db", true)]);
    let (finish, task) = start(
        systemd(
            SocketName::Path(dir.0.join("absent.sock")),
            Some(Duration::from_millis(1)),
        ),
        &board,
    );
    set(&board, 0, State::Ready);
    tokio::time::sleep(Duration::from_millis(20)).await;
    finish.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}

/// Reads what the pipe gets until every writer is closed, on a thread with a deadline.
fn read_to_end(mut reader: std::io::PipeReader) -> Vec<u8> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = sender.send(reader.read_to_end(&mut bytes).map(|_| bytes));
    });
    receiver
        .recv_timeout(WAIT)
        .expect("the pipe reached end-of-file: every copy of the writing end is closed")
        .expect("the pipe reads")
}

#[tokio::test]
async fn ready_fd_gets_one_newline_once_ready_then_is_closed() {
    let (reader, writer) = std::io::pipe().unwrap();
    // systemd too, to know when the notifier has seen each change.
    let dir = TempDir::new();
    let path = dir.0.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let config = NotifyConfig {
        ready_fd: Some(writer.as_raw_fd()),
        ..systemd(SocketName::Path(path), None)
    };
    let board = board(&[("db", true)]);
    let (finish, task) = start(config, &board);
    assert_eq!(next(&socket).await, "STATUS=0/1 services ready");
    set(&board, 0, State::Ready);
    assert_eq!(next(&socket).await, "STATUS=1/1 services ready");
    assert_eq!(next(&socket).await, "READY=1");
    set(&board, 0, State::Retrying);
    assert_eq!(next(&socket).await, "STATUS=0/1 services ready");
    set(&board, 0, State::Ready);
    assert_eq!(next(&socket).await, "STATUS=1/1 services ready");
    board.set_phase(Phase::Stopped);
    finish.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    // Our own end of the pipe (the one "inherited") closes here; the notifier's copy must
    // be closed already, or this read never ends.
    drop(writer);
    assert_eq!(read_to_end(reader), b"\n");
}

#[tokio::test]
async fn ready_fd_gets_nothing_when_the_app_never_became_ready() {
    let (reader, writer) = std::io::pipe().unwrap();
    let config = NotifyConfig {
        ready_fd: Some(writer.as_raw_fd()),
        ..NotifyConfig::default()
    };
    let board = board(&[("db", true)]);
    let (finish, task) = start(config, &board);
    set(&board, 0, State::Failed);
    board.set_phase(Phase::Stopped);
    finish.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    drop(writer);
    assert_eq!(read_to_end(reader), b"");
}

#[test]
fn a_pipe_without_a_reader_is_a_write_error_not_a_hang() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut ready_fd = super::ready_fd::ReadyFd::open(writer.as_raw_fd()).unwrap();
    let error = ready_fd.ready().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    assert!(ready_fd.ready().is_ok(), "the fd is written once");
}

#[test]
fn an_allowed_failure_leaves_the_count() {
    let board = board(&[("db", true), ("cache", true)]);
    let mut progress = watch::Progress::default();
    let count = |ready, total| watch::Event::Count { ready, total };
    assert_eq!(progress.step(&board.handle().snapshot()), [count(0, 2)]);
    set(&board, 0, State::Ready);
    board.record(1, |cell| {
        cell.state(State::Failed).stop_counting();
    });
    assert_eq!(
        progress.step(&board.handle().snapshot()),
        [count(1, 1), watch::Event::Ready]
    );
    assert_eq!(progress.step(&board.handle().snapshot()), []);
}

#[test]
fn stopping_is_said_before_the_count_it_explains() {
    let board = board(&[("db", true)]);
    let mut progress = watch::Progress::default();
    set(&board, 0, State::Ready);
    let count = |ready, total| watch::Event::Count { ready, total };
    assert_eq!(
        progress.step(&board.handle().snapshot()),
        [count(1, 1), watch::Event::Ready]
    );
    board.set_phase(Phase::Stopping);
    set(&board, 0, State::Stopping);
    assert_eq!(
        progress.step(&board.handle().snapshot()),
        [watch::Event::Stopping, count(0, 1)]
    );
}

#[test]
fn the_pings_stop_while_the_runtime_is_wedged() {
    let dir = TempDir::new();
    let path = dir.0.join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let config = systemd(SocketName::Path(path), Some(Duration::from_millis(20)));
    let (wedged, wedge) = std::sync::mpsc::channel::<()>();
    let app = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(alongside(
            &config,
            StatusBoard::new().handle(),
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                // A service that blocks the runtime's only thread.
                wedged.send(()).unwrap();
                std::thread::sleep(Duration::from_secs(2));
                tokio::time::sleep(Duration::from_millis(100)).await;
            },
        ));
    });
    let mut buf = [0; 64];
    // A receive with a timeout fails with EINTR when the process is stopped and continued
    // (signal(7)); that is not what is tested here.
    let recv = |buf: &mut [u8]| loop {
        match socket.recv(buf) {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    };
    socket.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(recv(&mut buf).unwrap(), b"WATCHDOG=1".len(), "pings before");
    wedge.recv_timeout(WAIT).unwrap();
    // What was sent before the wedge is queued; nothing comes while it lasts.
    socket.set_nonblocking(true).unwrap();
    while socket.recv(&mut buf).is_ok() {}
    socket.set_nonblocking(false).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let during = recv(&mut buf);
    assert!(
        during
            .as_ref()
            .is_err_and(|error| error.kind() == std::io::ErrorKind::WouldBlock),
        "no ping while the runtime is wedged: {during:?}"
    );
    socket.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(recv(&mut buf).unwrap(), b"WATCHDOG=1".len(), "pings after");
    app.join().unwrap();
}
