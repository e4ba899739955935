//! The generic API machinery: resource types as data, served over one generic store.

pub mod admission;
pub mod auth;
pub mod bootstrap;
pub mod builtin;
pub mod cache;
pub mod codec;
pub mod crd;
pub mod discovery;
pub mod errors;
pub mod filter;
pub mod handler;
pub mod metrics;
pub mod namespace;
pub mod object;
pub mod patch;
pub mod registry;
pub mod request;
pub mod resource;
pub mod response;
pub mod rest;
pub mod store;
pub mod strategy;
pub mod table;
pub mod validate;
pub mod watch;
