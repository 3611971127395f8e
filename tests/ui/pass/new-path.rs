// `new = path` names the constructor: an associated function, a free function in
// another module, or a generic function instantiated for the service. It runs only
// when the service is constructed.
use std::sync::atomic::{AtomicU32, Ordering};

use servicepack::__private::SERVICES;
use servicepack::prelude::*;

static CONSTRUCTED: AtomicU32 = AtomicU32::new(0);

#[service(new = Self::open)]
struct Associated {
    port: u16,
}

impl Associated {
    fn open() -> Result<Self> {
        CONSTRUCTED.fetch_add(1, Ordering::SeqCst);
        Ok(Self { port: "8080".parse()? })
    }
}

mod constructors {
    pub fn failing() -> servicepack::Result<super::Failing> {
        Err("the configuration file is missing".into())
    }

    pub fn boxed<T: Default>() -> servicepack::Result<T> {
        Ok(T::default())
    }
}

#[service(new = constructors::failing)]
struct Failing;

#[service(new = constructors::boxed::<Self>)]
#[derive(Default)]
struct Generic;

macro_rules! noop_service {
    ($($ty:ty),*) => {$(
        impl Service for $ty {
            async fn run(&self, _ctx: Context) -> Result<()> {
                Ok(())
            }
        }
    )*};
}

noop_service!(Associated, Failing, Generic);

fn main() {
    assert_eq!(CONSTRUCTED.load(Ordering::SeqCst), 0, "construction is lazy");
    let entry = |name: &str| SERVICES.iter().find(|entry| entry.name == name).unwrap();
    assert!((entry("associated").construct)().is_ok());
    assert_eq!(CONSTRUCTED.load(Ordering::SeqCst), 1);
    let error = (entry("failing").construct)().err().unwrap();
    assert_eq!(error.to_string(), "the configuration file is missing");
    assert!((entry("generic").construct)().is_ok());
    let _ = Associated { port: 1 }.port;
}
