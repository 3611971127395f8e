// `services_from` names library crates; here, the `billing` fixture. The services of a
// crate named there are registered, those of its nested modules too.
use servicepack::__private::SERVICES;

mod app {
    #[servicepack::main(services_from = [billing])]
    pub(crate) fn main() {}
}

fn main() {
    let _ = app::main;
    let mut names: Vec<&str> = SERVICES.iter().map(|entry| entry.name).collect();
    names.sort_unstable();
    assert_eq!(names, ["billing-gateway", "invoicer"]);
}
