//! Skiff: a lightweight Kubernetes distribution in one binary.

pub mod api;
pub mod check;
pub mod config;
pub mod pki;
pub mod protobuf;
pub mod server;
pub mod storage;
