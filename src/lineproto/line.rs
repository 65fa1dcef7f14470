//! The borrowed (zero-copy) form of one line of line protocol, and the scanner that finds lines in a
//! body. The rules follow InfluxDB 1.6.7's parser exactly (which bytes end a line, which escapes count
//! where, which error text a malformed line gets); they were checked against a running `influxd` 1.6.7.
//!
//! Nothing here allocates on the fast path when [`parse_line_into`] is given a reused [`Line`]; the
//! only owned data are the `Vec`s of tag and field slices, which keep their capacity across lines.
//! Lines without `"` or `\` take [`parse_simple_into`], which finds its separators with [`stops`]
//! (a bitmask per 64 bytes) and whose number conversion and tag sorting shortcuts live in [`scan`]
//! (each falls back to the general code for any other shape).

use std::borrow::Cow;
use std::fmt;

use super::Precision;

mod scan;
mod stops;
pub(crate) use scan::TagOrder;

/// Largest allowed length of a series key (measurement + tags, escaped) in 1.x.
pub const MAX_KEY_LENGTH: usize = 65535;

/// Whether the `u` suffix (unsigned integers) is accepted. InfluxDB 1.6.7 ships with it disabled:
/// `x=5u` is refused with `invalid number`.
const UNSIGNED_ENABLED: bool = false;

/// Why one line was refused: 1.x's reason text (what follows `unable to parse '<line>': `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError(pub Cow<'static, str>);

impl LineError {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LineError {}

#[inline]
fn fail<T>(reason: &'static str) -> Result<T, LineError> {
    Err(LineError(Cow::Borrowed(reason)))
}

/// Which characters a backslash escapes in a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// Measurement names and field keys: `\,` `\ ` `\=` `\"`.
    NameOrField,
    /// Tag keys and values: `\,` `\ ` `\=` (a `\"` stays as written).
    Tag,
}

/// A name as written in the line (still escaped). [`Escaped::unescape`] gives the stored text the way
/// 1.x derives it: a backslash is dropped only before one of the characters it escapes in this position;
/// every other backslash is kept literally.
#[derive(Clone, Copy)]
pub struct Escaped<'a> {
    raw: &'a str,
    kind: Kind,
    /// Known to hold no backslash (set by the fast parser), so unescaping is free.
    plain: bool,
}

impl<'a> Escaped<'a> {
    fn new(raw: &'a str, kind: Kind) -> Self {
        Escaped { raw, kind, plain: false }
    }

    #[inline]
    fn plain(raw: &'a str, kind: Kind) -> Self {
        Escaped { raw, kind, plain: true }
    }

    /// The bytes exactly as written in the line.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The text with line-protocol escapes removed (borrowed when there is no backslash).
    pub fn unescape(&self) -> Cow<'a, str> {
        let b = self.raw.as_bytes();
        if self.plain || !b.contains(&b'\\') {
            return Cow::Borrowed(self.raw);
        }
        let mut out = String::with_capacity(b.len());
        let mut last = 0;
        let mut i = 0;
        while i + 1 < b.len() {
            if b[i] == b'\\' {
                let n = b[i + 1];
                let special = matches!(n, b',' | b' ' | b'=') || (n == b'"' && self.kind == Kind::NameOrField);
                if special {
                    out.push_str(sub(self.raw, last, i));
                    last = i + 1;
                    i += 2;
                    continue;
                }
            }
            i += 1;
        }
        out.push_str(sub(self.raw, last, b.len()));
        Cow::Owned(out)
    }
}

impl PartialEq for Escaped<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw && self.kind == other.kind
    }
}

impl Eq for Escaped<'_> {}

impl std::hash::Hash for Escaped<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
        self.kind.hash(state);
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.raw, f)
    }
}

/// A string field value as written between its quotes (still escaped: `\"` and `\\`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StrValue<'a> {
    raw: &'a [u8],
}

impl<'a> StrValue<'a> {
    /// The bytes between the quotes, as written.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The string with `\"` and `\\` unescaped; any other backslash is kept. Invalid UTF-8 (possible
    /// only in odd values such as `"abc"dé`, where 1.x cuts the last byte) is replaced lossily.
    pub fn unescape(&self) -> Cow<'a, str> {
        let b = self.raw;
        if !b.contains(&b'\\') {
            return match std::str::from_utf8(b) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => Cow::Owned(String::from_utf8_lossy(b).into_owned()),
            };
        }
        let mut out: Vec<u8> = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == b'\\' || b[i + 1] == b'"') {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            out.push(b[i]);
            i += 1;
        }
        match String::from_utf8(out) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }
}

