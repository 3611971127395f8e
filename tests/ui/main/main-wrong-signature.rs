#[servicepack::main]
fn main(app: servicepack::App) {
    let _ = app;
}
