#[servicepack::main]
async fn main() {}
