//! The parser's fast paths for the common shapes of a line (what TSBS and most agents write):
//! converting the plain number shapes (`12i`, `-3.25`, `7`) in the same pass that delimits them, and
//! reusing the sort order of a line's tags for the next line with the same keys (finding the
//! separators is [`super::stops`]). Each one either gives exactly what the general code gives or
//! declines (`None`, a miss), and then the general code runs; `lineproto::tests` checks both agree.
//!
//! Floats: a decimal `m / 10^k` with `m ≤ 2^53` and `k ≤ 22` is the quotient of two exactly
//! representable doubles, and one IEEE division rounds it correctly (Clinger's fast path), so the result
//! is bit-identical to a correctly rounded parse such as `str::parse::<f64>` (and Go's `ParseFloat`).
//! Anything longer (more than 18 digits, an exponent, a `u` suffix, `NaN`) is left to the general code.

use super::{cmp_bytes, fail, Escaped, LineError, Value};

/// Exact powers of ten as doubles (10^22 is the largest exactly representable one).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22,
];

/// At most this many digits are read (10^18 - 1 fits an i64, so no overflow checks).
const MAX_DIGITS: usize = 18;

/// Whether a field value may end at `i` (end of line, next field, or the timestamp's space).
#[inline(always)]
fn value_ends(b: &[u8], i: usize) -> bool {
    i >= b.len() || b[i] == b',' || b[i] == b' '
}

/// Reads up to [`MAX_DIGITS`] - `used` decimal digits from `i`, accumulating into `m`.
#[inline(always)]
fn digits(b: &[u8], mut i: usize, mut m: u64, used: usize) -> (usize, u64) {
    let n = b.len().min(i + (MAX_DIGITS - used));
    while i < n {
        let d = b[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        m = m * 10 + u64::from(d);
        i += 1;
    }
    (i, m)
}

/// The value at `vs` if it is `[-]digits i`, `[-]digits[.digits]` or `[-].digits` with at most 18
/// digits in all (and, for a float, a mantissa ≤ 2^53), ended by `,`, ` ` or the end of the line:
/// the value and where it ends. `None` for every other shape (the general scan decides those).
#[inline]
pub(super) fn number(b: &[u8], vs: usize) -> Option<(Value<'static>, usize)> {
    let neg = b.get(vs) == Some(&b'-');
    let d0 = vs + usize::from(neg);
    let (i, m) = digits(b, d0, 0, 0);
    let int_digits = i - d0;
    let sign = |f: f64| if neg { -f } else { f };
    match b.get(i) {
        Some(b'i') if int_digits > 0 && value_ends(b, i + 1) => {
            // m < 10^18, so the negation cannot overflow.
            let v = m as i64;
            Some((Value::Integer(if neg { -v } else { v }), i + 1))
        }
        Some(b'.') => {
            let (j, m) = digits(b, i + 1, m, int_digits);
            let frac = j - i - 1;
            if int_digits + frac == 0 || !value_ends(b, j) || m > 1 << 53 {
                return None;
            }
            Some((Value::Float(sign(m as f64 / POW10[frac])), j))
        }
        _ if int_digits > 0 && value_ends(b, i) && m <= 1 << 53 => Some((Value::Float(sign(m as f64)), i)),
        _ => None,
    }
}

/// The sorted order of the last line's tag keys, reused while lines repeat the same keys in the same
/// written order (the usual case: one writer, one measurement). Its buffers grow to the largest tag
/// count seen, which a line's length bounds.
#[derive(Debug, Default)]
pub(crate) struct TagOrder<'a> {
    /// The keys as written, in written order, of the last line that needed sorting (empty: none).
    keys: Vec<&'a str>,
    /// `perm[j]`: the written position of the `j`-th tag in sorted order.
    perm: Vec<usize>,
    scratch: Vec<(Escaped<'a>, Escaped<'a>)>,
}

