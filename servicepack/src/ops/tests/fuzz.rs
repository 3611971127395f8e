//! Arbitrary bytes and arbitrary requests thrown at one connection, on paused time:
//! the connection always ends, its task never panics, and whatever it writes is HTTP.

use proptest::prelude::*;

use super::*;

fn run(bytes: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let endpoint = local(&board());
        let (mut client, served) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(server::serve_connection(served, endpoint));
        let _ = client.write_all(bytes).await;
        let _ = client.shutdown().await;
        let out = read_all(&mut client).await;
        let ended = tokio::time::timeout(Duration::from_secs(30), task).await;
        let joined = ended.expect("the connection ends");
        assert!(joined.is_ok(), "the connection task panicked");
        assert!(out.is_empty() || out.starts_with("HTTP/1.1 "), "{out}");
        // Every error answer, ours or hyper's, carries a JSON error.
        if out.starts_with("HTTP/1.1 4") || out.starts_with("HTTP/1.1 5") {
            assert!(out.contains("\r\n\r\n{\"error\":\""), "{out}");
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        run(&bytes);
    }

    #[test]
    fn arbitrary_requests_never_panic(
        method in "(GET|HEAD|POST|[A-Z]{1,8})",
        path in "/[ -~]{0,64}",
        headers in proptest::collection::vec(("[!-~]{0,16}", "[ -~\u{80}-\u{ff}]{0,64}"), 0..8),
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut request = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
        for (name, value) in headers {
            request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(&tail);
        run(&request);
    }
}
