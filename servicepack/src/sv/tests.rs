//! Golden status files recorded from the real tools (`fixtures/record.sh`; what the tool
//! said is beside each one in a `.txt`), and arbitrary bytes into every decoder.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use super::{DecodeError, Record, State, Supervisor};

struct Golden {
    file: &'static str,
    bytes: &'static [u8],
    supervisor: Supervisor,
    state: State,
    pid: Option<u32>,
    ready: Option<bool>,
    want_up: bool,
    want_down: bool,
    since: &'static str,
}

macro_rules! golden {
    ($file:literal, $supervisor:ident, $state:ident, $pid:expr, $ready:expr, $want_up:expr, $want_down:expr, $since:literal) => {
        Golden {
            file: $file,
            bytes: include_bytes!(concat!("fixtures/", $file, ".status")),
            supervisor: Supervisor::$supervisor,
            state: State::$state,
            pid: $pid,
            ready: $ready,
            want_up: $want_up,
            want_down: $want_down,
            since: $since,
        }
    };
}

/// Each row is what the `.txt` beside the file says (`sv status`, `svstat`,
/// `s6-svstat -o up,wantedup,ready,paused,pid,updownfor,readyfor`).
const GOLDEN: [Golden; 14] = [
    // run: runit: (pid 18180) 2s
    golden!(
        "runit-up",
        Runit,
        Up,
        Some(18180),
        None,
        false,
        false,
        "2026-12-01T17:06:52.318Z"
    ),
    // run: runit: (pid 18180) 2s, paused
    golden!(
        "runit-paused",
        Runit,
        Paused,
        Some(18180),
        None,
        false,
        false,
        "2026-12-01T17:06:52.318Z"
    ),
    // finish: runit: (pid 18410) 3s, want down
    golden!(
        "runit-finishing",
        Runit,
        Finishing,
        Some(18410),
        None,
        false,
        true,
        "2026-12-01T17:06:52.318Z"
    ),
    // down: runit: 2s, normally up
    golden!(
        "runit-down",
        Runit,
        Down,
        None,
        None,
        false,
        false,
        "2026-12-01T17:06:56.906Z"
    ),
    // daemontools: up (pid 18181) 2 seconds
    golden!(
        "daemontools-up",
        Daemontools,
        Up,
        Some(18181),
        None,
        false,
        false,
        "2026-12-01T17:06:52.331Z"
    ),
    // daemontools: up (pid 18181) 2 seconds, paused
    golden!(
        "daemontools-paused",
        Daemontools,
        Paused,
        Some(18181),
        None,
        false,
        false,
        "2026-12-01T17:06:52.331Z"
    ),
    // daemontools: up (pid 6593) 1 seconds (after `svc -o`: want byte 0, no preference)
    golden!(
        "daemontools-once",
        Daemontools,
        Up,
        Some(6593),
        None,
        false,
        false,
        "2026-12-01T17:15:46.614Z"
    ),
    // daemontools: down 4 seconds, normally up
    golden!(
        "daemontools-down",
        Daemontools,
        Down,
        None,
        None,
        false,
        false,
        "2026-12-01T17:06:54.893Z"
    ),
    // true true false false 18182 2 2
    golden!(
        "s6-up",
        S6,
        Up,
        Some(18182),
        Some(false),
        false,
        false,
        "2026-12-01T17:06:52.332Z"
    ),
    // true true true false 18185 2 1
    golden!(
        "s6-ready",
        S6,
        Up,
        Some(18185),
        Some(true),
        false,
        false,
        "2026-12-01T17:06:52.330Z"
    ),
    // true true false true 18182 2 2
    golden!(
        "s6-paused",
        S6,
        Paused,
        Some(18182),
        Some(false),
        false,
        false,
        "2026-12-01T17:06:52.332Z"
    ),
    // false false false false -1 0 3
    golden!(
        "s6-finishing",
        S6,
        Finishing,
        None,
        Some(false),
        false,
        false,
        "2026-12-01T17:06:54.899Z"
    ),
    // false false false false -1 3 1
    golden!(
        "s6-down",
        S6,
        Down,
        None,
        Some(false),
        false,
        false,
        "2026-12-01T17:06:54.899Z"
    ),
    // The 43-byte layout: s6-ready with a process group id.
    golden!(
        "s6-43-ready",
        S6,
        Up,
        Some(18185),
        Some(true),
        false,
        false,
        "2026-12-01T17:06:52.330Z"
    ),
];

