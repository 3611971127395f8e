use servicepack::prelude::*;

#[service]
#[derive(Default)]
struct Worker<T> {
    inner: T,
}

fn main() {}
