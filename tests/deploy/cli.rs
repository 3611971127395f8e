//! The command itself: what it writes and prints, what it refuses, and with which code.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::support::{Scratch, app, deploy, deploy_ok, showcase, shown};

const TARGETS: [&str; 7] = [
    "systemd",
    "runit",
    "daemontools",
    "s6",
    "compose",
    "swarm",
    "kubernetes",
];

/// Every file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_target_writes_exactly_the_files_it_lists() {
    let scratch = Scratch::new("cli-list");
    for target in TARGETS {
        let out = scratch.path(&format!("nested/{target}"));
        let mut listed = deploy_ok(target, &out, &[]);
        listed.sort();
        assert!(!listed.is_empty(), "{target}: no file listed");
        assert_eq!(listed, files_under(&out), "{target}: listed vs written");
    }
}

#[test]
fn the_same_registry_and_flags_give_byte_identical_files() {
    let scratch = Scratch::new("cli-same");
    for target in TARGETS {
        let flags = [
            "--services",
            "example-api,example-database",
            "--ops-port-base",
            "7000",
        ];
        let first = deploy_ok(target, &scratch.path(&format!("{target}-1")), &flags);
        let second = deploy_ok(target, &scratch.path(&format!("{target}-2")), &flags);
        assert_eq!(first.len(), second.len(), "{target}");
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(
                fs::read(a).unwrap(),
                fs::read(b).unwrap(),
                "{target}: {}",
                a.display()
            );
        }
    }
}

#[test]
fn services_selects_the_units_and_ports_stay_put() {
    let scratch = Scratch::new("cli-select");
    let out = scratch.path("units");
    let written = deploy_ok(
        "systemd",
        &out,
        &["--services", "example-database, example-api"],
    );
    let names: Vec<String> = written
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "showcase-example-api.service",
            "showcase-example-database.service",
            "showcase.target"
        ]
    );
    let database = fs::read_to_string(out.join("showcase-example-database.service")).unwrap();
    // example-database is third among the registered services by name.
    assert!(
        database.contains("Environment=OPS_ADDR=127.0.0.1:9102\n"),
        "{database}"
    );
    let api = fs::read_to_string(out.join("showcase-example-api.service")).unwrap();
    assert!(
        api.contains("Requires=showcase-example-database.service\n"),
        "{api}"
    );
    assert!(
        !api.contains("example-flaky"),
        "flaky is not deployed here: {api}"
    );
}

#[test]
fn a_directory_with_files_is_refused_unless_forced() {
    let scratch = Scratch::new("cli-force");
    let out = scratch.path("units");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine").unwrap();
    let out_text = out.to_str().unwrap();
    let output = deploy(&["runit", "--out", out_text]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing listed: {}",
        shown(&output)
    );
    assert_eq!(
        files_under(&out),
        [out.join("notes.txt")],
        "nothing written"
    );

    let output = deploy(&["runit", "--out", out_text, "--force"]);
    assert!(output.status.success(), "{}", shown(&output));
    assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

#[test]
fn symlinks_are_never_followed() {
    let scratch = Scratch::new("cli-symlink");
    let real = scratch.path("real");
    fs::create_dir(&real).unwrap();
    let link = scratch.path("link");
    symlink(&real, &link).unwrap();
    let output = deploy(&["compose", "--out", link.to_str().unwrap(), "--force"]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is a symlink"),
        "{}",
        shown(&output)
    );
    assert!(files_under(&real).is_empty());

    // A file inside, pointing outside: --force must not write through it.
    let out = scratch.path("out");
    deploy_ok("compose", &out, &[]);
    let outside = scratch.path("outside.txt");
    fs::write(&outside, "precious").unwrap();
    fs::remove_file(out.join("compose.yaml")).unwrap();
    symlink(&outside, out.join("compose.yaml")).unwrap();
    let output = deploy(&["compose", "--out", out.to_str().unwrap(), "--force"]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    assert_eq!(fs::read_to_string(&outside).unwrap(), "precious");
}

#[test]
fn bad_flags_exit_2_naming_the_fix() {
    let scratch = Scratch::new("cli-flags");
    let out = scratch.path("units");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["systemd", "--out", out, "--services", "example-nope"],
            "registered services: example-api",
        ),
        (
            &["systemd", "--out", out, "--binary", "showcase"],
            "--binary \"showcase\"",
        ),
        (
            &["systemd", "--out", out, "--ops-port-base", "65530"],
            "--ops-port-base 65530",
        ),
        (&["openrc", "--out", out], "invalid value 'openrc'"),
        (&["systemd"], "--out <DIR>"),
    ];
    for (args, expected) in cases {
        let output = deploy(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            shown(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(expected),
            "{args:?}: {expected:?} not in {stderr}"
        );
    }
    assert!(!Path::new(out).exists(), "nothing written");
}

#[test]
fn deploy_constructs_no_service() {
    // example-database's constructor rejects this URL: deploy must not call it.
    let scratch = Scratch::new("cli-construct");
    let output = app(showcase(), &["deploy", "s6", "--out"])
        .arg(scratch.path("units"))
        .env("DATABASE_URL", "not a url")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", shown(&output));
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL"),
        "{}",
        shown(&output)
    );
}

