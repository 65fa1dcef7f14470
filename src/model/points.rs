//! [`Points`]: the points of one write, flat, as the stores read them.
//!
//! A `/write` body of n lines used to become n owned [`Point`]s: a `String` per measurement, tag key,
//! tag value and field key, and two `Vec`s, about 2 + 2·tags + fields allocations a line (a TSBS
//! `cpu` line: 32). In a profile of TSBS writes that allocation and its page faults were about 30 %
//! of the server's CPU. Here a batch is four buffers whatever its size:
//!
//! * `text`: the body's text copied once (a `memcpy`), then, appended after it, the unescaped form
//!   of every name or string value that had a backslash (most bodies have none);
//! * `points`, `tags`, `fields`: fixed-size records whose strings are [`Span`]s into `text`.
//!
//! So a batch holds at most `2 × body + 32 B × points + 16 B × tags + 24 B × fields` (the bound
//! [`crate::lineproto::ParseCost`] reserves), and a store reads it through [`PointRef`], which
//! borrows. Spans are `u32`: a batch's text is at most [`MAX_TEXT`] bytes (the body limit is far
//! below; [`PointsBuilder`] refuses more rather than wrap).

use std::fmt;
use std::hash::{Hash, Hasher};

use super::{FieldType, FieldValue, Point};

/// The most bytes of text a batch indexes (spans are `u32`).
pub const MAX_TEXT: usize = u32::MAX as usize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn get<'a>(&self, text: &'a str) -> &'a str {
        let s = self.start as usize;
        &text[s..s + self.len as usize]
    }
}

/// A field value whose string, if any, is a span of the batch's text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(Span),
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    measurement: Span,
    /// `tags[tags.0..tags.1]`, sorted by key, keys unique.
    tags: (u32, u32),
    /// `fields[fields.0..fields.1]`, in written order, keys unique.
    fields: (u32, u32),
    time: i64,
}

/// The points of one write, in order. Tags of a point are sorted by key and unique; its fields
/// keep their written order, keys unique (as [`Point`]'s).
#[derive(Clone, Default)]
pub struct Points {
    text: String,
    points: Vec<Rec>,
    tags: Vec<(Span, Span)>,
    fields: Vec<(Span, Val)>,
}

/// A field value borrowed from a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldRef<'a> {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(&'a str),
    Boolean(bool),
}

impl<'a> FieldRef<'a> {
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldRef::Float(_) => FieldType::Float,
            FieldRef::Integer(_) => FieldType::Integer,
            FieldRef::Unsigned(_) => FieldType::Unsigned,
            FieldRef::String(_) => FieldType::String,
            FieldRef::Boolean(_) => FieldType::Boolean,
        }
    }

    pub fn to_owned_value(&self) -> FieldValue {
        match *self {
            FieldRef::Float(x) => FieldValue::Float(x),
            FieldRef::Integer(x) => FieldValue::Integer(x),
            FieldRef::Unsigned(x) => FieldValue::Unsigned(x),
            FieldRef::String(s) => FieldValue::String(s.to_string()),
            FieldRef::Boolean(x) => FieldValue::Boolean(x),
        }
    }
}

impl FieldValue {
    pub fn as_field_ref(&self) -> FieldRef<'_> {
        match self {
            FieldValue::Float(x) => FieldRef::Float(*x),
            FieldValue::Integer(x) => FieldRef::Integer(*x),
            FieldValue::Unsigned(x) => FieldRef::Unsigned(*x),
            FieldValue::String(s) => FieldRef::String(s),
            FieldValue::Boolean(x) => FieldRef::Boolean(*x),
        }
    }
}

/// One point of a [`Points`] batch, borrowed.
#[derive(Clone, Copy)]
pub struct PointRef<'a> {
    pub measurement: &'a str,
    pub tags: Tags<'a>,
    pub fields: Fields<'a>,
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
}

