//! Generates the app's tasks: `DISTINCT_SERVICES` (default 1,000) distinct `async fn`s,
//! the plain-tokio counterpart of the servicepack app's distinct service types.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-env-changed=DISTINCT_SERVICES");
    let n: usize = std::env::var("DISTINCT_SERVICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let mut code = format!("/// How many tasks there are.\nconst SERVICES: usize = {n};\n");
    let mut spawn = String::from(
        "/// Spawns every task, each with a child token of `token`.\n\
         fn spawn_all(tracker: &TaskTracker, token: &CancellationToken) {\n",
    );
    for i in 0..n {
        let _ = write!(
            code,
            "
/// Distinct task number {i}.
async fn svc_{i:05}(token: CancellationToken) {{
    std::hint::black_box({i}_u64);
    entered();
    token.cancelled().await;
}}
"
        );
        let _ = writeln!(spawn, "    tracker.spawn(svc_{i:05}(token.child_token()));");
    }
    code.push_str(&spawn);
    code.push_str("}\n");
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("tasks.rs"), code).expect("OUT_DIR is writable");
}