#[test]
fn help_names_every_target() {
    let output = deploy(&["--help"]);
    assert!(output.status.success(), "{}", shown(&output));
    let help = String::from_utf8_lossy(&output.stdout);
    for target in TARGETS {
        assert!(help.contains(target), "{target} not in {help}");
    }
}

/// The README's "Deploying" section, up to the next top-level heading.
fn deploying_section() -> String {
    let readme = fs::read_to_string(crate::support::workspace().join("README.md")).unwrap();
    let start = readme
        .find("\n## Deploying\n")
        .expect("README has a Deploying section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |at| at + 3);
    rest[..end].to_owned()
}

#[test]
fn readme_transcripts_are_what_deploy_prints() {
    let section = deploying_section();
    let prompt = "$ cargo run -q -p showcase -- deploy ";
    let scratch = Scratch::new("cli-readme");
    let mut checked = Vec::new();
    for (i, (_, block)) in fenced_blocks(&section).iter().enumerate() {
        let Some(command) = block
            .lines()
            .next()
            .and_then(|line| line.strip_prefix(prompt))
        else {
            continue;
        };
        let args: Vec<&str> = command.split_whitespace().collect();
        let out_at = args.iter().position(|arg| *arg == "--out").unwrap() + 1;
        let shown_dir = args[out_at];
        let real_dir = scratch.path(&format!("block-{i}"));
        let mut real_args = args.clone();
        let real_text = real_dir.to_str().unwrap().to_owned();
        real_args[out_at] = &real_text;
        let output = deploy(&real_args);
        assert!(output.status.success(), "{command}: {}", shown(&output));
        let printed = String::from_utf8_lossy(&output.stdout).replace(&real_text, shown_dir);
        let expected = block.split_once('\n').map_or("", |(_, rest)| rest);
        assert_eq!(printed, expected, "README transcript of `{command}`");
        checked.push(args[0].to_owned());
    }
    checked.sort();
    let mut all = TARGETS.map(str::to_owned).to_vec();
    all.sort();
    assert_eq!(checked, all, "one transcript per target");

    // The unit shown in full is the one deploy writes, header aside.
    let blocks = fenced_blocks(&section);
    let (_, unit) = blocks
        .iter()
        .find(|(info, _)| info == "ini")
        .expect("an ini block");
    let out = scratch.path("units");
    deploy_ok("systemd", &out, &[]);
    let written = fs::read_to_string(out.join("showcase-example-api.service")).unwrap();
    let (_header, body) = written.split_once('\n').unwrap();
    assert_eq!(unit, body);
}

/// The fenced blocks of `text`: their info string and their body.
fn fenced_blocks(text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines() {
        match (line.strip_prefix("```"), open.take()) {
            (Some(_), Some(block)) => blocks.push(block),
            (Some(info), None) => open = Some((info.to_owned(), String::new())),
            (None, Some((info, mut body))) => {
                body.push_str(line);
                body.push('\n');
                open = Some((info, body));
            }
            (None, None) => {}
        }
    }
    blocks
}
