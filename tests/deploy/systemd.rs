//! systemd: every generated unit passes `systemd-analyze verify` with no output at all.

use std::process::Command;

use crate::support::{Scratch, Timer, deploy_ok, have, showcase, shown};

#[test]
fn every_unit_passes_systemd_analyze_verify_silently() {
    if !have(
        "systemd verify",
        &["systemd-analyze"],
        "the Debian package `systemd`",
    ) {
        return;
    }
    let _timer = Timer::start("systemd verify");
    let scratch = Scratch::new("systemd");
    let out = scratch.path("units");
    // verify checks that ExecStart's binary exists: point the units at the real one.
    let binary = showcase().to_str().expect("the target dir is UTF-8");
    let written = deploy_ok("systemd", &out, &["--binary", binary]);
    let names: Vec<String> = written
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"showcase.target".to_owned()), "{names:?}");
    assert_eq!(names.len(), 10, "nine services and the target: {names:?}");
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .args(&names)
        .current_dir(&out)
        .output()
        .expect("systemd-analyze runs");
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "systemd-analyze verify {names:?}: {}",
        shown(&output)
    );
}
