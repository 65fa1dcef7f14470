//! Expectations computed by the real InfluxDB 1.6.7 (query in the comment of each test).
use super::*;
