//! The hostile-input suite: what a client holding an ordinary token (or none) could do to take the
//! server down, fill its memory or file descriptors, or write where it may not — one module per
//! attack surface, each test starting the real binary (and the real store where one is needed).
//!
//! Every test here failed on the code before its fix (the closing notes of the hardening issue
//! record how each was seen failing), and each bound it exercises has a key in `config.toml`.

#[path = "../common/mod.rs"]
mod common;
mod cardinality;
mod connections;
mod health;
mod queries;
mod raw;
mod throttling;
mod vm_cardinality;
mod vm_labels;
mod write_limits;
