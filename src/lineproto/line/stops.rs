//! Where the separators of a simple line are: the positions of `' '`, `','` and `'='`, found 64 bytes
//! at a time as a bitmask and then read off one set bit at a time.
//!
//! Why a mask rather than a scan per section: a TSBS line (≈ 345 bytes) has ≈ 45 sections of 3–20
//! bytes (`hostname`, `host_0`, `usage_user`, `58i`), so a scan that starts afresh for each one spends
//! its time on its own exit branch, whose outcome (stop in the first word or the second?) varies line to
//! line and is mispredicted. One mask per 64 bytes costs a fixed, branch-free ~30 instructions (with
//! SSE2: four 16-byte loads, three byte compares each, one `pmovmskb` each); each later query is then a
//! shift and a `tzcnt`. The parser asks at increasing positions, so each block is built once per line.
//!
//! SSE2 is part of the x86-64 baseline, so no runtime detection is needed there; elsewhere a portable
//! SWAR form (eight bytes per `u64`) builds the same mask. `tests` checks both against a byte-by-byte
//! reference at every offset relative to the 16- and 64-byte boundaries.

/// Bit `k` set iff `b[at + k]` is `' '`, `','` or `'='`, for the 64 bytes `b[at..at + 64]`.
#[inline(always)]
fn mask64(b: &[u8; 64]) -> u64 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: `sse2_mask64` needs the `sse2` target feature, and this branch is compiled only when
        // that feature is enabled for the whole build (`cfg(target_feature = "sse2")`, which every
        // x86-64 target has: it is part of the architecture's baseline). The function itself is safe
        // code; calling it is `unsafe` only because of its `#[target_feature]` attribute.
        unsafe { sse2_mask64(b) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        swar_mask64(b)
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
#[inline]
fn sse2_mask64(b: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x};
    let (sp, co, eq) = (_mm_set1_epi8(b' ' as i8), _mm_set1_epi8(b',' as i8), _mm_set1_epi8(b'=' as i8));
    let mut m = 0u64;
    for k in 0..4 {
        let word = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[16 * k + o..16 * k + o + 8]);
            u64::from_le_bytes(a) as i64
        };
        // Two 8-byte halves into one register (the compiler emits a single unaligned load).
        let v = _mm_set_epi64x(word(8), word(0));
        let hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, co)), _mm_cmpeq_epi8(v, eq));
        m |= u64::from(_mm_movemask_epi8(hit) as u16) << (16 * k);
    }
    m
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The portable form: per 8-byte word, the high bit of each byte equal to a stop byte, gathered into
/// eight mask bits. Exact for every byte (unlike the borrow trick, whose flags above the lowest are
/// unreliable): `(x & 0x7f) + 0x7f` sets a byte's high bit iff its low seven bits are non-zero, with no
/// carry between bytes.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
fn swar_mask64(b: &[u8; 64]) -> u64 {
    let low7 = LO * 0x7f;
    let zero = |v: u64| !(((v & low7).wrapping_add(low7)) | v) & HI;
    let mut m = 0u64;
    for k in 0..8 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[8 * k..8 * k + 8]);
        let w = u64::from_le_bytes(a);
        let hits = zero(w ^ (LO * u64::from(b' '))) | zero(w ^ (LO * u64::from(b','))) | zero(w ^ (LO * u64::from(b'=')));
        // Gather the eight high bits (bits 7, 15, …, 63) into the low byte: multiply-and-shift.
        let bits = ((hits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        m |= bits << (8 * k);
    }
    m
}

/// Bit `k` set iff `b[at + k]` is a stop byte, for `at + k < b.len()` (bits past the end are clear).
#[inline(always)]
fn block_at(b: &[u8], at: usize) -> u64 {
    let n = b.len();
    if let Some(w) = b.get(at..at + 64) {
        let mut a = [0u8; 64];
        a.copy_from_slice(w);
        return mask64(&a);
    }
    if n >= 64 {
        // The last, partial block: take the 64 bytes ending at the end and drop those before `at`.
        let from = n - 64;
        let mut a = [0u8; 64];
        a.copy_from_slice(&b[from..]);
        return mask64(&a) >> (at - from);
    }
    // A line shorter than 64 bytes: pad with a byte that is not a stop.
    let mut a = [0u8; 64];
    a[..n - at].copy_from_slice(&b[at..]);
    mask64(&a)
}

/// The stop positions of one line, one 64-byte block of mask at a time.
pub(super) struct Stops<'b> {
    b: &'b [u8],
    /// Start of the block `mask` describes (a multiple of 64); `usize::MAX` before the first.
    base: usize,
    mask: u64,
}

impl<'b> Stops<'b> {
    pub(super) fn new(b: &'b [u8]) -> Self {
        Stops { b, base: usize::MAX, mask: 0 }
    }