fn bytes_of(file: &str) -> &'static [u8] {
    GOLDEN
        .iter()
        .find(|golden| golden.file == file)
        .map_or_else(|| panic!("no golden file {file}"), |golden| golden.bytes)
}

#[test]
fn golden_files_decode_as_the_real_tools_read_them() {
    for golden in &GOLDEN {
        let record = Record::decode(golden.supervisor, golden.bytes)
            .unwrap_or_else(|error| panic!("{}: {error}", golden.file));
        let expected = (
            golden.state,
            golden.pid,
            golden.ready,
            golden.want_up,
            golden.want_down,
        );
        let found = (
            record.state,
            record.pid,
            record.ready,
            record.want_up,
            record.want_down,
        );
        assert_eq!(found, expected, "{}", golden.file);
        assert_eq!(record.since_rfc3339(), golden.since, "{}", golden.file);
        assert_eq!(record.supervisor, golden.supervisor, "{}", golden.file);
    }
}

#[test]
fn golden_seconds_agree_with_the_tools() {
    // runit-finishing: the tool said 3s, two seconds after `down` plus the wait.
    let finishing = Record::decode(Supervisor::Runit, bytes_of("runit-finishing")).unwrap();
    let told = finishing.since + Duration::from_millis(3500);
    assert_eq!(finishing.seconds_at(told), 3);
    // A stamp in the future counts as 0 seconds, as the tools clamp it.
    assert_eq!(finishing.seconds_at(UNIX_EPOCH), 0);
}

#[test]
fn a_file_of_the_wrong_layout_is_an_error_naming_the_lengths() {
    let runit = bytes_of("runit-up");
    let error = Record::decode(Supervisor::Daemontools, runit).unwrap_err();
    assert_eq!(error.to_string(), "20 bytes, but daemontools writes 18");
    let error = Record::decode(Supervisor::S6, runit).unwrap_err();
    assert_eq!(error.to_string(), "20 bytes, but s6 writes 35 or 43");
    let mut bad_state = runit.to_vec();
    bad_state[19] = 7;
    let error = Record::decode(Supervisor::Runit, &bad_state).unwrap_err();
    assert_eq!(
        error.to_string(),
        "state byte 0x07, but runit writes 0 (down), 1 (run) or 2 (finish)"
    );
    let mut bad_want = bytes_of("daemontools-up").to_vec();
    bad_want[17] = b'x';
    let error = Record::decode(Supervisor::Daemontools, &bad_want).unwrap_err();
    assert_eq!(
        error.to_string(),
        "want byte 0x78, but daemontools writes 'u', 'd' or 0"
    );
    let mut bad_pid = bytes_of("s6-up").to_vec();
    bad_pid[24] = 1;
    let error = Record::decode(Supervisor::S6, &bad_pid).unwrap_err();
    assert!(matches!(error, DecodeError::Pid { .. }), "{error}");
}

const ALL: [Supervisor; 3] = [Supervisor::Runit, Supervisor::Daemontools, Supervisor::S6];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any bytes, of any length up to past the longest layout, into every decoder:
    /// decoded, or an error that says something.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        for supervisor in ALL {
            match Record::decode(supervisor, &bytes) {
                Ok(record) => {
                    prop_assert_eq!(record.supervisor, supervisor);
                    let _ = record.since_rfc3339();
                }
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }
    }

    /// Bytes of exactly each layout's length, with the stamps made plausible so the
    /// decoders get past them: the flags and pids decide, and never panic.
    #[test]
    fn arbitrary_fields_of_the_right_length_never_panic(
        len in prop::sample::select(vec![18usize, 20, 35, 43]),
        mut bytes in proptest::collection::vec(any::<u8>(), 43),
        label in (1u64 << 62) + 40..(1u64 << 63),
        nanos in 0u32..1_000_000_000,
    ) {
        bytes.truncate(len);
        let mut stamp = [0; 12];
        stamp[..8].copy_from_slice(&label.to_be_bytes());
        stamp[8..].copy_from_slice(&nanos.to_be_bytes());
        bytes[..12].copy_from_slice(&stamp);
        if len >= 35 {
            bytes[12..24].copy_from_slice(&stamp);
        }
        for supervisor in ALL {
            if let Ok(record) = Record::decode(supervisor, &bytes) {
                if record.state == State::Down {
                    prop_assert_eq!(record.pid, None);
                }
                if matches!(record.state, State::Up | State::Paused) {
                    prop_assert!(record.pid.is_some());
                }
                prop_assert_eq!(record.ready.is_some(), supervisor == Supervisor::S6);
                prop_assert!(!(record.want_up && record.want_down));
            }
        }
    }
}
