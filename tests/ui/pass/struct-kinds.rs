// Unit, tuple and named structs are all services; the default name is the ident in
// kebab-case.
use servicepack::__private::SERVICES;
use servicepack::prelude::*;

#[service]
#[derive(Default)]
struct UnitService;

#[service]
#[derive(Default)]
struct TupleService(u32, String);

#[service]
#[derive(Default)]
struct NamedService {
    count: u32,
    label: String,
}

#[service]
#[derive(Default)]
struct HTTPServer;

macro_rules! run_until_cancelled {
    ($($ty:ty),*) => {$(
        impl Service for $ty {
            async fn run(&self, ctx: Context) -> Result<()> {
                ctx.cancelled().await;
                Ok(())
            }
        }
    )*};
}

run_until_cancelled!(UnitService, TupleService, NamedService, HTTPServer);

fn main() {
    let tuple = TupleService(1, "one".to_owned());
    let named = NamedService { count: 2, label: "two".to_owned() };
    assert_eq!((tuple.0, tuple.1.as_str(), named.count, named.label.as_str()), (1, "one", 2, "two"));
    let mut names: Vec<&str> = SERVICES.iter().map(|entry| entry.name).collect();
    names.sort_unstable();
    assert_eq!(names, ["http-server", "named-service", "tuple-service", "unit-service"]);
    let entry = SERVICES.iter().find(|entry| entry.name == "unit-service").unwrap();
    assert_eq!(entry.type_name.split_once("::").unwrap().1, "UnitService");
    assert!((entry.construct)().is_ok());
}
