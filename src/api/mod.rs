//! The HTTP client for the Partner API and the pure classification of its answers.
//!
//! [`classify`] turns a status, a `Retry-After` and a body into an [`Outcome`] the
//! importer can act on; [`ApiClient`] sends one request and adds what only the network
//! can tell (connection refused, timeout, dropped connection).

mod base_url;
mod classify;
mod client;
#[cfg(test)]
mod client_tests;

pub use base_url::{BaseUrl, BaseUrlError, PRODUCTION_URL, STAGING_URL};
pub use classify::{classify, Outcome};
pub use client::{Answer, ApiClient, ClientConfig, CREATE_USER_PATH};