impl fmt::Debug for StrValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.raw), f)
    }
}

/// A field value, typed as 1.x types it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(StrValue<'a>),
    Boolean(bool),
}

/// One parsed line, borrowing from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    pub measurement: Escaped<'a>,
    /// Sorted by key as written (1.x sorts the escaped keys bytewise); keys are unique.
    pub tags: Vec<(Escaped<'a>, Escaped<'a>)>,
    /// In written order. May hold a key twice (1.x keeps the last value) and the key `time`
    /// (which 1.x's storage layer drops); [`super::parse_body`] applies those rules.
    pub fields: Vec<(Escaped<'a>, Value<'a>)>,
    /// Nanoseconds since the epoch (already scaled by the precision); `None` if the line had none.
    pub timestamp: Option<i64>,
}

impl<'a> Default for Line<'a> {
    fn default() -> Self {
        Line {
            measurement: Escaped::new("", Kind::NameOrField),
            tags: Vec::new(),
            fields: Vec::new(),
            timestamp: None,
        }
    }
}

impl<'a> Line<'a> {
    /// An empty line, ready to be filled by [`parse_line_into`].
    pub fn new() -> Self {
        Self::default()
    }
}

/// `s[a..b]`, or "" if that is not a valid slice (never happens for the ASCII positions used here).
#[inline]
fn sub(s: &str, a: usize, b: usize) -> &str {
    s.get(a..b).unwrap_or("")
}

#[inline]
fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == 0
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

#[inline]
fn is_numeric(c: u8) -> bool {
    c.is_ascii_digit() || c == b'.'
}

/// Parses one line (without its newline; leading whitespace allowed). Allocates only a new `Line`.
pub fn parse_line(line: &str, precision: Precision) -> Result<Line<'_>, LineError> {
    let mut out = Line::new();
    parse_line_into(line, precision, &mut out)?;
    Ok(out)
}

/// Parses one line into `out`, reusing its buffers. On error `out` holds partial data.
pub fn parse_line_into<'a>(line: &'a str, precision: Precision, out: &mut Line<'a>) -> Result<(), LineError> {
    out.tags.clear();
    out.fields.clear();
    out.timestamp = None;
    let b = line.as_bytes();
    let n = b.len();
    let start = skip_ws(b, 0);
    let mut i = start;

    // Measurement: up to the first comma or space not preceded by a backslash.
    if i >= n || b[i] == b',' {
        return fail("missing measurement");
    }
    let has_tags;
    loop {
        i += 1;
        if i >= n {
            return fail("missing fields");
        }
        if b[i - 1] == b'\\' {
            continue;
        }
        if b[i] == b',' {
            has_tags = true;
            break;
        }
        if b[i] == b' ' {
            has_tags = false;
            break;
        }
    }
    out.measurement = Escaped::new(sub(line, start, i), Kind::NameOrField);

    if has_tags {
        i += 1;
        loop {
            let ks = i;
            if i >= n || matches!(b[i], b' ' | b',' | b'=') {
                return fail("missing tag key");
            }
            loop {
                i += 1;
                if i >= n || (matches!(b[i], b' ' | b',') && b[i - 1] != b'\\') {
                    return fail("missing tag value");
                }
                if b[i] == b'=' && b[i - 1] != b'\\' {
                    break;
                }
            }
            let ke = i;
            i += 1;
            let vs = i;
            if i >= n || b[i] == b',' || b[i] == b' ' {
                return fail("missing tag value");
            }
            let more;
            loop {
                i += 1;
                if i >= n {
                    return fail("missing fields");
                }
                if b[i - 1] == b'\\' {
                    continue;
                }
                match b[i] {
                    b'=' => return fail("invalid tag format"),
                    b',' => {
                        more = true;
                        break;
                    }
                    b' ' => {
                        more = false;
                        break;
                    }
                    _ => {}
                }
            }
            out.tags.push((Escaped::new(sub(line, ks, ke), Kind::Tag), Escaped::new(sub(line, vs, i), Kind::Tag)));
            if !more {
                break;
            }
            i += 1;
        }
        sort_tags(&mut out.tags)?;
    }
    let key_len = i - start;
    if key_len > MAX_KEY_LENGTH {
        return Err(LineError(Cow::Owned(format!("max key length exceeded: {} > {}", key_len, MAX_KEY_LENGTH))));
    }

    let (fs, fe) = scan_fields(b, i)?;
    walk_fields(line, fs, fe, key_len, &mut out.fields)?;

    parse_timestamp(line, fe, precision, out)
}

