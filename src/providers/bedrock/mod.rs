//! The `bedrock` protocol (work in progress).

pub mod eventstream;
pub mod sigv4;
