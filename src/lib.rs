//! airlock: an OpenAI-compatible gateway that decides, for every request,
//! whether it may and should run on a model the organisation owns or one it
//! rents: sensitivity first (a hard rule that fails closed), complexity
//! second, volume third.
//!
//! Map of the crate, in the order a request meets it:
//! - [`app`]: builds the listener and shared state; runs until shutdown.
//! - [`api`]: HTTP routes, auth, error bodies, response headers.
//! - [`openai`]: the wire types we expose, parsed once into checked views.
//! - [`anthropic_api`]: the Anthropic Messages API we also expose, translated
//!   to and from the OpenAI shape the rest of the crate works on.
//! - [`classify`]: sensitivity detectors and the complexity scorer (pure).
//! - [`route`]: the pure decision, and the tier filter (the hard rule).
//! - [`pipeline`]: classify + decide, shared by serving and explain.
//! - [`redact`]: placeholders out, originals back in (JSON and streams).
//! - [`providers`]: per-protocol adapters and the transport (timeouts, streams).
//! - [`health`]: backend states from probes and call outcomes.
//! - [`memory`]: salted hashes of sensitive exchanges, so resent history stays sensitive.
//! - [`observe`]: one record per request, fed to metrics, logs and sinks.
//! - [`config`]: TOML + env into the trusted `Config`.
//! - `fuzz` (tests and the `fuzzing` feature only): fuzz targets for every
//!   parser of untrusted bytes.

pub mod affinity;
pub mod anthropic_api;
pub mod api;
pub mod app;
pub mod audit;
pub mod capacity;
pub mod classify;
pub mod config;
pub mod cost;
pub mod eval;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
pub mod health;
pub mod memory;
pub mod observe;
pub mod openai;
pub mod pipeline;
pub mod providers;
pub mod ratelimit;
pub mod redact;
pub mod reload;
pub mod route;
pub mod state;
pub mod types;
pub mod volume;

pub use app::App;