/// [`parse_line_into`] for a line known to hold no `"` and no `\`: the same rules, with the escape
/// and quote handling that cannot matter left out, and the field section validated and split in one
/// pass. `order` carries the tag order from one line to the next (see [`TagOrder`]).
pub(crate) fn parse_simple_into<'a>(
    line: &'a str,
    precision: Precision,
    out: &mut Line<'a>,
    order: &mut TagOrder<'a>,
) -> Result<(), LineError> {
    out.tags.clear();
    out.fields.clear();
    out.timestamp = None;
    let b = line.as_bytes();
    let n = b.len();
    let start = skip_ws(b, 0);
    let mut i = start;

    if i >= n || b[i] == b',' {
        return fail("missing measurement");
    }
    let mut stops = stops::Stops::new(b);
    i = stops.find(i + 1);
    while i < n && b[i] == b'=' {
        i = stops.find(i + 1);
    }
    if i >= n {
        return fail("missing fields");
    }
    let has_tags = b[i] == b',';
    out.measurement = Escaped::plain(sub(line, start, i), Kind::NameOrField);

    if has_tags {
        i += 1;
        loop {
            let ks = i;
            if i >= n || matches!(b[i], b' ' | b',' | b'=') {
                return fail("missing tag key");
            }
            i = stops.find(i + 1);
            if i >= n || b[i] != b'=' {
                return fail("missing tag value");
            }
            let ke = i;
            i += 1;
            let vs = i;
            if i >= n || b[i] == b',' || b[i] == b' ' {
                return fail("missing tag value");
            }
            i = stops.find(i + 1);
            if i >= n {
                return fail("missing fields");
            }
            if b[i] == b'=' {
                return fail("invalid tag format");
            }
            out.tags.push((Escaped::plain(sub(line, ks, ke), Kind::Tag), Escaped::plain(sub(line, vs, i), Kind::Tag)));
            if b[i] == b' ' {
                break;
            }
            i += 1;
        }
        order.sort(&mut out.tags)?;
    }
    let key_len = i - start;
    if key_len > MAX_KEY_LENGTH {
        return Err(LineError(Cow::Owned(format!("max key length exceeded: {} > {}", key_len, MAX_KEY_LENGTH))));
    }

    // Fields: validate and split in one pass. Without quotes and backslashes, 1.x's scanner and its
    // field iterator agree on every boundary.
    let fs = skip_ws(b, i);
    let mut i = fs;
    let mut equals = 0usize;
    let mut commas = 0usize;
    let mut ks = fs;
    let mut too_long: Option<usize> = None;
    loop {
        // Only ' ', ',' and '=' matter to this loop.
        i = stops.find(i);
        if i >= n {
            break;
        }
        let c = b[i];
        if c == b'=' {
            equals += 1;
            let p1 = if i >= 1 { b[i - 1] } else { 0 };
            if p1 == b' ' || p1 == b',' {
                return fail("missing field key");
            }
            if i + 1 >= n {
                return fail("missing field value");
            }
            let nx = b[i + 1];
            if nx == b',' || nx == b' ' {
                return fail("missing field value");
            }
            let vs = i + 1;
            let key = sub(line, ks, i);
            if too_long.is_none() && key_len + 4 + key.len() > MAX_KEY_LENGTH {
                too_long = Some(key_len + 4 + key.len());
            }
            let key = Escaped::plain(key, Kind::NameOrField);
            if let Some((v, ve)) = scan::number(b, vs) {
                out.fields.push((key, v));
                i = ve;
                continue;
            }
            let ve = if is_numeric(nx) || nx == b'-' || nx == b'N' || nx == b'n' {
                scan_number(b, vs)?
            } else {
                scan_bool(b, vs)?
            };
            if let Some(v) = type_value(&b[vs..ve])? {
                out.fields.push((key, v));
            }
            i = ve;
            continue;
        }
        if c == b',' {
            commas += 1;
            ks = i + 1;
        } else if c == b' ' {
            break;
        }
        i += 1;
    }
    if equals == 0 || commas + 1 != equals {
        return fail("invalid field format");
    }
    if let Some(sz) = too_long {
        return Err(LineError(Cow::Owned(format!("max key length exceeded: {} > {}", sz, MAX_KEY_LENGTH))));
    }
    parse_timestamp(line, i, precision, out)
}

