//! InfluxDB 1.x's rules, each in one place, for every layer that needs them (the engine, the
//! stores, the HTTP layer): a rule written twice drifts (the shard-group rule once had four
//! copies, one of them wrong at exactly 180 days).
//!
//! * [`durations`]: reading InfluxQL durations and printing them as InfluxQL or as Go does.
//! * [`function_kinds`]: InfluxQL's function names and kinds (aggregate, selector, transformation,
//!   math, ...), for every classifier.
//! * [`limits`]: LIMIT/OFFSET and SLIMIT/SOFFSET, and 1.6.7's raw OFFSET without LIMIT.
//! * [`shards`]: retention-policy durations and the shard groups 1.x cuts time into.
//! * [`cardinality`]: what `max-series-per-database` and `max-values-per-tag` count, their texts.
//! * [`quote`]: Go's `%q`, as 1.x's texts quote names.
//! * [`time_bounds`]: the earliest and latest time 1.x stores and reads.
//! * [`tz`]: the zone `tz(name)` names, resolved once when a statement is parsed.

pub mod cardinality;
pub mod durations;
pub mod function_kinds;
pub mod limits;
pub mod quote;
pub mod shards;
pub mod time_bounds;
pub mod tz;
