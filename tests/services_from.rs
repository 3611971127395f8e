//! `#[servicepack::main(services_from = [billing])]` links a library crate's services;
//! without it, a crate that the binary never names is not linked and its services vanish.

use std::process::Command;

fn registered(binary: &str) -> Vec<String> {
    let output = Command::new(binary)
        .args(["services", "--json"])
        .output()
        .expect("the test binary runs");
    assert!(
        output.status.success(),
        "{binary} services --json failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let services: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("`services --json` prints JSON");
    let mut names: Vec<String> = services
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|service| service["name"].as_str().expect("a name").to_owned())
        .collect();
    names.sort_unstable();
    names
}

#[test]
fn services_from_links_the_named_crates() {
    assert_eq!(
        registered(env!("CARGO_BIN_EXE_billing-named")),
        ["billing-gateway", "invoicer", "storefront"]
    );
}

#[test]
fn a_crate_the_binary_never_names_is_not_linked() {
    assert_eq!(
        registered(env!("CARGO_BIN_EXE_billing-unnamed")),
        ["storefront"]
    );
}
