//! Skiff: a lightweight Kubernetes distribution in one binary.

pub mod api;
pub mod bench;
pub mod check;
pub mod config;
pub mod openapi;
pub mod pki;
pub mod printers;
pub mod protobuf;
pub mod server;
pub mod storage;
