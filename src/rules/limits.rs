//! LIMIT/OFFSET and SLIMIT/SOFFSET as 1.6.7 applies them. Both pick a window of a list: OFFSET
//! items are skipped, then LIMIT items are kept (0: all the rest).
//!
//! * LIMIT/OFFSET count the rows of each series of the answer (each GROUP BY tag set of each
//!   measurement) after ORDER BY; SLIMIT/SOFFSET count the series of each measurement, in
//!   tag-set order, before any row is read. SHOW statements page their rows the same way.
//! * A raw select with OFFSET and no LIMIT answers one row per series, the one at the offset
//!   ([`raw_row_limit`] is 1 there): 1.6.7's storage engine stops reading a series once it has
//!   read more than `offset + limit` points (`(n - offset) > limit`), which with no LIMIT is
//!   `offset + 1` points, and the query layer above it skips the first `offset`. Aggregates
//!   have no such quirk: they are limited by the query layer alone.

/// `items` after OFFSET `offset` and LIMIT `limit` (0: no limit).
pub fn apply<T>(items: Vec<T>, limit: u64, offset: u64) -> Vec<T> {
    let rest = items.into_iter().skip(usize::try_from(offset).unwrap_or(usize::MAX));
    if limit > 0 {
        rest.take(usize::try_from(limit).unwrap_or(usize::MAX)).collect()
    } else {
        rest.collect()
    }
}

/// The LIMIT a raw select's rows get: its own, or 1 when it has only an OFFSET (1.6.7).
pub fn raw_row_limit(limit: u64, offset: u64) -> u64 {
    if limit == 0 && offset > 0 {
        1
    } else {
        limit
    }
}

/// [`apply`] for rows that arrive one at a time: a fresh counter for each series.
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    skip: u64,
    left: Option<u64>,
}

impl Counter {
    pub fn new(limit: u64, offset: u64) -> Counter {
        Counter { skip: offset, left: (limit > 0).then_some(limit) }
    }

    /// Whether the next row is answered (counting it).
    pub fn admit(&mut self) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        match self.left.as_mut() {
            Some(0) => false,
            Some(l) => {
                *l -= 1;
                true
            }
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_at_their_edges() {
        let v: Vec<u32> = (0..5).collect();
        assert_eq!(apply(v.clone(), 0, 0), v);
        assert_eq!(apply(v.clone(), 2, 0), [0, 1]);
        assert_eq!(apply(v.clone(), 2, 4), [4]);
        assert_eq!(apply(v.clone(), 0, 3), [3, 4]);
        assert_eq!(apply(v.clone(), 5, 0), v);
        assert_eq!(apply(v.clone(), 9, 5), [] as [u32; 0]);
        assert_eq!(apply(v.clone(), u64::MAX, u64::MAX), [] as [u32; 0]);
    }

    #[test]
    fn a_raw_offset_alone_answers_one_row() {
        assert_eq!(raw_row_limit(0, 0), 0);
        assert_eq!(raw_row_limit(0, 1), 1);
        assert_eq!(raw_row_limit(0, 717), 1);
        assert_eq!(raw_row_limit(4, 700), 4);
    }

    #[test]
    fn the_counter_agrees_with_apply() {
        let v: Vec<u32> = (0..6).collect();
        for limit in 0..8 {
            for offset in 0..8 {
                let mut c = Counter::new(limit, offset);
                let streamed: Vec<u32> = v.iter().copied().filter(|_| c.admit()).collect();
                assert_eq!(streamed, apply(v.clone(), limit, offset), "LIMIT {limit} OFFSET {offset}");
            }
        }
    }
}