/// The optional timestamp after the field section (which ends at `fe`), and nothing but spaces after it.
#[inline]
fn parse_timestamp<'a>(line: &'a str, fe: usize, precision: Precision, out: &mut Line<'a>) -> Result<(), LineError> {
    let b = line.as_bytes();
    let n = b.len();
    let ts_start = skip_ws(b, fe);
    // Fast path: the line ends in 1 to 19 digits (10^19 - 1 < 2^64), converted while scanned.
    let mut j = ts_start;
    let mut acc: u64 = 0;
    while j < n && j - ts_start < 19 {
        let d = b[j].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        acc = acc * 10 + u64::from(d);
        j += 1;
    }
    if j == n && j > ts_start {
        if let Ok(v) = i64::try_from(acc) {
            out.timestamp = Some(scale_ts(v, precision)?);
            return Ok(());
        }
    }
    let mut j = ts_start;
    while j < n {
        let c = b[j];
        if c == b'\n' || c == b' ' {
            break;
        }
        if j == ts_start && c == b'-' {
            j += 1;
            continue;
        }
        if !c.is_ascii_digit() {
            return fail("bad timestamp");
        }
        j += 1;
    }
    if j > ts_start {
        let t = scale_ts(parse_ts(sub(line, ts_start, j))?, precision)?;
        if b[j..].iter().any(|&c| c != b' ') {
            return fail("point is invalid");
        }
        out.timestamp = Some(t);
    }
    Ok(())
}

/// A timestamp in `precision` units → nanoseconds, refused outside 1.x's range.
#[inline]
fn scale_ts(v: i64, precision: Precision) -> Result<i64, LineError> {
    match v.checked_mul(precision.nanos()) {
        Some(t) if crate::rules::time_bounds::in_range(t) => Ok(t),
        _ => fail(TIME_RANGE),
    }
}

const TIME_RANGE: &str = "time outside range -9223372036854775806 - 9223372036854775806";

/// A timestamp made of an optional leading `-` and digits, as Go's `strconv.ParseInt` reads it.
fn parse_ts(ts: &str) -> Result<i64, LineError> {
    let b = ts.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return Err(LineError(Cow::Owned(format!("strconv.ParseInt: parsing \"{}\": invalid syntax", ts))));
    }
    if digits.len() <= 19 {
        // At most 10^19 - 1 < 2^64: accumulate unchecked, then check the i64 range once
        // (nanosecond timestamps of this era have 19 digits).
        let mut acc: u64 = 0;
        for &d in digits {
            acc = acc * 10 + u64::from(d.wrapping_sub(b'0'));
        }
        return match (neg, i64::try_from(acc)) {
            (false, Ok(v)) => Ok(v),
            (true, Ok(v)) => Ok(-v),
            (true, Err(_)) if acc == i64::MIN.unsigned_abs() => Ok(i64::MIN),
            _ => Err(LineError(Cow::Owned(format!("strconv.ParseInt: parsing \"{}\": value out of range", ts)))),
        };
    }
    // Accumulate negatively so i64::MIN fits.
    let mut acc: i64 = 0;
    for &d in digits {
        let dv = i64::from(d.wrapping_sub(b'0'));
        acc = match acc.checked_mul(10).and_then(|a| a.checked_sub(dv)) {
            Some(a) => a,
            None => {
                return Err(LineError(Cow::Owned(format!(
                    "strconv.ParseInt: parsing \"{}\": value out of range",
                    ts
                ))))
            }
        };
    }
    if neg {
        Ok(acc)
    } else {
        acc.checked_neg().ok_or_else(|| {
            LineError(Cow::Owned(format!("strconv.ParseInt: parsing \"{}\": value out of range", ts)))
        })
    }
}

/// Sorts tags by written key and refuses duplicate keys, as 1.x does.
#[inline]
fn cmp_bytes(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    // Tag keys are short and usually differ early: compare inline instead of calling memcmp.
    for (x, y) in a.iter().zip(b.iter()) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Whether the tags are already strictly in key order (the usual case); "duplicate tags" when two
/// neighbours seen before the first disorder have the same key.
#[inline]
fn in_order(tags: &[(Escaped<'_>, Escaped<'_>)]) -> Result<bool, LineError> {
    for w in tags.windows(2) {
        match cmp_bytes(w[0].0.raw.as_bytes(), w[1].0.raw.as_bytes()) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => return fail("duplicate tags"),
            std::cmp::Ordering::Greater => return Ok(false),
        }
    }
    Ok(true)
}

