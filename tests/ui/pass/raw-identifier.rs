// A raw identifier loses its `r#` in the default name and the type name.
#![allow(non_camel_case_types)]

use servicepack::__private::SERVICES;
use servicepack::prelude::*;

#[service]
#[derive(Default)]
struct r#type;

#[service(depends_on = [r#type])]
#[derive(Default)]
struct r#Match;

impl Service for r#type {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

impl Service for r#Match {
    async fn run(&self, _ctx: Context) -> Result<()> {
        Ok(())
    }
}

fn main() {
    let entry = SERVICES.iter().find(|entry| entry.name == "type").unwrap();
    assert_eq!(entry.type_name.split_once("::").unwrap().1, "type");
    let entry = SERVICES.iter().find(|entry| entry.name == "match").unwrap();
    assert_eq!(entry.depends_on, ["type"]);
}
