//! The generic API machinery: resource types as data, served over one generic store.

pub mod builtin;
pub mod resource;