fn sort_tags(tags: &mut [(Escaped<'_>, Escaped<'_>)]) -> Result<(), LineError> {
    if !in_order(tags)? {
        // Stable and, for the handful of tags a line has, cheap.
        tags.sort_by(|a, b| cmp_bytes(a.0.raw.as_bytes(), b.0.raw.as_bytes()));
        if tags
            .windows(2)
            .any(|w| cmp_bytes(w[0].0.raw.as_bytes(), w[1].0.raw.as_bytes()) == std::cmp::Ordering::Equal)
        {
            return fail("duplicate tags");
        }
    }
    Ok(())
}

/// Finds the field section starting at `i` (after the key) and validates it as 1.x's scanner does.
/// Returns its start and end (the space before the timestamp, or the end of the line).
fn scan_fields(b: &[u8], i0: usize) -> Result<(usize, usize), LineError> {
    let n = b.len();
    let start = skip_ws(b, i0);
    let mut i = start;
    let mut quoted = false;
    let mut equals = 0usize;
    let mut commas = 0usize;
    while i < n {
        let c = b[i];
        if c == b'\\' && i + 1 < n {
            i += 2;
            continue;
        }
        if c == b'"' && equals > commas {
            quoted = !quoted;
            i += 1;
            continue;
        }
        if c == b'=' && !quoted {
            equals += 1;
            let p1 = if i >= 1 { b[i - 1] } else { 0 };
            let p2 = if i >= 2 { b[i - 2] } else { 0 };
            if (p1 == b' ' || p1 == b',') && p2 != b'\\' {
                return fail("missing field key");
            }
            if i + 1 >= n {
                return fail("missing field value");
            }
            let nx = b[i + 1];
            if nx == b',' || nx == b' ' {
                return fail("missing field value");
            }
            if is_numeric(nx) || nx == b'-' || nx == b'N' || nx == b'n' {
                i = scan_number(b, i + 1)?;
                continue;
            }
            if nx != b'"' {
                i = scan_bool(b, i + 1)?;
                continue;
            }
        }
        if !quoted {
            if c == b',' {
                commas += 1;
            } else if c == b' ' {
                break;
            }
        }
        i += 1;
    }
    if quoted {
        return fail("unbalanced quotes");
    }
    if equals == 0 || commas + 1 != equals {
        return fail("invalid field format");
    }
    Ok((start, i))
}

/// Validates a number starting at `start`; returns where it ends.
fn scan_number(b: &[u8], start: usize) -> Result<usize, LineError> {
    let n = b.len();
    let mut i = start;
    let (mut is_int, mut is_uns, mut decimal, mut sci) = (false, false, false, false);
    if i < n && b[i] == b'-' {
        i += 1;
        if i == n {
            return fail("invalid number");
        }
    }
    while i < n {
        let c = b[i];
        if c == b',' || c == b' ' {
            break;
        }
        if i > start && !(is_int || is_uns) {
            if c == b'i' {
                is_int = true;
                i += 1;
                continue;
            }
            if c == b'u' {
                is_uns = true;
                i += 1;
                continue;
            }
        }
        if c == b'.' {
            if decimal {
                return fail("invalid number");
            }
            decimal = true;
        }
        if i > start && (c == b'e' || c == b'E') {
            sci = true;
            i += 1;
            continue;
        }
        if (c == b'+' || c == b'-') && i >= 1 && (b[i - 1] == b'e' || b[i - 1] == b'E') {
            i += 1;
            continue;
        }
        if !is_numeric(c) {
            // (1.x's separate NaN check gives the same text.)
            return fail("invalid number");
        }
        i += 1;
    }
    if (is_int || is_uns) && (decimal || sci) {
        return fail("invalid number");
    }
    let mut digits = (i - start) as isize;
    if is_int {
        digits -= 1;
    }
    if decimal {
        digits -= 1;
    }
    if b[start] == b'-' {
        digits -= 1;
    }
    if digits <= 0 {
        return fail("invalid number");
    }
    if is_int {
        if b[i - 1] != b'i' {
            return fail("invalid number");
        }
        let s = &b[start..i - 1];
        if s.len() >= 19 && parse_i64(s).is_none() {
            let s = String::from_utf8_lossy(s);
            return Err(LineError(Cow::Owned(format!(
                "unable to parse integer {s}: strconv.ParseInt: parsing \"{s}\": value out of range"
            ))));
        }
    } else if is_uns {
        if !UNSIGNED_ENABLED || b[i - 1] != b'u' || b[start] == b'-' {
            return fail("invalid number");
        }
        let s = &b[start..i - 1];
        if s.len() >= 20 && parse_u64(s).is_none() {
            let s = String::from_utf8_lossy(s);
            return Err(LineError(Cow::Owned(format!(
                "unable to parse unsigned {s}: strconv.ParseUint: parsing \"{s}\": value out of range"
            ))));
        }
    } else if (sci || i - start >= 25) && parse_f64(&b[start..i]).is_none() {
        return fail("invalid float");
    }
    Ok(i)
}

