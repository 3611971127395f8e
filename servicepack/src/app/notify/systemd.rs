//! One `sd_notify(3)` datagram: a fresh unbound `AF_UNIX` datagram socket, connected to
//! `NOTIFY_SOCKET` (a path or an abstract name), one non-blocking send awaited on the
//! app's runtime. A fresh socket per message, as libsystemd does, so a service manager
//! that re-executes itself is reached at its socket of now.

use std::io;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use super::SocketName;

/// Where the notifications go.
#[derive(Debug)]
pub(super) struct NotifySocket {
    addr: SocketAddr,
    /// What `NOTIFY_SOCKET` said, for messages.
    name: String,
}

impl NotifySocket {
    /// The address of `name`.
    ///
    /// # Errors
    ///
    /// An abstract name or a path too long for `sockaddr_un`.
    pub(super) fn new(name: &SocketName) -> io::Result<Self> {
        let (addr, name) = match name {
            SocketName::Path(path) => {
                (SocketAddr::from_pathname(path)?, path.display().to_string())
            }
            SocketName::Abstract(bytes) => (
                SocketAddr::from_abstract_name(bytes)?,
                format!("@{}", String::from_utf8_lossy(bytes)),
            ),
        };
        Ok(Self { addr, name })
    }

    /// `NOTIFY_SOCKET` as given.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Sends `message` (`READY=1`, `STATUS=…`) as one datagram.
    ///
    /// # Errors
    ///
    /// Nobody listens at the address, or the send failed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the datagram is sent whole or not at all.
    pub(super) async fn send(&self, message: &str) -> io::Result<()> {
        let socket = UnixDatagram::unbound()?;
        socket.connect_addr(&self.addr)?;
        socket.set_nonblocking(true)?;
        let socket = tokio::net::UnixDatagram::from_std(socket)?;
        let sent = socket.send(message.as_bytes()).await?;
        if sent == message.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {sent} of {} bytes", message.len()),
            ))
        }
    }
}
