//! Converting the `params` JSON of a `/query` request into [`ParamValue`]s, with 1.x's rules
//! and error texts. The HTTP layer maps its JSON type onto [`JsonParam`] (this module stays
//! free of JSON libraries).

use super::ast::ParamValue;
use crate::rules::durations::influxql_literal;

/// A JSON value as decoded by the HTTP layer. Numbers keep their JSON text.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonParam<'a> {
    Null,
    Bool(bool),
    /// The number exactly as written in the JSON text (e.g. `5`, `5.0`, `1e400`).
    Number(&'a str),
    String(&'a str),
    Array,
    Object(Vec<(&'a str, JsonParam<'a>)>),
}

enum Num {
    Int(i64),
    Float(f64),
}

/// 1.x `jsonNumberToValue`: text with a `.` is a float, anything else must be an int64.
fn json_number(text: &str) -> Result<Num, String> {
    if text.contains('.') {
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Num::Float(f)),
            Ok(_) => Err(format!("strconv.ParseFloat: parsing \"{}\": value out of range", text)),
            Err(_) => Err(format!("strconv.ParseFloat: parsing \"{}\": invalid syntax", text)),
        }
    } else {
        match text.parse::<i64>() {
            Ok(i) => Ok(Num::Int(i)),
            Err(_) => {
                let digits = text.strip_prefix('-').unwrap_or(text);
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    Err(format!("strconv.ParseInt: parsing \"{}\": value out of range", text))
                } else {
                    Err(format!("strconv.ParseInt: parsing \"{}\": invalid syntax", text))
                }
            }
        }
    }
}

fn type_name(v: &JsonParam) -> &'static str {
    match v {
        JsonParam::Null => "<nil>",
        JsonParam::Array => "[]interface {}",
        JsonParam::Object(_) => "map[string]interface {}",
        JsonParam::Bool(_) => "bool",
        JsonParam::Number(_) => "json.Number",
        JsonParam::String(_) => "string",
    }
}

/// Converts one request parameter like 1.x's handler + `BindValue`.
///
/// `Err` is a request-level error (1.x answers `{"error":"<text>"}` without parsing the
/// query): a top-level number that is not a valid int64 / float64. Problems with the value
/// itself become `Ok(ParamValue::Error(..))`, which the parser reports when `$name` is used
/// (`missing parameter: <text>`), exactly like 1.x.
pub fn param_value_from_json(v: &JsonParam) -> Result<ParamValue, String> {
    Ok(match v {
        JsonParam::Number(t) => match json_number(t) {
            Ok(Num::Int(i)) => ParamValue::Integer(i),
            Ok(Num::Float(f)) => ParamValue::Float(f),
            Err(e) => return Err(format!("error parsing json value: {}", e)),
        },
        JsonParam::String(s) => ParamValue::String(s.to_string()),
        JsonParam::Bool(b) => ParamValue::Boolean(*b),
        JsonParam::Object(entries) => object_value(entries),
        other => ParamValue::Error(format!("unable to bind parameter with type {}", type_name(other))),
    })
}

