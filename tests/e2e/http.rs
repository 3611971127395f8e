//! A minimal HTTP/1.1 client over `std::net` for the ops endpoint tests: one request per
//! connection, raw bytes in, status, head and body out; every wait bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long any connect, write or read may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One answer.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status code (0: no status line came back).
    pub(crate) status: u16,
    /// The status line and the headers, lowercased.
    pub(crate) head: String,
    /// The body as text.
    pub(crate) body: String,
}

impl Reply {
    /// The body parsed as JSON; panics with the body when it is not.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

/// Sends `raw` on a new connection and reads until the server closes it.
pub(crate) fn exchange(addr: SocketAddr, raw: &[u8]) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(raw)?;
    let mut out = Vec::new();
    // A server that answers early (413, 431) may reset instead of reading the rest.
    if let Err(error) = stream.read_to_end(&mut out)
        && out.is_empty()
    {
        return Err(error);
    }
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok(Reply {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    })
}

/// `GET path` with extra header lines (each ending in `\r\n`).
pub(crate) fn get(addr: SocketAddr, path: &str, headers: &str) -> Reply {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n");
    exchange(addr, raw.as_bytes()).unwrap_or_else(|error| panic!("GET {path} on {addr}: {error}"))
}
