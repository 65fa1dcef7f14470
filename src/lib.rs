//! influxgate: the InfluxDB 1.x HTTP API (`/write`, `/query`) in front of other time-series stores.
//!
//! Layers, outermost first: `server` (HTTP, auth, limits) → `lineproto` (writes) and `influxql` +
//! `query` (reads) → `backend` (stores). `encode` turns query results into 1.x's wire formats.

pub mod backend;
pub mod config;
pub mod encode;
pub mod influxql;
pub mod lineproto;
pub mod logging;
pub mod model;
pub mod query;
pub mod rules;
pub mod server;
pub mod spool;
pub mod token_file;