impl PointRef<'_> {
    pub fn to_point(&self) -> Point {
        Point {
            measurement: self.measurement.to_string(),
            tags: self.tags.to_vec(),
            fields: self.fields.iter().map(|(k, v)| (k.to_string(), v.to_owned_value())).collect(),
            time: self.time,
        }
    }
}

impl fmt::Debug for PointRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PointRef")
            .field("measurement", &self.measurement)
            .field("tags", &self.tags)
            .field("fields", &self.fields)
            .field("time", &self.time)
            .finish()
    }
}

/// A point's tag set, sorted by key: compares and hashes as its `(key, value)` pairs, so it can
/// key a map the way `Vec<(String, String)>` did.
#[derive(Clone, Copy)]
pub struct Tags<'a> {
    text: &'a str,
    pairs: &'a [(Span, Span)],
}

impl<'a> Tags<'a> {
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<(&'a str, &'a str)> {
        self.pairs.get(i).map(|(k, v)| (k.get(self.text), v.get(self.text)))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a str, &'a str)> + DoubleEndedIterator + Clone + 'a {
        let text = self.text;
        self.pairs.iter().map(move |(k, v)| (k.get(text), v.get(text)))
    }

    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

}

impl PartialEq for Tags<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Tags<'_> {}

impl Hash for Tags<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for (k, v) in self.iter() {
            k.hash(state);
            v.hash(state);
        }
    }
}

impl fmt::Debug for Tags<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A point's fields, in written order.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    text: &'a str,
    pairs: &'a [(Span, Val)],
}

impl<'a> Fields<'a> {
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a str, FieldRef<'a>)> + Clone + 'a {
        let text = self.text;
        self.pairs.iter().map(move |(k, v)| (k.get(text), value(text, v)))
    }

    /// The field names, in written order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &'a str> + Clone + 'a {
        let text = self.text;
        self.pairs.iter().map(move |(k, _)| k.get(text))
    }

    /// Whether both have the same names with the same types, in the same order.
    pub fn same_shape(&self, other: &Fields<'_>) -> bool {
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(|((ka, va), (kb, vb))| ka == kb && va.field_type() == vb.field_type())
    }
}

impl fmt::Debug for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

fn value<'a>(text: &'a str, v: &Val) -> FieldRef<'a> {
    match *v {
        Val::Float(x) => FieldRef::Float(x),
        Val::Integer(x) => FieldRef::Integer(x),
        Val::Unsigned(x) => FieldRef::Unsigned(x),
        Val::Boolean(x) => FieldRef::Boolean(x),
        Val::String(s) => FieldRef::String(s.get(text)),
    }
}

impl Points {
    pub fn new() -> Points {
        Points::default()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The `i`-th point. Panics past the end, as slice indexing does.
    pub fn get(&self, i: usize) -> PointRef<'_> {
        self.at(&self.points[i])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = PointRef<'_>> + DoubleEndedIterator + Clone + '_ {
        self.points.iter().map(move |r| self.at(r))
    }

    fn at<'a>(&'a self, r: &Rec) -> PointRef<'a> {
        let text = self.text.as_str();
        PointRef {
            measurement: r.measurement.get(text),
            tags: Tags { text, pairs: &self.tags[r.tags.0 as usize..r.tags.1 as usize] },
            fields: Fields { text, pairs: &self.fields[r.fields.0 as usize..r.fields.1 as usize] },
            time: r.time,
        }
    }

    /// The points, owned (for tests and callers that keep points past the batch).
    pub fn to_vec(&self) -> Vec<Point> {
        self.iter().map(|p| p.to_point()).collect()
    }

    /// Bytes a batch holds per point, tag and field besides its text (for memory bounds).
    pub const REC_BYTES: usize = std::mem::size_of::<Rec>();
    pub const TAG_BYTES: usize = std::mem::size_of::<(Span, Span)>();
    pub const FIELD_BYTES: usize = std::mem::size_of::<(Span, Val)>();
}

