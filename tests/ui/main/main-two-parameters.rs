#[servicepack::main]
fn main(app: &mut servicepack::App, verbose: bool) {
    let _ = (app, verbose);
}
