//! The control routes in-process against a real runner on paused time: the codes of
//! SPEC §8 that the end-to-end test cannot provoke on demand (429 with `Retry-After`,
//! 504, 503 during shutdown) and the answers of commands.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response};

use super::TOKEN;
use crate::ops::access::Access;
use crate::ops::admin::Admin;
use crate::ops::config::Token;
use crate::ops::routes::{self, Endpoint, ResponseBody};
use crate::registry::CommandsEntry;
use crate::service::BoxFuture;
use crate::{Context, Control, Result, Runner, Service, ServiceDef};

const SEC: Duration = Duration::from_secs(1);

#[derive(clap::Subcommand)]
enum WorkerCommand {
    /// Sleeps, unless cancelled.
    Sleep {
        #[arg(long)]
        secs: u64,
    },
    Fail,
    Panic,
}

struct Worker;

impl Service for Worker {
    async fn run(&self, ctx: Context) -> Result<()> {
        ctx.cancelled().await;
        Ok(())
    }
}

fn unused(_: clap::ArgMatches, _: Context) -> BoxFuture<'static, Result<()>> {
    Box::pin(async { Err("not called in these tests".into()) })
}

fn dispatch(
    instance: crate::runtime::erased::Instance,
    matches: clap::ArgMatches,
    ctx: Context,
) -> BoxFuture<'static, Result<()>> {
    Box::pin(async move {
        assert!(
            instance.downcast_ref::<Worker>().is_some(),
            "the running Worker"
        );
        match <WorkerCommand as clap::FromArgMatches>::from_arg_matches(&matches)? {
            WorkerCommand::Sleep { secs } => {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(secs)) => Ok(()),
                    () = ctx.cancelled() => Err("cancelled".into()),
                }
            }
            WorkerCommand::Fail => Err("the cache is gone".into()),
            WorkerCommand::Panic => panic!("the cache exploded"),
        }
    })
}

/// A runner of `worker` and `plain`, the endpoint with its control routes, and the run.
fn app(
    max: usize,
    timeout: Duration,
    drain: Duration,
) -> (
    Arc<Endpoint>,
    Control,
    tokio::task::JoinHandle<crate::Report>,
) {
    let runner = Runner::new()
        .service(ServiceDef::new("worker", Worker))
        .service(ServiceDef::new("plain", Worker))
        .drain_delay(drain)
        .command_limits(max, timeout);
    let control = runner.control();
    let entry = CommandsEntry {
        augment: <WorkerCommand as clap::Subcommand>::augment_subcommands,
        run: unused,
        dispatch,
    };
    let endpoint = Arc::new(Endpoint {
        status: runner.status(),
        access: Access::new("127.0.0.1:1".parse().unwrap(), Some(Token::new(TOKEN))),
        user: None,
        admin: Some(Arc::new(Admin {
            control: control.clone(),
            token: Token::new(TOKEN),
            commands: vec![("worker", entry)],
            command_timeout: timeout,
        })),
    });
    (endpoint, control, tokio::spawn(runner.run()))
}

async fn post(endpoint: &Endpoint, path: &str, body: &str) -> (u16, Option<String>, String) {
    let request = Request::post(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response: Response<ResponseBody> = routes::handle(endpoint, request).await;
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, retry, String::from_utf8(body.to_vec()).unwrap())
}

const COMMANDS: &str = "/admin/services/worker/commands";