impl fmt::Debug for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Points {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(|(a, b)| {
                a.measurement == b.measurement
                    && a.time == b.time
                    && a.tags == b.tags
                    && a.fields.len() == b.fields.len()
                    && a.fields.iter().eq(b.fields.iter())
            })
    }
}

impl Point {
    /// A batch of this one point (for tests and callers holding owned points).
    pub fn to_batch(&self) -> Points {
        std::iter::once(self).collect()
    }
}

impl From<Vec<Point>> for Points {
    fn from(points: Vec<Point>) -> Points {
        points.iter().collect()
    }
}

impl<'p> FromIterator<&'p Point> for Points {
    fn from_iter<I: IntoIterator<Item = &'p Point>>(iter: I) -> Points {
        let mut b = PointsBuilder::new(String::new());
        for p in iter {
            b.begin(&p.measurement);
            for (k, v) in &p.tags {
                b.tag(k, v);
            }
            for (k, v) in &p.fields {
                b.field(k, v.as_field_ref());
            }
            b.end(p.time);
        }
        b.finish()
    }
}

/// Builds a [`Points`] over a body's text: strings that are slices of that text are kept as spans
/// into it (no copy); any other string (an unescaped name) is appended after it.
pub struct PointsBuilder {
    points: Points,
    /// Length of the text the builder was made with (spans below it index that text).
    base_len: usize,
    tags_start: usize,
    fields_start: usize,
    measurement: Span,
    overflow: bool,
}

impl PointsBuilder {
    /// A builder whose text starts as `text` (a body's text, or empty).
    pub fn new(text: String) -> PointsBuilder {
        let points = Points { text, ..Points::default() };
        let base_len = points.text.len();
        PointsBuilder { points, base_len, tags_start: 0, fields_start: 0, measurement: Span::default(), overflow: false }
    }

    /// Room for `points` points, `tags` tags and `fields` fields in all.
    pub fn reserve(&mut self, points: usize, tags: usize, fields: usize) {
        self.points.points.reserve_exact(points);
        self.points.tags.reserve_exact(tags);
        self.points.fields.reserve_exact(fields);
    }

    /// The span of `s`: where it lies in the text when `s` is a slice of the builder's original
    /// text `orig` (which must be a copy of what `new` was given), else appended.
    fn span(&mut self, s: &str, orig: Option<&str>) -> Span {
        if let Some(orig) = orig {
            let off = (s.as_ptr() as usize).wrapping_sub(orig.as_ptr() as usize);
            if off <= orig.len() && s.len() <= orig.len() - off && off + s.len() <= self.base_len && off <= MAX_TEXT {
                return Span { start: off as u32, len: s.len() as u32 };
            }
        }
        let start = self.points.text.len();
        if start + s.len() > MAX_TEXT {
            self.overflow = true;
            return Span::default();
        }
        self.points.text.push_str(s);
        Span { start: start as u32, len: s.len() as u32 }
    }

    /// Starts a point.
    pub fn begin(&mut self, measurement: &str) {
        self.begin_in(measurement, None)
    }

    /// [`PointsBuilder::begin`] where `measurement` may be a slice of `orig`, the text the builder
    /// was made with (then it is not copied).
    pub fn begin_in(&mut self, measurement: &str, orig: Option<&str>) {
        self.tags_start = self.points.tags.len();
        self.fields_start = self.points.fields.len();
        self.measurement = self.span(measurement, orig);
    }

    /// Adds a tag to the open point (tags must come sorted by key, keys unique).
    pub fn tag(&mut self, key: &str, value: &str) {
        self.tag_in(key, value, None)
    }

    pub fn tag_in(&mut self, key: &str, value: &str, orig: Option<&str>) {
        let k = self.span(key, orig);
        let v = self.span(value, orig);
        self.points.tags.push((k, v));
    }

    /// Adds a field to the open point (keys unique).
    pub fn field(&mut self, key: &str, value: FieldRef<'_>) {
        self.field_in(key, value, None)
    }

