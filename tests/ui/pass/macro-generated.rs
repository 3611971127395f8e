// Arguments passed through `macro_rules!` fragments (`$x:expr`, `$t:ty`, `$l:literal`)
// arrive in invisible groups; they are parsed like written ones.
use servicepack::__private::SERVICES;
use servicepack::prelude::*;

macro_rules! define_service {
    ($name:ident, $service_name:literal, $retries:expr, $delay:expr) => {
        #[service(name = $service_name, retries = $retries, delay = $delay)]
        #[derive(Default)]
        struct $name;

        impl Service for $name {
            async fn run(&self, _ctx: Context) -> Result<()> {
                Ok(())
            }
        }
    };
}

define_service!(First, "first", 3, "1s");
define_service!(Second, "second", "unlimited", "250ms");

fn main() {
    let first = SERVICES.iter().find(|entry| entry.name == "first").unwrap();
    assert_eq!(first.policy.retries, servicepack::Retries::Limited(3));
    let second = SERVICES.iter().find(|entry| entry.name == "second").unwrap();
    assert_eq!(second.policy.delay, std::time::Duration::from_millis(250));
}