    /// First position at or after `i` holding `' '`, `','` or `'='`, or `b.len()` (for `i ≤ b.len()`).
    #[inline(always)]
    pub(super) fn find(&mut self, i: usize) -> usize {
        let n = self.b.len();
        let mut blk = i & !63;
        let mut m = self.mask;
        if blk != self.base {
            if blk >= n {
                return n;
            }
            m = block_at(self.b, blk);
            self.base = blk;
            self.mask = m;
        }
        // `i - blk < 64`: keep the bits at and after `i`.
        m &= !0u64 << (i - blk);
        while m == 0 {
            blk += 64;
            if blk >= n {
                return n;
            }
            m = block_at(self.b, blk);
            self.base = blk;
            self.mask = m;
        }
        blk + m.trailing_zeros() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::tsbs::SplitMix64;

    fn reference(b: &[u8], from: usize) -> usize {
        (from..b.len()).find(|&i| matches!(b[i], b' ' | b',' | b'=')).unwrap_or(b.len())
    }

    fn is_stop(c: u8) -> bool {
        matches!(c, b' ' | b',' | b'=')
    }

    /// Bytes that are stops, near-misses of the compares (`!` `<` `-` `>` `\xa0` `\xac` `\xbd`: one bit
    /// away or the same low seven bits), escapes, quotes, newlines, NUL and UTF-8.
    const ALPHABET: &[u8] = b" ,=\\\"\n\tab!<->\x00\x7f\x80\xa0\xac\xbd\xc3\xbc\xff";

    #[test]
    fn both_masks_agree_with_bytewise() {
        let mut rng = SplitMix64::new(5);
        for _ in 0..50_000 {
            let mut a = [0u8; 64];
            for c in &mut a {
                *c = ALPHABET[rng.below(ALPHABET.len() as u64) as usize];
            }
            let want = a.iter().enumerate().fold(0u64, |m, (k, &c)| m | (u64::from(is_stop(c)) << k));
            assert_eq!(mask64(&a), want, "{a:?}");
            assert_eq!(swar_mask64(&a), want, "{a:?}");
        }
        // Every single byte value at every position, alone in a block of a non-stop filler.
        for c in 0..=255u8 {
            for k in 0..64 {
                let mut a = [b'a'; 64];
                a[k] = c;
                let want = u64::from(is_stop(c)) << k;
                assert_eq!((mask64(&a), swar_mask64(&a)), (want, want), "byte {c} at {k}");
            }
        }
    }

    /// Random lines of every length up to four blocks, asked at increasing positions (as the parser
    /// asks) and at random ones, against the byte-by-byte reference.
    #[test]
    fn find_agrees_with_bytewise() {
        let mut rng = SplitMix64::new(9);
        for round in 0..20_000 {
            let len = rng.below(260) as usize;
            // Sparse stops in some rounds (long runs cross block boundaries), dense in others.
            let dense = round % 2 == 0;
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    if dense || rng.below(40) == 0 {
                        ALPHABET[rng.below(ALPHABET.len() as u64) as usize]
                    } else {
                        b'x'
                    }
                })
                .collect();
            let mut s = Stops::new(&b);
            let mut i = 0;
            loop {
                let got = s.find(i);
                assert_eq!(got, reference(&b, i), "{b:?} from {i}");
                if got >= len {
                    break;
                }
                i = got + 1 + rng.below(3) as usize * usize::from(rng.below(4) == 0);
                i = i.min(len);
            }
            for _ in 0..8 {
                let from = rng.below(len as u64 + 1) as usize;
                assert_eq!(s.find(from), reference(&b, from), "{b:?} from {from}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Random bytes heavy in separators, escapes and quotes, asked from every position.
        #[test]
        fn find_matches_reference_from_every_position(
            b in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..300),
            pad in proptest::collection::vec(proptest::prelude::Just(b'x'), 0..70),
        ) {
            // A run of non-stops somewhere moves the later bytes across the block boundaries.
            let mut b = b;
            let at = b.len() / 2;
            b.splice(at..at, pad);
            let mut s = Stops::new(&b);
            for from in 0..=b.len() {
                proptest::prop_assert_eq!(s.find(from), reference(&b, from), "{:?} from {}", b, from);
            }
        }
    }

    /// A stop byte at each offset around the 16-, 32- and 64-byte boundaries of lines whose last block is
    /// partial, full, or shorter than one block.
    #[test]
    fn stops_at_every_boundary_offset() {
        for len in [1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 191, 200] {
            for at in 0..len {
                for c in [b' ', b',', b'='] {
                    let mut b = vec![b'q'; len];
                    b[at] = c;
                    for from in [0, at.saturating_sub(1), at, (at + 1).min(len), at & !15, at & !63] {
                        assert_eq!(Stops::new(&b).find(from), reference(&b, from), "len {len} stop {at} from {from}");
                    }
                }
            }
            let b = vec![b'q'; len];
            assert_eq!(Stops::new(&b).find(0), len);
            assert_eq!(Stops::new(&b).find(len), len);
        }
        assert_eq!(Stops::new(b"").find(0), 0);
    }
}