    pub fn field_in(&mut self, key: &str, value: FieldRef<'_>, orig: Option<&str>) {
        let k = self.span(key, orig);
        let v = match value {
            FieldRef::Float(x) => Val::Float(x),
            FieldRef::Integer(x) => Val::Integer(x),
            FieldRef::Unsigned(x) => Val::Unsigned(x),
            FieldRef::Boolean(x) => Val::Boolean(x),
            FieldRef::String(s) => Val::String(self.span(s, orig)),
        };
        self.points.fields.push((k, v));
    }

    /// Ends the open point.
    pub fn end(&mut self, time: i64) {
        let (t0, t1) = (self.tags_start, self.points.tags.len());
        let (f0, f1) = (self.fields_start, self.points.fields.len());
        if t1 > u32::MAX as usize || f1 > u32::MAX as usize {
            self.overflow = true;
            return;
        }
        self.points.points.push(Rec { measurement: self.measurement, tags: (t0 as u32, t1 as u32), fields: (f0 as u32, f1 as u32), time });
    }

    /// Drops the open point's tags and fields (it is not ended).
    pub fn abandon(&mut self) {
        self.points.tags.truncate(self.tags_start);
        self.points.fields.truncate(self.fields_start);
    }

    /// The batch; `None` when its text or records outgrew what `u32` spans index.
    pub fn try_finish(self) -> Option<Points> {
        (!self.overflow).then_some(self.points)
    }

    /// The batch (for batches built from owned points, which cannot reach [`MAX_TEXT`] without
    /// having exhausted memory first).
    pub fn finish(self) -> Points {
        assert!(!self.overflow, "a batch over {MAX_TEXT} bytes of text");
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(m: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>, time: i64) -> Point {
        Point {
            measurement: m.into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            time,
        }
    }

    #[test]
    fn owned_points_round_trip() {
        let v = vec![
            pt("cpu", &[("host", "a"), ("region", "eu")], vec![("u", FieldValue::Float(1.5)), ("s", FieldValue::String("x y".into()))], 1),
            pt("mem", &[], vec![("free", FieldValue::Integer(-3)), ("ok", FieldValue::Boolean(true)), ("n", FieldValue::Unsigned(7))], 2),
        ];
        let b = Points::from(v.clone());
        assert_eq!(b.len(), 2);
        assert_eq!(b.to_vec(), v);
        assert_eq!(b.get(0).tags.get(1), Some(("region", "eu")));
        assert_eq!(b.get(1).tags.get(0), None);
    }

    #[test]
    fn spans_into_the_original_text_are_not_copied() {
        let body = "cpu,host=a v=1".to_string();
        let orig = body.clone();
        let mut b = PointsBuilder::new(body);
        b.begin_in(&orig[0..3], Some(&orig));
        b.tag_in(&orig[4..8], &orig[9..10], Some(&orig));
        b.field_in("v w", FieldRef::Float(1.0), Some(&orig));
        b.end(5);
        let p = b.finish();
        // Only the field key, not a slice of the original, was appended.
        assert_eq!(p.text.len(), orig.len() + 3);
        let r = p.get(0);
        assert_eq!((r.measurement, r.tags.get(0), r.time), ("cpu", Some(("host", "a")), 5));
        assert_eq!(r.fields.iter().next(), Some(("v w", FieldRef::Float(1.0))));
    }

    #[test]
    fn tags_hash_and_compare_as_pairs() {
        use std::collections::HashSet;
        let b = Points::from(vec![
            pt("m", &[("a", "1")], vec![("f", FieldValue::Float(0.0))], 1),
            pt("m", &[("a", "1")], vec![("f", FieldValue::Float(0.0))], 2),
            pt("m", &[("a", "2")], vec![("f", FieldValue::Float(0.0))], 3),
        ]);
        let set: HashSet<Tags<'_>> = b.iter().map(|p| p.tags).collect();
        assert_eq!(set.len(), 2);
    }
}
