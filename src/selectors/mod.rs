//! Label selectors, ported from upstream `k8s.io/apimachinery/pkg/labels`.
//!
//! Supports the full query-string grammar (`a=b`, `a==b`, `a!=b`,
//! `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`) with upstream's
//! error messages, matching against label maps, conversion from a
//! `metav1.LabelSelector`, and formatting back to the string form.
//!
//! `requirement.rs` holds the operators and requirements, `selector.rs` the selector and its
//! constructors, `matching.rs` matching against label sets, `lexer.rs` and `parser.rs` the
//! query-string grammar.

mod lexer;
mod matching;
mod parser;
mod requirement;
mod selector;

#[cfg(test)]
mod tests;

pub use matching::Labels;
pub use requirement::{Operator, Requirement};
pub use selector::Selector;
