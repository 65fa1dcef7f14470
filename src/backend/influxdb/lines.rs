//! Points back into line protocol for the upstream's `/write` (`precision=ns`).
//!
//! The points were parsed and checked by influxgate; printing them with 1.x's escapes gives a
//! body 1.x parses to the same points: the measurement escapes `,` and space, tag keys, tag
//! values and field keys also `=`, string values `"` and `\` (1.x unescapes exactly these).
//! Floats print in Rust's shortest form that reads back to the same bits, never with an exponent
//! (`5` is a float in line protocol; integers carry `i`, unsigned `u`). Times are nanoseconds, so
//! the request's precision has already been applied.

use std::fmt::Write as _;

use crate::model::{FieldRef, PointRef, Points};

/// The body of one write: a line per point.
pub fn body(points: &Points) -> String {
    let mut out = String::with_capacity(points.len() * 64);
    for p in points.iter() {
        line(&mut out, &p);
        out.push('\n');
    }
    out
}

fn line(out: &mut String, p: &PointRef<'_>) {
    escape(out, p.measurement, &[',', ' ']);
    for (k, v) in p.tags.iter() {
        out.push(',');
        escape(out, k, &[',', '=', ' ']);
        out.push('=');
        escape(out, v, &[',', '=', ' ']);
    }
    for (i, (k, v)) in p.fields.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        escape(out, k, &[',', '=', ' ']);
        out.push('=');
        // Writing to a String cannot fail.
        let _ = match v {
            FieldRef::Float(f) => write!(out, "{f}"),
            FieldRef::Integer(i) => write!(out, "{i}i"),
            FieldRef::Unsigned(u) => write!(out, "{u}u"),
            FieldRef::Boolean(b) => write!(out, "{b}"),
            FieldRef::String(s) => {
                out.push('"');
                escape(out, s, &['"', '\\']);
                out.push('"');
                Ok(())
            }
        };
    }
    let _ = write!(out, " {}", p.time);
}

fn escape(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::{parse_body_str, Precision};
    use crate::model::FieldValue;

    #[test]
    fn reads_back_to_the_same_points() {
        let src = "m\\,x\\ y,a\\=b=c\\ d\\,e,t=1 f\\=g=5,i=-3i,s=\"q\\\"u\\\\o\\\\\",b=true,e=1e-300,big=1.7976931348623157e308 1700000000123456789\n\
                   plain v=0.1 -5\n";
        let points = parse_body_str(src, Precision::Nanosecond, 0).unwrap();
        let again = parse_body_str(&body(&Points::from(points.clone())), Precision::Nanosecond, 0).unwrap();
        assert_eq!(points, again);
        assert_eq!(points[0].fields[0].1, FieldValue::Float(5.0));
        assert!(body(&Points::from(points[1..].to_vec())).starts_with("plain v=0.1 -5"));
    }
}
