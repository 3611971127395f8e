use servicepack::prelude::*;

#[service]
enum Worker {
    Idle,
}

fn main() {}
