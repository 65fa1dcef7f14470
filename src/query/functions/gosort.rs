//! The unstable sort of Go 1.19's `sort.Sort` (the Go that built Debian's influxd 1.6.7:
//! `strings /usr/bin/influxd` names go1.19.8), reproduced step by step so that the order it
//! leaves among elements `less` cannot tell apart is the same. 1.x sorts the points of a window
//! by value only (percentile, median, mode), so which point's time a percentile answers among
//! equal values depends on exactly how Go's pattern-defeating quicksort moves them.
//!
//! Behaviour reproduced (Go 1.19, `sort.Sort` over a `sort.Interface`):
//! * depth limit = bit length of n; ranges of ≤ 12 elements: insertion sort (adjacent swaps);
//! * limit exhausted: heapsort of the range (max-heap, sift-down);
//! * after an unbalanced partition (a side < length/8): three swaps around the middle with
//!   positions from a xorshift (13, 17, 5) seeded with the range's length, and limit − 1;
//! * pivot: positions l/4, l/2, 3l/4; each replaced by the median of itself and its two
//!   neighbours when l ≥ 50 (ninther), then the median of the three; the number of swaps the
//!   medians make gives a hint (0: increasing, 12: decreasing → the range is reversed first);
//! * an increasing hint after a balanced, already-partitioned step tries a bounded insertion
//!   pass (5 out-of-order pairs, only for ranges ≥ 50; its leftward shift runs down to index 1
//!   of the whole slice, not the range start — kept as Go does);
//! * when the element before the range is not less than the pivot, the range is split into
//!   "equal to the pivot" and "greater" and only the greater part continues;
//! * otherwise a Hoare-style partition around the pivot (moved to the range start), recursing
//!   into the smaller side and looping on the larger.

/// Sorts `v` as Go 1.19's `sort.Sort` does with `Less(i, j) = less(&v[i], &v[j])`.
pub fn sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let limit = bit_len(n);
    let mut s = Sorter { v, less: &less };
    s.pdq(0, n, limit);
}

/// Go's `bits.Len`: the number of bits needed to represent `x`.
fn bit_len(x: usize) -> u32 {
    usize::BITS - x.leading_zeros()
}

#[derive(PartialEq, Clone, Copy)]
enum Hint {
    Unknown,
    Increasing,
    Decreasing,
}

struct Sorter<'a, T, F: Fn(&T, &T) -> bool> {
    v: &'a mut [T],
    less: &'a F,
}

