//! Service account credentials: the signing key and JWTs ([`jwt`]), bound tokens ([`tokens`]),
//! the TokenRequest/TokenReview/SelfSubjectReview/access review APIs and OIDC discovery
//! ([`reviews`]), and the per-namespace `default` account and CA ConfigMap ([`controller`]).

pub mod controller;
pub mod jwt;
pub mod reviews;
pub mod tokens;

pub use tokens::TokenIssuer;
