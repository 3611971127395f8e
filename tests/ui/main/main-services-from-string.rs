#[servicepack::main(services_from = "billing-service")]
fn main() {}