impl<T, F: Fn(&T, &T) -> bool> Sorter<'_, T, F> {
    fn lt(&self, i: usize, j: usize) -> bool {
        (self.less)(&self.v[i], &self.v[j])
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.v.swap(i, j);
    }

    fn insertion(&mut self, a: usize, b: usize) {
        for i in a + 1..b {
            let mut j = i;
            while j > a && self.lt(j, j - 1) {
                self.swap(j, j - 1);
                j -= 1;
            }
        }
    }

    fn sift_down(&mut self, lo: usize, hi: usize, first: usize) {
        let mut root = lo;
        loop {
            let mut child = 2 * root + 1;
            if child >= hi {
                return;
            }
            if child + 1 < hi && self.lt(first + child, first + child + 1) {
                child += 1;
            }
            if !self.lt(first + root, first + child) {
                return;
            }
            self.swap(first + root, first + child);
            root = child;
        }
    }

    fn heap(&mut self, a: usize, b: usize) {
        let hi = b - a;
        for i in (0..=(hi - 1) / 2).rev() {
            self.sift_down(i, hi, a);
        }
        for i in (0..hi).rev() {
            self.swap(a, a + i);
            self.sift_down(0, i, a);
        }
    }

    fn pdq(&mut self, mut a: usize, mut b: usize, mut limit: u32) {
        let mut was_balanced = true;
        let mut was_partitioned = true;
        loop {
            let length = b - a;
            if length <= 12 {
                self.insertion(a, b);
                return;
            }
            if limit == 0 {
                self.heap(a, b);
                return;
            }
            if !was_balanced {
                self.break_patterns(a, b);
                limit -= 1;
            }
            let (mut pivot, mut hint) = self.choose_pivot(a, b);
            if hint == Hint::Decreasing {
                self.reverse(a, b);
                pivot = (b - 1) - (pivot - a);
                hint = Hint::Increasing;
            }
            if was_balanced && was_partitioned && hint == Hint::Increasing && self.partial_insertion(a, b) {
                return;
            }
            if a > 0 && !self.lt(a - 1, pivot) {
                a = self.partition_equal(a, b, pivot);
                continue;
            }
            let (mid, already) = self.partition(a, b, pivot);
            was_partitioned = already;
            let (left, right) = (mid - a, b - mid);
            let threshold = length / 8;
            if left < right {
                was_balanced = left >= threshold;
                self.pdq(a, mid, limit);
                a = mid + 1;
            } else {
                was_balanced = right >= threshold;
                self.pdq(mid + 1, b, limit);
                b = mid;
            }
        }
    }

    /// Returns the pivot's final position and whether nothing had to move.
    fn partition(&mut self, a: usize, b: usize, pivot: usize) -> (usize, bool) {
        self.swap(a, pivot);
        let (mut i, mut j) = (a + 1, b - 1);
        while i <= j && self.lt(i, a) {
            i += 1;
        }
        while i <= j && !self.lt(j, a) {
            j -= 1;
        }
        if i > j {
            self.swap(j, a);
            return (j, true);
        }
        self.swap(i, j);
        i += 1;
        j -= 1;
        loop {
            while i <= j && self.lt(i, a) {
                i += 1;
            }
            while i <= j && !self.lt(j, a) {
                j -= 1;
            }
            if i > j {
                break;
            }
            self.swap(i, j);
            i += 1;
            j -= 1;
        }
        self.swap(j, a);
        (j, false)
    }

    /// Elements not greater than the pivot first; returns where the greater ones start.
    fn partition_equal(&mut self, a: usize, b: usize, pivot: usize) -> usize {
        self.swap(a, pivot);
        let (mut i, mut j) = (a + 1, b - 1);
        loop {
            while i <= j && !self.lt(a, i) {
                i += 1;
            }
            while i <= j && self.lt(a, j) {
                j -= 1;
            }
            if i > j {
                return i;
            }
            self.swap(i, j);
            i += 1;
            j -= 1;
        }
    }

    fn partial_insertion(&mut self, a: usize, b: usize) -> bool {
        let mut i = a + 1;
        for _ in 0..5 {
            while i < b && !self.lt(i, i - 1) {
                i += 1;
            }
            if i == b {
                return true;
            }
            if b - a < 50 {
                return false;
            }
            self.swap(i, i - 1);
            if i - a >= 2 {
                // Go shifts down to index 1 of the whole slice here, not to `a + 1`.
                let mut j = i - 1;
                while j >= 1 {
                    if !self.lt(j, j - 1) {
                        break;
                    }
                    self.swap(j, j - 1);
                    j -= 1;
                }
            }
            if b - i >= 2 {
                let mut j = i + 1;
                while j < b {
                    if !self.lt(j, j - 1) {
                        break;
                    }
                    self.swap(j, j - 1);
                    j += 1;
                }
            }
        }
        false
    }

    fn break_patterns(&mut self, a: usize, b: usize) {
        let length = b - a;
        if length < 8 {
            return;
        }
        let mut state = length as u64;
        let mask = (1u64 << bit_len(length)) - 1;
        let mid = a + (length / 4) * 2;
        for idx in mid - 1..=mid + 1 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let mut other = (state & mask) as usize;
            if other >= length {
                other -= length;
            }
            self.swap(idx, a + other);
        }
    }

    fn choose_pivot(&mut self, a: usize, b: usize) -> (usize, Hint) {
        let l = b - a;
        let mut swaps = 0u32;
        let mut i = a + l / 4;
        let mut j = a + l / 4 * 2;
        let mut k = a + l / 4 * 3;
        if l >= 8 {
            if l >= 50 {
                i = self.median(i - 1, i, i + 1, &mut swaps);
                j = self.median(j - 1, j, j + 1, &mut swaps);
                k = self.median(k - 1, k, k + 1, &mut swaps);
            }
            j = self.median(i, j, k, &mut swaps);
        }
        let hint = match swaps {
            0 => Hint::Increasing,
            12 => Hint::Decreasing,
            _ => Hint::Unknown,
        };
        (j, hint)
    }

    /// The one of `x`, `y`, `z` holding the median; counts the exchanges it made.
    fn median(&self, x: usize, y: usize, z: usize, swaps: &mut u32) -> usize {
        let (x, y) = self.order2(x, y, swaps);
        let (y, _z) = self.order2(y, z, swaps);
        let (_x, y) = self.order2(x, y, swaps);
        y
    }

    fn order2(&self, x: usize, y: usize, swaps: &mut u32) -> (usize, usize) {
        if self.lt(y, x) {
            *swaps += 1;
            (y, x)
        } else {
            (x, y)
        }
    }

    fn reverse(&mut self, a: usize, b: usize) {
        let (mut i, mut j) = (a, b - 1);
        while i < j {
            self.swap(i, j);
            i += 1;
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sort;

    /// Deterministic pseudo-random input (splitmix64).
    fn data(n: usize, seed: u64, modulo: u64) -> Vec<(u64, usize)> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = s;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                ((z ^ (z >> 31)) % modulo, i)
            })
            .collect()
    }

    #[test]
    fn sorts_by_key() {
        for n in [0, 1, 2, 12, 13, 49, 50, 51, 100, 1000, 5000] {
            for modulo in [1, 2, 7, 1000, u64::MAX] {
                let mut v = data(n, (n as u64 * 31).wrapping_add(modulo), modulo);
                sort(&mut v, |a, b| a.0 < b.0);
                assert!(v.windows(2).all(|w| w[0].0 <= w[1].0), "n={n} modulo={modulo}");
                let mut idx: Vec<usize> = v.iter().map(|p| p.1).collect();
                idx.sort_unstable();
                assert_eq!(idx, (0..n).collect::<Vec<_>>());
            }
        }
        // sorted, reversed, organ pipe, all equal: the pattern paths
        for n in [13, 50, 64, 100, 777] {
            let mut asc: Vec<(u64, usize)> = (0..n).map(|i| (i as u64, i)).collect();
            let mut desc: Vec<(u64, usize)> = (0..n).map(|i| ((n - i) as u64, i)).collect();
            let mut pipe: Vec<(u64, usize)> = (0..n).map(|i| ((i.min(n - i)) as u64, i)).collect();
            for v in [&mut asc, &mut desc, &mut pipe] {
                sort(v, |a, b| a.0 < b.0);
                assert!(v.windows(2).all(|w| w[0].0 <= w[1].0));
            }
        }
    }

    #[test]
    fn small_inputs_are_an_insertion_sort() {
        // ≤ 12 elements: stable (adjacent swaps only when strictly less)
        let mut v = vec![(1, 0), (0, 1), (1, 2), (0, 3), (1, 4)];
        sort(&mut v, |a: &(i32, i32), b| a.0 < b.0);
        assert_eq!(v, vec![(0, 1), (0, 3), (1, 0), (1, 2), (1, 4)]);
    }

    #[test]
    fn nan_like_less_does_not_panic() {
        // A `less` that is not a strict weak order (Go's float `<` with NaNs) must not panic.
        for n in [13, 60, 300] {
            let mut v: Vec<f64> =
                data(n, 7, 10).into_iter().map(|(x, i)| if i % 3 == 0 { f64::NAN } else { x as f64 }).collect();
            sort(&mut v, |a, b| a < b);
            let mut w: Vec<f64> = data(n, 9, 5).into_iter().map(|(x, _)| x as f64).collect();
            sort(&mut w, |_, _| true);
            sort(&mut w, |_, _| false);
        }
    }
}