/// `a == b` for short strings, inline (no call to `bcmp` per key).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i + 8 <= a.len() {
        let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
        x.copy_from_slice(&a[i..i + 8]);
        y.copy_from_slice(&b[i..i + 8]);
        if x != y {
            return false;
        }
        i += 8;
    }
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl<'a> TagOrder<'a> {
    /// Sorts `tags` by key as written (bytewise) and refuses duplicate keys, as 1.x does.
    pub(super) fn sort(&mut self, tags: &mut Vec<(Escaped<'a>, Escaped<'a>)>) -> Result<(), LineError> {
        if super::in_order(tags)? {
            return Ok(());
        }
        let hit = self.keys.len() == tags.len()
            && self.keys.iter().zip(tags.iter()).all(|(k, t)| same(k.as_bytes(), t.0.raw.as_bytes()));
        if !hit {
            self.keys.clear();
            self.perm.clear();
            self.perm.extend(0..tags.len());
            let key = |p: usize| tags[p].0.raw.as_bytes();
            self.perm.sort_by(|&x, &y| cmp_bytes(key(x), key(y)));
            if self.perm.windows(2).any(|w| key(w[0]) == key(w[1])) {
                return fail("duplicate tags");
            }
            self.keys.extend(tags.iter().map(|t| t.0.raw));
        }
        self.scratch.clear();
        self.scratch.extend(self.perm.iter().map(|&p| tags[p]));
        std::mem::swap(tags, &mut self.scratch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::tsbs::SplitMix64;

    /// What the fast conversion must agree with: Rust's correctly rounded `str::parse`.
    fn reference(s: &str) -> Option<Value<'static>> {
        match s.strip_suffix('i') {
            Some(d) => d.parse::<i64>().ok().map(Value::Integer),
            None => s.parse::<f64>().ok().map(Value::Float),
        }
    }

    fn check(s: &str) -> bool {
        let Some((v, end)) = number(s.as_bytes(), 0) else { return false };
        assert_eq!(end, s.len(), "{s}");
        match (v, reference(s)) {
            (Value::Float(a), Some(Value::Float(b))) => assert_eq!(a.to_bits(), b.to_bits(), "{s}"),
            (a, b) => assert_eq!(Some(a), b, "{s}"),
        }
        true
    }

    #[test]
    fn numbers_bit_identical_to_str_parse() {
        let mut rng = SplitMix64::new(7);
        let mut taken = 0;
        for _ in 0..300_000 {
            // Up to 18 digits, the dot anywhere (or nowhere), either sign, sometimes an `i`.
            let len = 1 + rng.below(18) as usize;
            let mut s: String = (0..len).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
            match rng.below(4) {
                0 => {}
                1 => s.push('i'),
                _ => s.insert(rng.below(len as u64 + 1) as usize, '.'),
            }
            if rng.below(2) == 0 {
                s.insert(0, '-');
            }
            taken += usize::from(check(&s));
        }
        // Most of these shapes are taken (mantissas above 2^53 are not): the test is not vacuous.
        assert!(taken > 150_000, "{taken}");
        // Floats as writers print them: shortest round-trip and fixed precision.
        for _ in 0..100_000 {
            let f = f64::from_bits(rng.next_u64());
            if f.is_finite() {
                check(&f.to_string());
                check(&format!("{:.3}", f / 1e300));
            }
        }
    }

    #[test]
    fn number_edges() {
        for s in ["-0", "-0.0", "0.", ".5", "-.5", "5.", "9007199254740992", "900719925474099.2", "0.00000000000000001"] {
            assert!(check(s), "{s} should take the fast path");
        }
        for s in [".", "-", "-i", "i", "1.5i", "1e5", "5u", "9007199254740993", "1234567890123456789i", "1..2", "12a"] {
            assert!(number(s.as_bytes(), 0).is_none(), "{s} should be left to the general code");
        }
        // Ends at the field separator or the timestamp's space, not inside a value.
        assert_eq!(number(b"12i,x=1", 0), Some((Value::Integer(12), 3)));
        assert_eq!(number(b"x=-2.5 17", 2).map(|(_, e)| e), Some(6));
    }

    /// The timestamp conversion (one unchecked pass up to 19 digits) against `str::parse::<i64>`.
    #[test]
    fn timestamps_agree_with_str_parse() {
        let mut rng = SplitMix64::new(11);
        let mut cases: Vec<String> = ["9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "-", "0", "-0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for _ in 0..100_000 {
            let len = 1 + rng.below(21) as usize;
            let mut s: String = (0..len).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
            if len == 19 && rng.below(2) == 0 {
                s.replace_range(0..1, "9");
            }
            if rng.below(2) == 0 {
                s.insert(0, '-');
            }
            cases.push(s);
        }
        for s in cases {
            assert_eq!(super::super::parse_ts(&s).ok(), s.parse::<i64>().ok(), "{s}");
        }
    }
}
