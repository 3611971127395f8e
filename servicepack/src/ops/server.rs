//! The listener and the connections (SPEC §6.5), on hyper's HTTP/1.1 server.
//!
//! hyper parses and writes HTTP; this module adds the limits hyper leaves to its user: at
//! most [`MAX_CONNECTIONS`] at once (more are closed as soon as they are accepted), a head
//! that must be complete [`HEAD_TIMEOUT`] after its first byte, and a keep-alive connection
//! closed after [`IDLE_TIMEOUT`] without a request. Both timers are one `Sleep` per
//! connection, only ever moved earlier as the connection moves between idle, reading a
//! head and answering (one that fires early is re-armed), so a keep-alive request costs no
//! timer update; the clock is tokio's, so the tests run them on paused time. The byte
//! stream also swaps the empty-bodied 400, 414 and 431 that hyper writes itself for
//! answers with a JSON error, like every other error of the endpoint.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

use super::routes::{self, Endpoint};

/// Open connections at most; more are refused.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// The largest request head (`431` past it).
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// How long a request head may take from its first byte.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a keep-alive connection may wait for its next request.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// The deadline while a request is answered: the handler bounds itself (the body read has
/// its own timeout), so this only caps a pathological case; a dispatched command gets its
/// `OPS_COMMAND_TIMEOUT` and 5 s more, if that is longer (`routes::Endpoint`).
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Accepts connections on `listener` until the task is dropped.
pub(crate) async fn accept(listener: TcpListener, endpoint: Arc<Endpoint>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::debug!(%error, "ops endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::debug!("ops endpoint: {MAX_CONNECTIONS} connections open, refusing one");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let endpoint = Arc::clone(&endpoint);
        tokio::spawn(async move {
            serve_connection(stream, endpoint).await;
            drop(permit);
        });
    }
}

/// Where a connection is, and since when.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first byte of a request.
    Idle,
    /// The first byte of a head arrived; the head is not complete.
    Head,
    /// hyper handed the request over; the answer is being made.
    Answer,
}

/// The phase and since when, and how long an answer may take.
struct Watch(Mutex<(Phase, Instant)>, Duration);

impl Watch {
    fn set(&self, phase: Phase) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = (phase, Instant::now());
    }

    fn deadline(&self) -> Instant {
        let (phase, since) = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        since
            + match phase {
                Phase::Idle => IDLE_TIMEOUT,
                Phase::Head => HEAD_TIMEOUT,
                Phase::Answer => self.1,
            }
    }

    /// Bytes arrived: an idle connection starts reading a head.
    fn bytes_arrived(&self) {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.0 == Phase::Idle {
            *guard = (Phase::Head, Instant::now());
        }
    }
}

/// Serves one connection until the client closes it, a limit ends it, or hyper gives up
/// on it (after writing `400` or `431` for a bad head).
pub(crate) async fn serve_connection<I>(io: I, endpoint: Arc<Endpoint>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = Arc::new(Watch(
        Mutex::new((Phase::Idle, Instant::now())),
        endpoint.answer_timeout(),
    ));
    let io = Watched::new(io, Arc::clone(&watch));
    let service = service_fn({
        let watch = Arc::clone(&watch);
        move |request| {
            let endpoint = Arc::clone(&endpoint);
            let watch = Arc::clone(&watch);
            async move {
                watch.set(Phase::Answer);
                let response = routes::handle(&endpoint, request).await;
                watch.set(Phase::Idle);
                Ok::<_, Infallible>(response)
            }
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .max_header_size(MAX_HEAD)
        .max_buf_size(2 * MAX_HEAD)
        .header_read_timeout(None)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    let connection = std::pin::pin!(connection);
    let sleep = std::pin::pin!(tokio::time::sleep_until(watch.deadline()));
    Deadline {
        connection,
        sleep,
        watch: &watch,
    }
    .await;
}

/// The connection raced against the deadline of its current phase.
struct Deadline<'a, C> {
    connection: Pin<&'a mut C>,
    sleep: Pin<&'a mut Sleep>,
    watch: &'a Watch,
}

impl<C: Future> Future for Deadline<'_, C> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.connection.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        // Polling the connection may have moved the phase. The timer is only ever moved
        // earlier here; a timer that fires before the phase's deadline is re-armed then.
        // So a request costs no timer update unless it makes the deadline come sooner.
        loop {
            let deadline = self.watch.deadline();
            if deadline < self.sleep.deadline() {
                self.sleep.as_mut().reset(deadline);
            }
            match self.sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    let deadline = self.watch.deadline();
                    if Instant::now() >= deadline {
                        // Dropping the connection closes it.
                        return Poll::Ready(());
                    }
                    self.sleep.as_mut().reset(deadline);
                }
            }
        }
    }
}

/// The byte stream, telling the [`Watch`] when the first byte of a head arrives, and
/// giving hyper's own error answers (`400` for a malformed head, `431` for one too large,
/// written with an empty body) the JSON body every error of the endpoint has.
struct Watched<I> {
    io: I,
    watch: Arc<Watch>,
    /// A replacement being written: the bytes, how many went out, and the length of
    /// hyper's buffer to report once they all did.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<I> Watched<I> {
    fn new(io: I, watch: Arc<Watch>) -> Self {
        Self {
            io,
            watch,
            replacing: None,
        }
    }
}

/// The answer to send instead of `buf` when `buf` is one of hyper's own error answers: a
/// whole head, status 4xx or 5xx, `content-length: 0` (our answers always have a body).
fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let head_end = buf.windows(4).position(|window| window == b"\r\n\r\n")?;
    if head_end + 4 != buf.len() {
        return None;
    }
    let head = std::str::from_utf8(&buf[..head_end + 2]).ok()?;
    let empty = head
        .to_ascii_lowercase()
        .contains("\r\ncontent-length: 0\r\n");
    let status_line = head.lines().next()?;
    let rest = status_line.strip_prefix("HTTP/1.1 ")?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if !empty || !(code.starts_with('4') || code.starts_with('5')) || code.len() != 3 {
        return None;
    }
    let message = match code {
        "400" => "the request is not valid HTTP/1.1".to_owned(),
        "431" => "the request head is larger than 16384 bytes".to_owned(),
        _ => reason.to_ascii_lowercase(),
    };
    let body = serde_json::json!({ "error": message }).to_string();
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.bytes_arrived();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replacing.is_none() {
            match replacement(buf) {
                Some(bytes) => self.replacing = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut self.io).poll_write(cx, buf),
            }
        }
        // hyper hands the same buffer again until we report it written.
        let this = &mut *self;
        while let Some((bytes, written, reported)) = &mut this.replacing {
            if *written == bytes.len() {
                let reported = *reported;
                this.replacing = None;
                return Poll::Ready(Ok(reported));
            }
            let sent =
                std::task::ready!(Pin::new(&mut this.io).poll_write(cx, &bytes[*written..]))?;
            if sent == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += sent;
        }
        Poll::Ready(Ok(0))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
