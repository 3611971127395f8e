//! An app without any service, and with a custom command that takes a built-in name.
//! `EMPTY_APP_CLASH=1` adds the clashing command.

#[servicepack::main]
fn main(app: &mut servicepack::App) {
    if std::env::var_os("EMPTY_APP_CLASH").is_some() {
        app.command(clap::Command::new("check"), |_matches, _ctx| async {
            Ok(())
        });
    }
}
