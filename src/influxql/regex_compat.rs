//! Compiling InfluxQL regex literals (Go RE2 syntax) with the `regex` crate, reporting errors
//! with Go's `regexp` texts where we can reproduce them.

/// Compiles a regex source; on error returns Go's message (`error parsing regexp: ...`).
pub fn compile(source: &str) -> Result<regex::Regex, String> {
    match regex::Regex::new(source) {
        Ok(r) => Ok(r),
        Err(e) => Err(go_error_text(source, &e)),
    }
}

fn go_error_text(source: &str, err: &regex::Error) -> String {
    format!("error parsing regexp: {}: `{}`", "invalid regexp", source).replace("{}", &err.to_string())
}
