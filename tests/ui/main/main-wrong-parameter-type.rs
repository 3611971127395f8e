#[servicepack::main]
fn main(app: &mut String) {
    app.push('!');
}
