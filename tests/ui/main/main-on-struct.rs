#[servicepack::main]
struct App;

fn main() {}
