//! The engine's one error type: whose fault a failure is decides how it is answered.
//!
//! * [`QueryError::Statement`]: the statement cannot be answered as written, or was stopped (its
//!   deadline, `KILL QUERY`, a limit). 1.x answers these inside the statement's result (HTTP 200,
//!   `"error": "<1.x's text>"`), and so does influxgate.
//! * [`QueryError::Store`]: the store failed (unreachable, timed out, or broken). Not the client's
//!   fault and worth retrying: the whole request answers 503 with `Retry-After`, as a write does
//!   (or, once an answer is streaming, the error goes into the stream). A store error the client
//!   caused (a database that does not exist, a statement the store cannot do) is a statement
//!   error with the store's text, as 1.x words it.

use crate::backend::{BackendError, Origin};

#[derive(Debug, Clone)]
pub enum QueryError {
    Statement(String),
    Store(BackendError),
}

/// The engine's result.
pub type QResult<T> = Result<T, QueryError>;

impl QueryError {
    /// The text a statement result shows.
    pub fn message(&self) -> String {
        match self {
            QueryError::Statement(s) => s.clone(),
            QueryError::Store(e) => e.to_string(),
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl From<String> for QueryError {
    fn from(s: String) -> Self {
        QueryError::Statement(s)
    }
}

impl From<&str> for QueryError {
    fn from(s: &str) -> Self {
        QueryError::Statement(s.to_string())
    }
}

impl From<BackendError> for QueryError {
    fn from(e: BackendError) -> Self {
        match e.origin() {
            Origin::Downstream => QueryError::Statement(e.to_string()),
            Origin::Upstream | Origin::Internal => QueryError::Store(e),
        }
    }
}

impl From<super::functions::FunctionError> for QueryError {
    fn from(e: super::functions::FunctionError) -> Self {
        QueryError::Statement(e.0)
    }
}

impl PartialEq for QueryError {
    fn eq(&self, other: &QueryError) -> bool {
        let same_kind = matches!(
            (self, other),
            (QueryError::Statement(_), QueryError::Statement(_)) | (QueryError::Store(_), QueryError::Store(_))
        );
        same_kind && self.message() == other.message()
    }
}

impl PartialEq<&str> for QueryError {
    fn eq(&self, other: &&str) -> bool {
        self.message() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_faults_are_store_errors_client_faults_statement_errors() {
        assert!(matches!(QueryError::from(BackendError::Unavailable("down".into())), QueryError::Store(_)));
        assert!(matches!(QueryError::from(BackendError::Timeout("slow".into())), QueryError::Store(_)));
        assert!(matches!(QueryError::from(BackendError::Internal("bad".into())), QueryError::Store(_)));
        let e = QueryError::from(BackendError::DatabaseNotFound("x".into()));
        assert_eq!(e, "database not found: x");
        assert!(matches!(e, QueryError::Statement(_)));
    }
}
