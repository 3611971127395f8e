//! The ops endpoint (SPEC §6): `/livez`, `/readyz`, `/readyz/{service}`, `/status`,
//! `/metrics` and the status page `/`, served over HTTP/1.1 on the app's own tokio runtime
//! from a [`StatusHandle`](crate::StatusHandle); with `OPS_TOKEN` set, also the control
//! routes of SPEC §8 under `/admin/` (`admin.rs`), on the runtime's
//! [`Control`](crate::Control).
//!
//! The app binds the listener before the first service starts ([`start`]) and keeps the
//! returned endpoint until the process ends. Everything but the variables is behind the
//! `ops` cargo feature (on by default).

pub(crate) mod config;

#[cfg(feature = "ops")]
mod access;
#[cfg(feature = "ops")]
mod admin;
#[cfg(feature = "ops")]
mod metrics;
#[cfg(feature = "ops")]
mod page;
#[cfg(feature = "ops")]
mod process;
#[cfg(feature = "ops")]
mod recorder;
#[cfg(feature = "ops")]
mod routes;
#[cfg(feature = "ops")]
mod server;
#[cfg(all(test, feature = "ops"))]
mod tests;
#[cfg(feature = "ops")]
mod text;

#[cfg(feature = "ops")]
pub(crate) use running::start;

#[cfg(not(feature = "ops"))]
pub(crate) use disabled::start;

#[cfg(feature = "ops")]
mod running {
    use std::sync::Arc;

    use super::access::Access;
    use super::config::{OPS_ADDR, OpsConfig};
    use super::routes::Endpoint;
    use super::{recorder, server};
    use crate::registry::CommandsEntry;
    use crate::{Control, StatusHandle};

    /// The endpoint while it serves; dropping it stops accepting.
    #[derive(Debug)]
    pub(crate) struct Running {
        /// Where it listens (the real port when `OPS_ADDR` said 0).
        pub(crate) addr: std::net::SocketAddr,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Binds `OPS_ADDR` and serves `status` there; `Ok(None)` when `OPS_ADDR` is unset.
    /// Installs the recorder of the `metrics` facade, so user metrics reach `/metrics`.
    /// With `OPS_TOKEN` set and `control` given, serves the control routes too.
    ///
    /// # Errors
    ///
    /// The address cannot be bound; the message names `OPS_ADDR`, the address and why.
    pub(crate) async fn start(
        config: &OpsConfig,
        status: StatusHandle,
        control: Option<(Control, Vec<(&'static str, CommandsEntry)>)>,
    ) -> Result<Option<Running>, String> {
        let Some(addr) = config.addr else {
            return Ok(None);
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|error| format!("cannot listen on {OPS_ADDR}={addr}: {error}"))?;
        let local = listener
            .local_addr()
            .map_err(|error| format!("cannot listen on {OPS_ADDR}={addr}: {error}"))?;
        let user = recorder::install();
        if user.is_none() {
            tracing::warn!(
                "another `metrics` recorder was installed first: metrics recorded through it do not appear on /metrics"
            );
        }
        let access = Access::new(local, config.token.clone());
        let endpoint = Arc::new(Endpoint {
            status,
            access,
            user,
            admin: super::admin::new(config.token.clone(), control, config.command_timeout),
        });
        let task = tokio::spawn(server::accept(listener, endpoint));
        tracing::info!(addr = %local, "ops endpoint listening");
        Ok(Some(Running { addr: local, task }))
    }
}

#[cfg(not(feature = "ops"))]
mod disabled {
    use super::config::OpsConfig;
    use crate::StatusHandle;

    /// Nothing: the `ops` feature is off (and `OPS_ADDR` was refused by the config).
    #[derive(Debug)]
    pub(crate) struct Running;

    /// Serves nothing: without the `ops` feature the config never carries an address.
    pub(crate) async fn start(
        _config: &OpsConfig,
        _status: StatusHandle,
        _control: Option<(
            crate::Control,
            Vec<(&'static str, crate::registry::CommandsEntry)>,
        )>,
    ) -> Result<Option<Running>, String> {
        Ok(None)
    }
}

/// Not public API: what `servicepack-bench` drives the endpoint through (it runs services
/// with a bare [`Runner`](crate::Runner), outside the app layer).
#[cfg(feature = "ops")]
#[doc(hidden)]
pub mod bench {
    use std::net::SocketAddr;

    use super::config::OpsConfig;
    use crate::{AppStatus, StatusHandle};

    /// A serving endpoint; dropping it stops accepting.
    #[derive(Debug)]
    pub struct Endpoint {
        /// Where it listens.
        pub addr: SocketAddr,
        _running: super::running::Running,
    }

    /// Serves `status` on `addr` as `OPS_ADDR=addr` would.
    ///
    /// # Errors
    ///
    /// The address cannot be bound.
    pub async fn serve(addr: SocketAddr, status: StatusHandle) -> Result<Endpoint, String> {
        let config = OpsConfig {
            addr: Some(addr),
            ..OpsConfig::default()
        };
        let running = super::running::start(&config, status, None)
            .await?
            .ok_or("no address")?;
        Ok(Endpoint {
            addr: running.addr,
            _running: running,
        })
    }

    /// The `/metrics` page of `status` (the framework's and the process series).
    #[must_use]
    pub fn render_metrics(status: &AppStatus) -> String {
        super::metrics::render(status, None)
    }
}
