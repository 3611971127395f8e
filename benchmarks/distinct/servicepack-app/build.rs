//! Generates the app's services: `DISTINCT_SERVICES` (default 1,000) distinct
//! `#[service]` types, each its own struct with its own `run`, as real apps have.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-env-changed=DISTINCT_SERVICES");
    let n: usize = std::env::var("DISTINCT_SERVICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let mut code = format!("/// How many services there are.\nconst SERVICES: usize = {n};\n");
    for i in 0..n {
        let _ = write!(
            code,
            "
/// Distinct service number {i}.
#[service]
#[derive(Default)]
struct Svc{i:05} {{
    seed: u64,
}}

impl Service for Svc{i:05} {{
    async fn run(&self, ctx: Context) -> Result<()> {{
        std::hint::black_box(self.seed ^ {i});
        entered();
        ctx.cancelled().await;
        Ok(())
    }}
}}
"
        );
    }
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("services.rs"), code).expect("OUT_DIR is writable");
}
