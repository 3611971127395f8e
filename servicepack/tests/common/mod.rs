//! Recording services for the runtime tests: each `Probe` plays a script (one behaviour
//! per attempt, the last one repeating) and writes what happened, with the paused clock's
//! time, into a shared log.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use servicepack::prelude::*;
use servicepack::{Policy, ServiceDef};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What one attempt of `run` does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Run {
    /// `ctx.ready()`, then run until cancelled, then `Ok`.
    Serve,
    /// Sleep, then `ctx.ready()`, then run until cancelled (cancellation cuts the sleep).
    ServeAfter(Duration),
    /// Run until cancelled without ever calling `ctx.ready()`.
    NeverReady,
    /// Sleep, then return `Ok` (a one-shot job).
    ExitAfter(Duration),
    /// Sleep, then return an error.
    FailAfter(Duration),
    /// Sleep, then panic.
    PanicAfter(Duration),
    /// `ctx.ready()`, then ignore the token: return only once `stop` was called.
    IgnoreToken,
    /// `ctx.ready()`, then wait for the token and return an error.
    FailOnCancel,
    /// Block the thread (`std::thread::sleep`), then serve.
    BlockThenServe(Duration),
    /// Spin without yielding, then serve.
    BusyThenServe(Duration),
}

/// What `stop` does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    Ok,
    Fail,
    Panic,
    Hang,
    Sleep(Duration),
    /// Block the thread, then return `Ok`.
    Block(Duration),
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    Constructed,
    Run(u32),
    Ready(u32),
    Returned {
        attempt: u32,
        ok: bool,
    },
    /// The attempt is about to panic.
    Panicked(u32),
    /// The run future was dropped before it finished (ready timeout, stop deadline).
    Dropped(u32),
    /// `stop` was called: how long until the deadline, whether its context was live, and
    /// whether the run token was cancelled at that moment.
    Stop {
        deadline: Option<Duration>,
        live: bool,
    },
    StopReturned,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rec {
    pub at: Duration,
    pub service: String,
    pub ev: Ev,
}

/// The shared log.
#[derive(Clone)]
pub struct Log {
    start: Instant,
    recs: Arc<Mutex<Vec<Rec>>>,
}

impl Log {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            recs: Arc::default(),
        }
    }

    pub fn push(&self, service: &str, ev: Ev) {
        let at = self.start.elapsed();
        self.recs.lock().unwrap().push(Rec {
            at,
            service: service.to_owned(),
            ev,
        });
    }

    pub fn all(&self) -> Vec<Rec> {
        self.recs.lock().unwrap().clone()
    }

    /// Events of one service.
    pub fn of(&self, service: &str) -> Vec<Ev> {
        self.all()
            .into_iter()
            .filter(|r| r.service == service)
            .map(|r| r.ev)
            .collect()
    }

    /// When `service` first recorded an event matching `pred`.
    pub fn when(&self, service: &str, pred: impl Fn(&Ev) -> bool) -> Option<Duration> {
        self.all()
            .into_iter()
            .find(|r| r.service == service && pred(&r.ev))
            .map(|r| r.at)
    }

    /// Index in the log of `service`'s first event matching `pred`.
    pub fn index(&self, service: &str, pred: impl Fn(&Ev) -> bool) -> Option<usize> {
        self.all()
            .iter()
            .position(|r| r.service == service && pred(&r.ev))
    }

    pub fn runs(&self, service: &str) -> usize {
        self.of(service)
            .iter()
            .filter(|e| matches!(e, Ev::Run(_)))
            .count()
    }

    pub fn stops(&self, service: &str) -> usize {
        self.of(service)
            .iter()
            .filter(|e| matches!(e, Ev::Stop { .. }))
            .count()
    }

    pub fn start(&self) -> Instant {
        self.start
    }
}

pub fn is_run(ev: &Ev) -> bool {
    matches!(ev, Ev::Run(_))
}

pub fn is_stop(ev: &Ev) -> bool {
    matches!(ev, Ev::Stop { .. })
}

pub fn is_ready(ev: &Ev) -> bool {
    matches!(ev, Ev::Ready(_))
}

/// A scripted, recording service.
pub struct Probe {
    name: String,
    log: Log,
    script: Vec<Run>,
    stop: Stop,
    stop_called: CancellationToken,
}

impl Probe {
    pub fn new(log: &Log, name: &str, script: &[Run], stop: Stop) -> Self {
        assert!(!script.is_empty());
        Self {
            name: name.to_owned(),
            log: log.clone(),
            script: script.to_vec(),
            stop,
            stop_called: CancellationToken::new(),
        }
    }

    fn behaviour(&self, attempt: u32) -> Run {
        let i = (attempt as usize - 1).min(self.script.len() - 1);
        self.script[i]
    }
}

