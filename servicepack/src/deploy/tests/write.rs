//! The writer on a real directory: what it creates, what it refuses, and that a refused
//! run changes nothing.

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::deploy::Artifact;
use crate::deploy::write::{WriteError, write_all};

/// A fresh directory under the system's temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "servicepack-deploy-write-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn files() -> Vec<Artifact> {
    vec![
        Artifact::file("app-db/env/OPS_ADDR", "127.0.0.1:9100\n"),
        Artifact::script("app-db/log/run", "#!/bin/sh\nexec svlogd -tt ./main\n"),
        Artifact::script("app-db/run", "#!/bin/sh\nexec app run\n"),
    ]
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_absent_directory_is_created_with_every_file() {
    let scratch = Scratch::new();
    let out = scratch.0.join("a/b/units");
    let written = write_all(&out, &files(), false).unwrap();
    assert_eq!(
        written,
        [
            out.join("app-db/env/OPS_ADDR"),
            out.join("app-db/log/run"),
            out.join("app-db/run"),
        ]
    );
    assert_eq!(fs::read_to_string(&written[0]).unwrap(), "127.0.0.1:9100\n");
    assert_eq!(mode(&written[0]), 0o644);
    assert_eq!(mode(&written[1]), 0o755);
    assert_eq!(mode(&written[2]), 0o755);
}

#[test]
fn a_directory_with_files_needs_force() {
    let scratch = Scratch::new();
    fs::write(scratch.0.join("mine.txt"), "keep me").unwrap();
    let error = write_all(&scratch.0, &files(), false).unwrap_err();
    assert!(matches!(error, WriteError::NotEmpty(_)), "{error:?}");
    assert!(error.to_string().contains("--force"), "{error}");
    assert!(!scratch.0.join("app-db").exists(), "nothing written");

    write_all(&scratch.0, &files(), true).unwrap();
    fs::write(scratch.0.join("app-db/run"), "old").unwrap();
    write_all(&scratch.0, &files(), true).unwrap();
    assert_eq!(
        fs::read_to_string(scratch.0.join("app-db/run")).unwrap(),
        "#!/bin/sh\nexec app run\n",
        "--force overwrites the files deploy writes"
    );
    assert_eq!(
        fs::read_to_string(scratch.0.join("mine.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn the_output_directory_may_not_be_a_symlink_or_a_file() {
    let scratch = Scratch::new();
    let real = scratch.0.join("real");
    fs::create_dir(&real).unwrap();
    let link = scratch.0.join("link");
    symlink(&real, &link).unwrap();
    let error = write_all(&link, &files(), true).unwrap_err();
    assert!(
        matches!(error, WriteError::Symlink(ref path) if *path == link),
        "{error:?}"
    );
    assert!(
        fs::read_dir(&real).unwrap().next().is_none(),
        "nothing written through it"
    );

    let file = scratch.0.join("file");
    fs::write(&file, "").unwrap();
    let error = write_all(&file, &files(), true).unwrap_err();
    assert!(error.to_string().contains("is not a directory"), "{error}");
}

#[test]
fn symlinks_inside_are_refused_before_anything_is_written() {
    let scratch = Scratch::new();
    let out = scratch.0.join("out");
    let elsewhere = scratch.0.join("elsewhere");
    fs::create_dir_all(out.join("app-db")).unwrap();
    fs::create_dir(&elsewhere).unwrap();

    // A directory on the way that points outside.
    symlink(&elsewhere, out.join("app-db/log")).unwrap();
    let error = write_all(&out, &files(), true).unwrap_err();
    assert!(
        matches!(error, WriteError::Symlink(ref p) if p.ends_with("app-db/log")),
        "{error:?}"
    );
    assert!(fs::read_dir(&elsewhere).unwrap().next().is_none());
    assert!(
        !out.join("app-db/env").exists(),
        "the first file was not written either"
    );
    fs::remove_file(out.join("app-db/log")).unwrap();

    // A file to overwrite that points outside.
    let target = elsewhere.join("passwd");
    fs::write(&target, "precious").unwrap();
    symlink(&target, out.join("app-db/run")).unwrap();
    let error = write_all(&out, &files(), true).unwrap_err();
    assert!(
        matches!(error, WriteError::Symlink(ref p) if p.ends_with("app-db/run")),
        "{error:?}"
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
}

#[test]
fn paths_that_climb_out_are_refused() {
    let scratch = Scratch::new();
    for path in ["../escape", "/etc/passwd", "a/../../b", "a//b", "./a", ""] {
        let error = write_all(&scratch.0, &[Artifact::file(path, "x")], false).unwrap_err();
        assert!(
            matches!(error, WriteError::Outside(_)),
            "{path:?}: {error:?}"
        );
    }
    assert!(fs::read_dir(&scratch.0).unwrap().next().is_none());
}