/// Validates a boolean starting at `start`; returns where it ends.
fn scan_bool(b: &[u8], start: usize) -> Result<usize, LineError> {
    let n = b.len();
    if start < n && !matches!(b[start], b't' | b'f' | b'T' | b'F') {
        return fail("invalid boolean");
    }
    let mut i = start + 1;
    while i < n && b[i] != b',' && b[i] != b' ' {
        i += 1;
    }
    match b.get(start..i) {
        Some(w) if parse_bool(w).is_some() => Ok(i),
        _ => fail("invalid boolean"),
    }
}

#[inline]
fn parse_bool(w: &[u8]) -> Option<bool> {
    match w {
        b"t" | b"T" | b"true" | b"True" | b"TRUE" => Some(true),
        b"f" | b"F" | b"false" | b"False" | b"FALSE" => Some(false),
        _ => None,
    }
}

/// `[-]digits` → i64, None when malformed or out of range.
#[inline]
fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, d) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if d.is_empty() {
        return None;
    }
    if d.len() < 19 {
        // Cannot overflow.
        let mut acc: i64 = 0;
        for &c in d {
            if !c.is_ascii_digit() {
                return None;
            }
            acc = acc * 10 + i64::from(c - b'0');
        }
        return Some(if neg { -acc } else { acc });
    }
    let mut acc: i64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        acc = acc.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
    }
    if neg {
        Some(acc)
    } else {
        acc.checked_neg()
    }
}

#[inline]
fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut acc: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        acc = acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(acc)
}

/// A float as Go's `strconv.ParseFloat` reads the restricted forms the scanner lets through
/// (`[-]digits[.digits][e[+-]digits]`, digits optional around the dot); None on syntax error or
/// overflow to infinity.
#[inline]
fn parse_f64(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?;
    // Rust would also accept "inf"/"nan"/"+1"; the scanner never lets those through.
    let v: f64 = s.parse().ok()?;
    if v.is_finite() {
        Some(v)
    } else {
        None
    }
}

/// Splits the field section into key/value pairs the way 1.x's field iterator does (its rules differ
/// slightly from the validating scan: a `=` right after a backslash never ends a key), then types and
/// converts each value.
fn walk_fields<'a>(
    line: &'a str,
    fs: usize,
    fe: usize,
    key_len: usize,
    out: &mut Vec<(Escaped<'a>, Value<'a>)>,
) -> Result<(), LineError> {
    let b = line.as_bytes();
    let mut p = fs;
    while p < fe {
        // Key: up to the first '=' not right after a backslash (a '=' first in the key always counts).
        let mut j = p;
        while j < fe && !(b[j] == b'=' && (j == p || b[j - 1] != b'\\')) {
            j += 1;
        }
        if j + 2 > fe {
            return Err(LineError(Cow::Owned(format!("invalid value: field-key={}", sub(line, p, j)))));
        }
        let key = sub(line, p, j);
        let sz = key_len + 4 + key.len();
        if sz > MAX_KEY_LENGTH {
            return Err(LineError(Cow::Owned(format!("max key length exceeded: {} > {}", sz, MAX_KEY_LENGTH))));
        }
        // Value: up to the first comma outside quotes; only \" and \\ are escapes here.
        let vs = j + 1;
        let mut k = vs;
        let mut quoted = false;
        while k < fe {
            let c = b[k];
            if c == b'\\' && k + 1 < fe && (b[k + 1] == b'"' || b[k + 1] == b'\\') {
                k += 2;
                continue;
            }
            if c == b'"' {
                quoted = !quoted;
            } else if c == b',' && !quoted {
                break;
            }
            k += 1;
        }
        let val = &b[vs..k.min(fe)];
        if let Some(v) = type_value(val)? {
            out.push((Escaped::new(key, Kind::NameOrField), v));
        }
        p = k + 1;
    }
    Ok(())
}