#[tokio::test(start_paused = true)]
async fn command_answers_carry_the_outcome() {
    let (endpoint, control, run) = app(4, 30 * SEC, Duration::ZERO);
    tokio::time::sleep(SEC).await;
    let ok = post(&endpoint, COMMANDS, r#"{"args":["sleep","--secs","1"]}"#).await;
    assert_eq!(ok, (200, None, r#"{"ok":true}"#.to_owned()));
    let failed = post(&endpoint, COMMANDS, r#"{"args":["fail"]}"#).await;
    assert_eq!(
        failed,
        (
            200,
            None,
            r#"{"error":"the cache is gone","ok":false}"#.to_owned()
        )
    );
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let panicked = post(&endpoint, COMMANDS, r#"{"args":["panic"]}"#).await;
    std::panic::set_hook(previous);
    assert_eq!(panicked.0, 200);
    assert!(panicked.2.contains("the cache exploded"), "{panicked:?}");
    assert!(panicked.2.contains(r#""ok":false"#), "{panicked:?}");
    let unparsed = post(&endpoint, COMMANDS, r#"{"args":["sleep"]}"#).await;
    assert_eq!(unparsed.0, 400);
    assert!(
        unparsed.2.contains("--secs"),
        "clap's message: {unparsed:?}"
    );
    let not_json = post(&endpoint, COMMANDS, "up").await;
    assert_eq!(not_json.0, 400, "{not_json:?}");
    let plain = post(
        &endpoint,
        "/admin/services/plain/commands",
        r#"{"args":[]}"#,
    )
    .await;
    assert_eq!(plain.0, 404, "{plain:?}");
    let nobody = post(
        &endpoint,
        "/admin/services/nobody/commands",
        r#"{"args":[]}"#,
    )
    .await;
    assert_eq!(nobody.0, 404, "{nobody:?}");
    let request = Request::get("/metrics")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let metrics = routes::handle(&endpoint, request).await;
    let metrics = metrics.into_body().collect().await.unwrap().to_bytes();
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    for line in [
        "servicepack_commands_total{service=\"worker\",outcome=\"ok\"} 1\n",
        "servicepack_commands_total{service=\"worker\",outcome=\"error\"} 2\n",
        "servicepack_commands_total{service=\"worker\",outcome=\"invalid\"} 2\n",
        "servicepack_commands_in_flight 0\n",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    control.shutdown();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_second_command_is_429_with_retry_after_and_a_slow_one_504() {
    let (endpoint, control, run) = app(4, 5 * SEC, Duration::ZERO);
    tokio::time::sleep(SEC).await;
    let slow = tokio::spawn({
        let endpoint = Arc::clone(&endpoint);
        async move { post(&endpoint, COMMANDS, r#"{"args":["sleep","--secs","60"]}"#).await }
    });
    tokio::time::sleep(SEC).await;
    let busy = post(&endpoint, COMMANDS, r#"{"args":["fail"]}"#).await;
    assert_eq!(busy.0, 429, "{busy:?}");
    assert_eq!(busy.1.as_deref(), Some("1"));
    let (status, _, body) = slow.await.unwrap();
    assert_eq!(status, 504, "{body}");
    assert_eq!(endpoint.answer_timeout(), Duration::from_secs(60));
    assert!(body.contains("OPS_COMMAND_TIMEOUT"), "{body}");
    // The place is free again.
    let ok = post(&endpoint, COMMANDS, r#"{"args":["sleep","--secs","1"]}"#).await;
    assert_eq!(ok.0, 200);
    control.shutdown();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn during_shutdown_commands_are_503_and_restarts_409() {
    let (endpoint, _control, run) = app(4, 30 * SEC, 5 * SEC);
    tokio::time::sleep(SEC).await;
    let restart = post(&endpoint, "/admin/services/plain/restart", "").await;
    assert_eq!(restart.0, 202, "{restart:?}");
    let unknown = post(&endpoint, "/admin/services/nobody/restart", "").await;
    assert_eq!(unknown.0, 404, "{unknown:?}");
    let shutdown = post(&endpoint, "/admin/shutdown", "").await;
    assert_eq!(shutdown.0, 202, "{shutdown:?}");
    // Draining for 5 s: services run, but nothing new is accepted.
    tokio::time::sleep(SEC).await;
    let refused = post(&endpoint, COMMANDS, r#"{"args":["fail"]}"#).await;
    assert_eq!(refused.0, 503, "{refused:?}");
    let stopping = post(&endpoint, "/admin/services/plain/restart", "").await;
    assert_eq!(stopping.0, 409, "{stopping:?}");
    // Asking again does not force the exit.
    assert_eq!(post(&endpoint, "/admin/shutdown", "").await.0, 202);
    assert_eq!(run.await.unwrap().exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_long_command_timeout_lengthens_the_answer_deadline() {
    let (endpoint, control, run) = app(4, 120 * SEC, Duration::ZERO);
    assert_eq!(endpoint.answer_timeout(), 125 * SEC);
    control.shutdown();
    assert_eq!(run.await.unwrap().exit_code(), 0);
}
