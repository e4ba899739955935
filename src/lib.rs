//! Skiff: a lightweight Kubernetes distribution in one binary.

pub mod api;
pub mod auth;
pub mod bench;
pub mod check;
pub mod config;
pub mod controllers;
pub mod defaults;
pub mod dns;
pub mod kubelet;
pub mod openapi;
pub mod pki;
pub mod printers;
pub mod protobuf;
pub mod proxy;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod storage;
pub mod validation;