/// Types a raw value as 1.x's iterator does (first byte decides; a trailing `i`/`u` marks integers).
/// `None` for an empty value (1.x skips it).
#[inline]
fn type_value(val: &[u8]) -> Result<Option<Value<'_>>, LineError> {
    let Some(&c) = val.first() else {
        return Ok(None);
    };
    if c == b'"' {
        let inner = if val.len() >= 2 { &val[1..val.len() - 1] } else { &val[0..0] };
        return Ok(Some(Value::String(StrValue { raw: inner })));
    }
    if matches!(c, b'0'..=b'9' | b'-' | b'.' | b'n' | b'N' | b'i' | b'I' | b'u') {
        let last = val[val.len() - 1];
        if last == b'i' {
            return match parse_i64(&val[..val.len() - 1]) {
                Some(v) => Ok(Some(Value::Integer(v))),
                None => fail("invalid number"),
            };
        }
        if last == b'u' {
            return match parse_u64(&val[..val.len() - 1]) {
                Some(v) => Ok(Some(Value::Unsigned(v))),
                None => fail("invalid number"),
            };
        }
        return match parse_f64(val) {
            Some(v) => Ok(Some(Value::Float(v))),
            None => fail("invalid number"),
        };
    }
    match parse_bool(val) {
        Some(v) => Ok(Some(Value::Boolean(v))),
        None => fail("invalid boolean"),
    }
}

// ---------------------------------------------------------------------------------------------
// Splitting a body into lines.

/// End of the line that starts at `start` (exclusive, clamped to the body), and whether it holds
/// newlines (inside quoted values). 1.x ends a line at a newline unless its own quote tracking says
/// the newline is inside a quoted field value; backslashes skip the next byte.
#[inline]
pub(super) fn line_end(b: &[u8], start: usize) -> (usize, bool, bool) {
    // Fast path: no quote or backslash before the newline (memchr: a vector register at a time).
    let n = b.len();
    match memchr::memchr3(b'\n', b'"', b'\\', b.get(start..).unwrap_or_default()) {
        None => (n, false, true),
        Some(k) if b[start + k] == b'\n' => (start + k, false, true),
        Some(_) => {
            let (e, nl) = line_end_slow(b, start);
            (e, nl, false)
        }
    }
}

fn line_end_slow(b: &[u8], start: usize) -> (usize, bool) {
    let n = b.len();
    let mut i = start;
    let mut quoted = false;
    let mut fields = false;
    let mut equals = 0usize;
    let mut commas = 0usize;
    let mut nl = false;
    while i < n {
        let c = b[i];
        if c == b'\\' {
            if i + 1 < n && b[i + 1] == b'\n' {
                nl = true;
            }
            i += 2;
            continue;
        }
        if c == b' ' {
            fields = true;
        }
        if fields {
            if !quoted && c == b'=' {
                equals += 1;
                i += 1;
                continue;
            } else if !quoted && c == b',' {
                commas += 1;
                i += 1;
                continue;
            } else if c == b'"' && equals > commas {
                quoted = !quoted;
                i += 1;
                continue;
            }
        }
        if c == b'\n' {
            if !quoted {
                break;
            }
            nl = true;
        }
        i += 1;
    }
    (i.min(n), nl)
}

/// The lines of a body that 1.x would parse: blank lines, whitespace-only lines and comment lines
/// (first non-blank byte `#`) are skipped; leading whitespace (space, tab, NUL) is removed.
/// Yields `(line_number, text)` where `line_number` is the 1-based physical line where it starts.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    body: &'a str,
    pos: usize,
    line_no: usize,
}

