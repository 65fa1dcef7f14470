//! Go's `container/heap` as 1.x drives it in its merge iterators: the same sift steps, so items
//! that compare equal come out in the order 1.x gives them. Shared by the buffered and streamed
//! raw merges (`select`, `stream`) and the partial-result merges of `aggregate`.

/// The heap of 1.x's merge of time-ordered inputs, driven as Go's `container/heap` drives it
/// (same sift steps, so items that compare equal come out in the same order): built from the
/// first item of every input (in input order), then [`GoHeap::pop`] the least entry and
/// [`GoHeap::push`] the next item of the popped entry's input, if any. Holds one item per
/// input, so a merge over lazily read inputs is incremental.
pub struct GoHeap<T> {
    h: Vec<(usize, T)>,
}

pub type HeapLess<'a, T> = dyn Fn(&(usize, &T), &(usize, &T)) -> bool + 'a;

impl<T> GoHeap<T> {
    /// `heap.Init` over the inputs' first items, `(input, item)` in input order.
    pub fn new(firsts: Vec<(usize, T)>, less: &HeapLess<'_, T>) -> GoHeap<T> {
        let mut g = GoHeap { h: firsts };
        let n = g.h.len();
        for i in (0..n / 2).rev() {
            g.down(i, n, less);
        }
        g
    }

    fn lt(&self, i: usize, j: usize, less: &HeapLess<'_, T>) -> bool {
        less(&(self.h[i].0, &self.h[i].1), &(self.h[j].0, &self.h[j].1))
    }

    fn down(&mut self, i0: usize, n: usize, less: &HeapLess<'_, T>) {
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            let j2 = j1 + 1;
            if j2 < n && self.lt(j2, j1, less) {
                j = j2;
            }
            if !self.lt(j, i, less) {
                break;
            }
            self.h.swap(i, j);
            i = j;
        }
    }

    fn up(&mut self, mut j: usize, less: &HeapLess<'_, T>) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.lt(j, i, less) {
                break;
            }
            self.h.swap(i, j);
            j = i;
        }
    }

    /// `heap.Pop`: the least entry.
    pub fn pop(&mut self, less: &HeapLess<'_, T>) -> Option<(usize, T)> {
        if self.h.is_empty() {
            return None;
        }
        let n = self.h.len() - 1;
        self.h.swap(0, n);
        self.down(0, n, less);
        self.h.pop()
    }

    /// `heap.Push`.
    pub fn push(&mut self, input: usize, item: T, less: &HeapLess<'_, T>) {
        self.h.push((input, item));
        let last = self.h.len() - 1;
        self.up(last, less);
    }
}
