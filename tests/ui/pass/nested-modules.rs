// Services at any depth of modules, depending on each other across modules by path.
use servicepack::__private::SERVICES;

mod storage {
    pub mod sql {
        use servicepack::prelude::*;

        #[service(notify_ready)]
        #[derive(Default)]
        pub struct Database;

        impl Service for Database {
            async fn run(&self, ctx: Context) -> Result<()> {
                ctx.ready();
                ctx.cancelled().await;
                Ok(())
            }
        }

        #[service]
        #[derive(Default)]
        pub struct Database2;

        impl Service for Database2 {
            async fn run(&self, _ctx: Context) -> Result<()> {
                Ok(())
            }
        }

        pub(crate) mod replicas {
            use servicepack::prelude::*;

            #[service(depends_on = [super::Database])]
            #[derive(Default)]
            pub(crate) struct Replica;

            impl Service for Replica {
                async fn run(&self, ctx: Context) -> Result<()> {
                    ctx.cancelled().await;
                    Ok(())
                }
            }
        }
    }
}

mod web {
    use servicepack::prelude::*;

    use crate::storage::sql::{self, replicas};

    #[service(depends_on = [sql::Database, replicas::Replica, crate::storage::sql::Database2])]
    #[derive(Default)]
    struct Frontend;

    impl Service for Frontend {
        async fn run(&self, ctx: Context) -> Result<()> {
            ctx.cancelled().await;
            Ok(())
        }
    }
}

fn main() {
    fn construct_inside_a_function() {
        use servicepack::prelude::*;

        #[service]
        #[derive(Default)]
        struct LocalJob;

        impl Service for LocalJob {
            async fn run(&self, _ctx: Context) -> Result<()> {
                Ok(())
            }
        }
    }
    construct_inside_a_function();

    let frontend = SERVICES.iter().find(|entry| entry.name == "frontend").unwrap();
    assert_eq!(frontend.type_name.split_once("::").unwrap().1, "web::Frontend");
    assert_eq!(frontend.depends_on, ["database", "replica", "database2"]);
    let replica = SERVICES.iter().find(|entry| entry.name == "replica").unwrap();
    assert_eq!(replica.type_name.split_once("::").unwrap().1, "storage::sql::replicas::Replica");
    assert!(SERVICES.iter().any(|entry| entry.name == "local-job"));
}
