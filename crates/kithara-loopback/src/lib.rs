#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod body;
mod log;
pub mod media;
mod payload;
mod radio;
mod respond;
mod route;
mod server;
mod throttle;

pub use log::{RequestRecord, ResponseEnd};
pub use payload::payload;
pub use radio::Radio;
pub use route::{Fault, Route};
pub use server::{LoopbackServer, ServerStats};
pub use throttle::ThrottleHandle;
