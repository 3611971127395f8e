//! The error type that services return.

/// The error a service, a constructor, a hook or a command returns.
///
/// It is a boxed [`std::error::Error`], so `?` converts any error type into it, and
/// `"text".into()` or `String::into()` make one from a message.
///
/// # Examples
///
/// ```
/// use servicepack::{Error, Result};
///
/// fn parse_port(text: &str) -> Result<u16> {
///     let port: u16 = text.parse()?; // ParseIntError converts with `?`
///     if port == 0 {
///         return Err("port 0 is reserved; pick a port from 1 to 65535".into());
///     }
///     Ok(port)
/// }
///
/// assert_eq!(parse_port("8080").unwrap(), 8080);
/// let error: Error = parse_port("0").unwrap_err();
/// assert!(error.to_string().contains("reserved"));
/// ```
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result<T, servicepack::Error>`, with `T = ()` by default.
///
/// # Examples
///
/// ```
/// fn connect() -> servicepack::Result {
///     Ok(())
/// }
/// # connect().unwrap();
/// ```
pub type Result<T = (), E = Error> = core::result::Result<T, E>;
