//! Skiff: a lightweight Kubernetes distribution in one binary.

pub mod api;
pub mod protobuf;
pub mod storage;
