//! What a query answers, before encoding: one `StatementResult` per statement.

/// A value in a result row. `Time` is kept apart from `Integer` because the encoders print it as
/// RFC3339 or as an epoch integer depending on the request's `epoch`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(String),
    Boolean(bool),
    /// Nanoseconds since the Unix epoch.
    Time(i64),
}

/// One series of a statement's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub name: String,
    /// Sorted by key; empty when the statement has no GROUP BY tags (then `tags` is omitted).
    pub tags: Vec<(String, String)>,
    pub columns: Vec<String>,
    pub values: Vec<Vec<Value>>,
    /// More rows of this series follow in a later chunk.
    pub partial: bool,
}

/// An informational message, as `SHOW ...` or deprecated syntax may carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub level: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementResult {
    pub statement_id: usize,
    pub series: Vec<Series>,
    pub messages: Vec<Message>,
    pub error: Option<String>,
    /// More results of this statement follow in a later chunk.
    pub partial: bool,
    /// The statement's `tz()`: JSON writes its times as RFC3339 in this zone (with its offset).
    pub time_zone: Option<chrono_tz::Tz>,
}

/// A whole `/query` answer; `error` is a request-level error (e.g. a parse error), which 1.x
/// reports as `{"error": "..."}` with no `results`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResponse {
    pub results: Vec<StatementResult>,
    pub error: Option<String>,
}
