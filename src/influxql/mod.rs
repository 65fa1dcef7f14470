//! InfluxQL: lexer, recursive-descent parser and AST, compatible with InfluxDB 1.x (1.6.x).
//!
//! Depends only on `std` and `regex`.

pub mod ast;
pub(crate) mod regex_compat;

pub use ast::*;