impl<'a> Lines<'a> {
    pub fn new(body: &'a str) -> Self {
        Lines { body, pos: 0, line_no: 1 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        self.next_flagged().map(|(no, s, _)| (no, s))
    }
}

impl<'a> Lines<'a> {
    /// Like `next`, plus whether the line holds no `"` and no `\` (then the fast parser applies).
    #[inline]
    fn next_flagged(&mut self) -> Option<(usize, &'a str, bool)> {
        let b = self.body.as_bytes();
        while self.pos < b.len() {
            let start = self.pos;
            let (end, inner_nl, simple) = line_end(b, start);
            let no = self.line_no;
            if inner_nl {
                self.line_no += b[start..end].iter().filter(|&&c| c == b'\n').count();
            }
            self.line_no += 1;
            self.pos = end + 1;
            let block = &b[start..end];
            if block.is_empty() {
                continue;
            }
            let s = skip_ws(block, 0);
            if s >= block.len() || block[s] == b'#' {
                continue;
            }
            let e = if block[block.len() - 1] == b'\n' { end - 1 } else { end };
            return Some((no, sub(self.body, start + s, e), simple));
        }
        None
    }
}

/// Parses a body line by line without allocating per line: each call to [`BodyParser::next_line`]
/// reuses one [`Line`].
#[derive(Debug)]
pub struct BodyParser<'a> {
    lines: Lines<'a>,
    precision: Precision,
    line: Line<'a>,
    order: TagOrder<'a>,
}

impl<'a> BodyParser<'a> {
    pub fn new(body: &'a str, precision: Precision) -> Self {
        BodyParser { lines: Lines::new(body), precision, line: Line::new(), order: TagOrder::default() }
    }

    /// The next line: its 1-based line number, its text, and the parsed form or 1.x's reason.
    #[allow(clippy::type_complexity)]
    pub fn next_line(&mut self) -> Option<(usize, &'a str, Result<&Line<'a>, LineError>)> {
        let (no, text, simple) = self.lines.next_flagged()?;
        let r = if simple {
            parse_simple_into(text, self.precision, &mut self.line, &mut self.order)
        } else {
            parse_line_into(text, self.precision, &mut self.line)
        };
        let r = r.map(|()| &self.line);
        Some((no, text, r))
    }
}

// ---------------------------------------------------------------------------------------------
// Writing line protocol back.

/// Writes `s` with a backslash before each of `special`.
pub(crate) fn write_escaped(f: &mut impl fmt::Write, s: &str, special: &[u8]) -> fmt::Result {
    let b = s.as_bytes();
    let mut last = 0;
    for (i, &c) in b.iter().enumerate() {
        if special.contains(&c) {
            f.write_str(sub(s, last, i))?;
            f.write_char('\\')?;
            last = i;
        }
    }
    f.write_str(sub(s, last, b.len()))
}

pub(crate) const MEASUREMENT_SPECIAL: &[u8] = b", ";
pub(crate) const TAG_SPECIAL: &[u8] = b", =";
pub(crate) const FIELD_KEY_SPECIAL: &[u8] = b", =";
pub(crate) const STRING_SPECIAL: &[u8] = b"\"\\";

pub(crate) fn write_float(f: &mut impl fmt::Write, v: f64) -> fmt::Result {
    // Rust's shortest round-trip form without exponent; always re-parses as a float.
    write!(f, "{}", v)
}

impl fmt::Display for Line<'_> {
    /// Canonical line protocol: names unescaped then re-escaped, tags sorted, values normalised,
    /// the timestamp in nanoseconds when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, &self.measurement.unescape(), MEASUREMENT_SPECIAL)?;
        for (k, v) in &self.tags {
            f.write_str(",")?;
            write_escaped(f, &k.unescape(), TAG_SPECIAL)?;
            f.write_str("=")?;
            write_escaped(f, &v.unescape(), TAG_SPECIAL)?;
        }
        for (i, (k, v)) in self.fields.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { "," })?;
            write_escaped(f, &k.unescape(), FIELD_KEY_SPECIAL)?;
            f.write_str("=")?;
            match v {
                Value::Float(x) => write_float(f, *x)?,
                Value::Integer(x) => write!(f, "{}i", x)?,
                Value::Unsigned(x) => write!(f, "{}u", x)?,
                Value::Boolean(x) => f.write_str(if *x { "true" } else { "false" })?,
                Value::String(s) => {
                    f.write_str("\"")?;
                    write_escaped(f, &s.unescape(), STRING_SPECIAL)?;
                    f.write_str("\"")?;
                }
            }
        }
        if let Some(t) = self.timestamp {
            write!(f, " {}", t)?;
        }
        Ok(())
    }
}