impl Service for Probe {
    async fn run(&self, ctx: Context) -> Result<()> {
        let attempt = ctx.attempt();
        self.log.push(&self.name, Ev::Run(attempt));
        let mut guard = DropGuard {
            log: &self.log,
            name: &self.name,
            attempt,
            armed: true,
        };
        let ready = || {
            self.log.push(&self.name, Ev::Ready(attempt));
            ctx.ready();
        };
        let result: Result<()> = match self.behaviour(attempt) {
            Run::Serve => {
                ready();
                ctx.cancelled().await;
                Ok(())
            }
            Run::ServeAfter(d) => {
                tokio::select! {
                    () = tokio::time::sleep(d) => {
                        ready();
                        ctx.cancelled().await;
                    }
                    () = ctx.cancelled() => {}
                }
                Ok(())
            }
            Run::NeverReady => {
                ctx.cancelled().await;
                Ok(())
            }
            Run::ExitAfter(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Run::FailAfter(d) => {
                tokio::time::sleep(d).await;
                Err(format!("{} attempt {attempt} failed", self.name).into())
            }
            Run::PanicAfter(d) => {
                tokio::time::sleep(d).await;
                guard.armed = false;
                self.log.push(&self.name, Ev::Panicked(attempt));
                panic!("{} attempt {attempt} blew up", self.name);
            }
            Run::IgnoreToken => {
                ready();
                self.stop_called.cancelled().await;
                Ok(())
            }
            Run::FailOnCancel => {
                ready();
                ctx.cancelled().await;
                Err("interrupted".into())
            }
            Run::BlockThenServe(d) => {
                std::thread::sleep(d);
                ready();
                ctx.cancelled().await;
                Ok(())
            }
            Run::BusyThenServe(d) => {
                let start = std::time::Instant::now();
                while start.elapsed() < d {
                    std::hint::spin_loop();
                }
                ready();
                ctx.cancelled().await;
                Ok(())
            }
        };
        guard.armed = false;
        self.log.push(
            &self.name,
            Ev::Returned {
                attempt,
                ok: result.is_ok(),
            },
        );
        result
    }

    async fn stop(&self, ctx: Context) -> Result<()> {
        let deadline = ctx
            .deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        self.log.push(
            &self.name,
            Ev::Stop {
                deadline,
                live: !ctx.is_cancelled(),
            },
        );
        self.stop_called.cancel();
        let result = match self.stop {
            Stop::Ok => Ok(()),
            Stop::Fail => Err("flush failed".into()),
            Stop::Panic => panic!("{} stop blew up", self.name),
            Stop::Hang => std::future::pending().await,
            Stop::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Stop::Block(d) => {
                std::thread::sleep(d);
                Ok(())
            }
        };
        self.log.push(&self.name, Ev::StopReturned);
        result
    }
}

/// Records `Dropped` when a run future is dropped before it finished.
struct DropGuard<'a> {
    log: &'a Log,
    name: &'a str,
    attempt: u32,
    armed: bool,
}

impl Drop for DropGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.log.push(self.name, Ev::Dropped(self.attempt));
        }
    }
}

/// A `ServiceDef` for a probe, constructed lazily (recording `Constructed`).
pub fn def(
    log: &Log,
    name: &str,
    script: &[Run],
    stop: Stop,
    policy: Policy,
    deps: &[&str],
) -> ServiceDef {
    let probe = Probe::new(log, name, script, stop);
    let log = log.clone();
    let owned = name.to_owned();
    ServiceDef::lazy(owned.clone(), move || {
        log.push(&owned, Ev::Constructed);
        Ok(probe)
    })
    .policy(policy)
    .depends_on(deps.iter().map(|d| (*d).to_owned()))
}

/// A service whose constructor fails (after recording `Constructed`).
pub fn broken(log: &Log, name: &str, policy: Policy, deps: &[&str]) -> ServiceDef {
    let log = log.clone();
    let owned = name.to_owned();
    ServiceDef::lazy(owned.clone(), move || -> Result<Probe> {
        log.push(&owned, Ev::Constructed);
        Err("constructor failed".into())
    })
    .policy(policy)
    .depends_on(deps.iter().map(|d| (*d).to_owned()))
}

/// A probe with default policy and `Stop::Ok`.
pub fn simple(log: &Log, name: &str, script: &[Run], deps: &[&str]) -> ServiceDef {
    def(log, name, script, Stop::Ok, Policy::new(), deps)
}

pub const MS: Duration = Duration::from_millis(1);
pub const SEC: Duration = Duration::from_secs(1);

/// Silences the default panic hook (the runtime reports caught panics itself).
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        // Proptest reports a failed case with a panic: that one must be seen.
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("Test failed") {
            eprintln!("{message}");
        }
    }));
}
