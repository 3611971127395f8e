
impl {{type}} {
    /// Builds the service (`#[service(new = Self::new)]`): an error returned here is a
    /// failure of the service, reported with its name, and not retried.
    pub fn new() -> Result<Self> {
        Ok(Self::default())
    }
}
