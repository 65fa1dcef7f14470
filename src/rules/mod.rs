//! InfluxDB 1.x's rules, each in one place, for every layer that needs them (the engine, the
//! stores, the HTTP layer): a rule written twice drifts (the shard-group rule once had four
//! copies, one of them wrong at exactly 180 days).
//!
//! * [`shards`]: retention-policy durations and the shard groups 1.x cuts time into.
//! * [`cardinality`]: what `max-series-per-database` and `max-values-per-tag` count, their texts.
//! * [`quote`]: Go's `%q`, as 1.x's texts quote names.

pub mod cardinality;
pub mod quote;
pub mod shards;
