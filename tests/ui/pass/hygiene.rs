// The expansions name only absolute paths: user items that shadow prelude names in the
// same module change nothing.
#![allow(dead_code, non_camel_case_types, unused_macros)]

use ::servicepack::prelude::{service, Context, Service};

struct Result;
struct Ok;
struct Err;
struct Box;
struct String;
struct Option;
struct Some;
struct None;
struct Vec;
trait Default {}
trait Send {}
trait Sync {}
struct Duration;
struct Policy;
struct Entry;
struct Registered;
mod core {}
mod std {}
mod servicepack {}
macro_rules! concat {
    ($($t:tt)*) => {
        compile_error!("the user's `concat!` was called")
    };
}
macro_rules! module_path {
    () => {
        compile_error!("the user's `module_path!` was called")
    };
}

#[service(retries = 1, delay = "1s", backoff = "exponential", depends_on = [Dependency, "x"])]
#[derive(::core::default::Default)]
struct Shadowed;

#[service(new = Self::make)]
struct Dependency;

impl Dependency {
    fn make() -> ::servicepack::Result<Self> {
        ::core::result::Result::Ok(Self)
    }
}

impl Service for Shadowed {
    async fn run(&self, _ctx: Context) -> ::servicepack::Result<()> {
        ::core::result::Result::Ok(())
    }
}

impl Service for Dependency {
    async fn run(&self, _ctx: Context) -> ::servicepack::Result<()> {
        ::core::result::Result::Ok(())
    }
}

// `#[servicepack::main]` too; the attribute is named from the crate root, since a local
// `mod servicepack` shadows the crate here.
#[::servicepack::main]
fn app(app: &mut ::servicepack::App) {
    let _ = app;
}

#[::servicepack::main]
fn app_without_setup() {}

fn main() {
    let _: [fn() -> ::std::process::ExitCode; 2] = [app, app_without_setup];
    let names: ::std::vec::Vec<&str> = ::servicepack::__private::SERVICES.iter().map(|entry| entry.name).collect();
    assert!(names.contains(&"shadowed"));
}
