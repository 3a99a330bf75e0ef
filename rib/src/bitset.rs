//! Sets of table slots, one bit per slot: what a peer holds from us, what
//! it still has to be told, what changed since the last round. Walked in
//! slot order. A set of
//! every prefix of a million-route table is 125 kB, so per-peer state
//! stays bounded by the table, never by the churn.

/// A set of `u32`, stored as bits. Grows to the largest member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bitset {
    words: Vec<u64>,
    count: usize,
}

impl Bitset {
    pub fn new() -> Bitset {
        Bitset::default()
    }

    /// Adds `i`; whether it was new.
    pub fn insert(&mut self, i: u32) -> bool {
        let (w, b) = (i as usize / 64, i % 64);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let new = self.words[w] & (1 << b) == 0;
        self.words[w] |= 1 << b;
        self.count += usize::from(new);
        new
    }

    /// Removes `i`; whether it was there.
    pub fn remove(&mut self, i: u32) -> bool {
        let (w, b) = (i as usize / 64, i % 64);
        let Some(word) = self.words.get_mut(w) else {
            return false;
        };
        let had = *word & (1 << b) != 0;
        *word &= !(1 << b);
        self.count -= usize::from(had);
        had
    }

    pub fn contains(&self, i: u32) -> bool {
        self.words
            .get(i as usize / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Members.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Makes the set `0..n`.
    pub fn fill(&mut self, n: u32) {
        let n = n as usize;
        self.words.clear();
        self.words.resize(n / 64, u64::MAX);
        if !n.is_multiple_of(64) {
            self.words.push((1u64 << (n % 64)) - 1);
        }
        self.count = n;
    }

    /// Empties the set and gives its memory back.
    pub fn clear(&mut self) {
        self.words = Vec::new();
        self.count = 0;
    }

    /// The smallest member at or above `from`.
    pub fn next_from(&self, from: u32) -> Option<u32> {
        let mut w = from as usize / 64;
        let mut word = *self.words.get(w)? & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return Some((w * 64) as u32 + word.trailing_zeros());
            }
            w += 1;
            word = *self.words.get(w)?;
        }
    }

    /// Members at or above `from`, in order.
    pub fn iter_from(&self, from: u32) -> impl Iterator<Item = u32> + '_ {
        let mut next = self.next_from(from);
        std::iter::from_fn(move || {
            let i = next?;
            next = i.checked_add(1).and_then(|j| self.next_from(j));
            Some(i)
        })
    }

    /// Members, in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter_from(0)
    }

    /// Bytes on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_come_back_in_order_from_any_start() {
        let mut b = Bitset::new();
        for i in [3, 64, 65, 200, 1000] {
            assert!(b.insert(i));
        }
        assert!(!b.insert(64));
        assert_eq!(b.len(), 5);
        assert_eq!(b.next_from(0), Some(3));
        assert_eq!(b.next_from(4), Some(64));
        assert_eq!(b.next_from(66), Some(200));
        assert_eq!(b.next_from(1001), None);
        assert!(b.remove(200) && !b.remove(200));
        assert_eq!(b.next_from(66), Some(1000));
        b.fill(130);
        assert_eq!((b.len(), b.contains(129), b.contains(130)), (130, true, false));
        assert_eq!(b.next_from(129), Some(129));
        b.clear();
        assert!(b.is_empty() && b.next_from(0).is_none());
    }

    #[test]
    fn iteration_in_order_from_any_start() {
        let mut b = Bitset::new();
        for i in [700, 3, 64, 63] {
            b.insert(i);
        }
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![3, 63, 64, 700]);
        assert_eq!(b.iter_from(64).collect::<Vec<_>>(), vec![64, 700]);
        assert_eq!(b.iter_from(701).count(), 0);
    }
}
