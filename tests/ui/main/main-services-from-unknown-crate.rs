#[servicepack::main(services_from = [biling])]
fn main() {}
