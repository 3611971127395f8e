use servicepack::prelude::*;

#[service]
#[derive(Default)]
struct Worker;

fn main() {}
