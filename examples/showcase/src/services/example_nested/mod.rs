//! `example-nested-http` and `example-nested-grpc`: two structs named `Server`.
//!
//! Services can live at any depth and share a type name; only their service names must
//! differ, so both set `name` explicitly.

pub(crate) mod grpc;
pub(crate) mod http;
