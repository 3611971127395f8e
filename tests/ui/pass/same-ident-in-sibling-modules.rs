// Two structs called `Server` in sibling modules register as two services, as long as
// their names differ.
use servicepack::__private::SERVICES;

mod http {
    use servicepack::prelude::*;

    #[service(name = "http-server")]
    #[derive(Default)]
    pub struct Server;

    impl Service for Server {
        async fn run(&self, _ctx: Context) -> Result<()> {
            Ok(())
        }
    }
}

mod grpc {
    use servicepack::prelude::*;

    #[service(name = "grpc-server", depends_on = [super::http::Server])]
    #[derive(Default)]
    pub struct Server;

    impl Service for Server {
        async fn run(&self, _ctx: Context) -> Result<()> {
            Ok(())
        }
    }
}

fn main() {
    let mut entries: Vec<_> = SERVICES.iter().map(|entry| (entry.name, entry.type_name.split_once("::").unwrap().1)).collect();
    entries.sort_unstable();
    assert_eq!(
        entries,
        [
            ("grpc-server", "grpc::Server"),
            ("http-server", "http::Server"),
        ]
    );
}