fn object_value(entries: &[(&str, JsonParam)]) -> ParamValue {
    if entries.len() != 1 {
        return ParamValue::Error("bound object parameter value must have exactly one entry".into());
    }
    let (k, v) = (&entries[0].0, &entries[0].1);
    let num = match v {
        JsonParam::Number(t) => match json_number(t) {
            Ok(n) => Some(n),
            Err(e) => return ParamValue::Error(e),
        },
        _ => None,
    };
    let string = match v {
        JsonParam::String(s) => Some(s.to_string()),
        _ => None,
    };
    let e = |m: &str| ParamValue::Error(m.to_string());
    match *k {
        "ident" | "identifier" => string.map(ParamValue::Identifier).unwrap_or_else(|| e("identifier must be a string value")),
        "regex" => string.map(ParamValue::Regex).unwrap_or_else(|| e("regex literal must be a string value")),
        "string" => string.map(ParamValue::String).unwrap_or_else(|| e("string literal must be a string value")),
        "float" | "number" => match num {
            Some(Num::Float(f)) => ParamValue::Float(f),
            Some(Num::Int(i)) => ParamValue::Float(i as f64),
            None => e("number literal must be a float value"),
        },
        "int" | "integer" => match num {
            Some(Num::Int(i)) => ParamValue::Integer(i),
            _ => e("integer literal must be an integer value"),
        },
        "duration" => match (string, num) {
            (Some(s), _) => ParamValue::Duration(s),
            (None, Some(Num::Int(i))) => ParamValue::Duration(influxql_literal(i)),
            _ => e("duration literal must be a string or integer value"),
        },
        other => ParamValue::Error(format!("unknown bind object type: {}", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::influxql::parse_query_with_params;
    use std::collections::HashMap;

    fn run(q: &str, v: JsonParam) -> Result<String, String> {
        let pv = param_value_from_json(&v)?;
        let mut m = HashMap::new();
        m.insert("x".to_string(), pv);
        parse_query_with_params(q, &m).map(|q| q.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn like_1x() {
        let q = "SELECT * FROM cpu WHERE a = $x";
        let obj = |k: &'static str, v: JsonParam<'static>| JsonParam::Object(vec![(k, v)]);
        assert_eq!(run(q, JsonParam::Number("5")).unwrap(), "SELECT * FROM cpu WHERE a = 5");
        assert_eq!(run(q, JsonParam::Number("5.0")).unwrap(), "SELECT * FROM cpu WHERE a = 5.0");
        assert_eq!(run(q, JsonParam::Number("1e400")).unwrap_err(), "error parsing json value: strconv.ParseInt: parsing \"1e400\": invalid syntax");
        assert_eq!(run(q, JsonParam::Null).unwrap_err(), "missing parameter: unable to bind parameter with type <nil>");
        assert_eq!(run(q, JsonParam::Array).unwrap_err(), "missing parameter: unable to bind parameter with type []interface {}");
        assert_eq!(run(q, JsonParam::Object(vec![])).unwrap_err(), "missing parameter: bound object parameter value must have exactly one entry");
        assert_eq!(run(q, obj("integer", JsonParam::Number("1.5"))).unwrap_err(), "missing parameter: integer literal must be an integer value");
        assert_eq!(run(q, obj("integer", JsonParam::String("5"))).unwrap_err(), "missing parameter: integer literal must be an integer value");
        assert_eq!(run(q, obj("integer", JsonParam::Number("1e400"))).unwrap_err(), "missing parameter: strconv.ParseInt: parsing \"1e400\": invalid syntax");
        assert_eq!(run(q, obj("identifier", JsonParam::Number("5"))).unwrap_err(), "missing parameter: identifier must be a string value");
        assert_eq!(run(q, obj("foo", JsonParam::Number("5"))).unwrap_err(), "missing parameter: unknown bind object type: foo");
        assert_eq!(run(q, obj("duration", JsonParam::Bool(true))).unwrap_err(), "missing parameter: duration literal must be a string or integer value");
        assert_eq!(run("SELECT * FROM cpu WHERE time > now() - $x", obj("duration", JsonParam::String("1y"))).unwrap_err(), "invalid duration");
        assert_eq!(run("SELECT * FROM cpu WHERE time > now() - $x", obj("duration", JsonParam::Number("60000000000"))).unwrap(), "SELECT * FROM cpu WHERE time > now() - 1m");
        assert_eq!(run(q, obj("float", JsonParam::Number("5"))).unwrap(), "SELECT * FROM cpu WHERE a = 5.0");
        assert_eq!(run(q, obj("identifier", JsonParam::String("b c"))).unwrap(), "SELECT * FROM cpu WHERE a = \"b c\"");
        assert_eq!(run(q, JsonParam::Bool(false)).unwrap(), "SELECT * FROM cpu WHERE a = false");
    }
}
