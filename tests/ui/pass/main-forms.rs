// `#[servicepack::main]` on `fn()` and on `fn(app: &mut App)`, with attributes, a body
// that runs as setup, and `crate = path`. The generated functions are not called here
// (that would start the app); their types are checked.
use std::process::ExitCode;

use servicepack::prelude::*;

mod plain {
    /// A documented main.
    #[servicepack::main]
    pub(crate) fn main() {}
}

mod with_app {
    use servicepack::App;

    #[servicepack::main]
    pub(crate) fn main(app: &mut App) {
        app.pre_run(|_ctx| async { Ok(()) })
            .post_stop(|_ctx| async { Ok(()) });
        if std::env::var_os("NEVER_SET_BY_ANYONE").is_some() {
            return;
        }
        helper();
    }

    fn helper() {}
}

mod with_body {
    #[servicepack::main]
    pub(crate) fn main() {
        let _ = "setup without an App parameter";
    }
}

mod reexported {
    mod framework {
        pub(crate) use ::servicepack as runtime;
    }

    #[framework::runtime::main(crate = self::framework::runtime)]
    pub(crate) fn main(_: &mut framework::runtime::App) {}
}

mod named_differently {
    #[servicepack::main]
    pub(crate) fn start(app: &mut servicepack::App) {
        let _ = app;
    }
}

#[service]
#[derive(Default)]
struct Worker;

impl Service for Worker {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {
    let mains: [fn() -> ExitCode; 5] = [
        plain::main,
        with_app::main,
        with_body::main,
        reexported::main,
        named_differently::start,
    ];
    assert_eq!(mains.len(), 5);
}
