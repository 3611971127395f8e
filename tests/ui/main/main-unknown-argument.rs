#[servicepack::main(flavor = "multi_thread")]
fn main() {}
