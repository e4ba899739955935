//! Skiff: a lightweight Kubernetes distribution in one binary.

pub mod api;
pub mod selectors;
pub mod storage;
pub mod validation;
