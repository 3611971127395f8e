#[servicepack::main]
fn main() -> Result<(), String> {
    Ok(())
}
