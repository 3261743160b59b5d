//! Suffix array construction over a version's token stream (prefix doubling with radix sort,
//! O(n log L) for a longest repeat L; separators are unique so every round makes progress).
//!
//! The order (normative, see attribution.proto): suffixes starting at token positions (never at
//! separators, which are id 0) compared token by token up to and including the first separator;
//! a separator is below every token, and two suffixes equal up to their separators are ordered
//! by position. Equivalently: the suffix array of the stream in which the separator ending row r
//! has rank r and token id t has rank row_count + t, restricted to token positions.

/// Builds the suffix array of `stream` (token ids, 0 = separator; the stream must end with a
/// separator). Returns the sorted token positions. Positions must fit in `u32`.
pub fn build(stream: &[u32]) -> Vec<u32> {
    let n = stream.len();
    if n == 0 {
        return Vec::new();
    }
    // Initial ranks (1-based; 0 = past the end): separators by row, then tokens.
    let rows = stream.iter().filter(|&&t| t == 0).count() as u64;
    let mut rank: Vec<u32> = Vec::with_capacity(n);
    let mut row = 0u64;
    for &t in stream {
        if t == 0 {
            row += 1;
            rank.push(row as u32);
        } else {
            rank.push((rows + u64::from(t)) as u32);
        }
    }
    // Compact the initial ranks to 1..=distinct so counting arrays stay O(n).
    let max0 = rank.iter().copied().max().unwrap_or(0) as usize;
    let mut present = vec![0u32; max0 + 1];
    for &r in &rank {
        present[r as usize] = 1;
    }
    let mut next = 0u32;
    for p in present.iter_mut() {
        if *p != 0 {
            next += 1;
            *p = next;
        }
    }
    for r in rank.iter_mut() {
        *r = present[*r as usize];
    }
    drop(present);
    let mut max_rank = next as usize;

    let mut sa: Vec<u32> = vec![0; n];
    let mut tmp: Vec<u32> = vec![0; n];
    let mut cnt: Vec<u32> = vec![0; n.max(max_rank) + 2];
    // Counting sort by the initial rank.
    counting_sort(&(0..n as u32).collect::<Vec<_>>(), &rank, &mut cnt, max_rank, &mut sa);

    let mut new_rank: Vec<u32> = vec![0; n];
    let mut k = 1usize;
    while max_rank < n {
        // Order by the second key rank[i + k] (0 past the end): those past the end first.
        let mut w = 0usize;
        for i in n.saturating_sub(k)..n {
            tmp[w] = i as u32;
            w += 1;
        }
        for &p in &sa {
            let p = p as usize;
            if p >= k {
                tmp[w] = (p - k) as u32;
                w += 1;
            }
        }
        // Stable counting sort by the first key.
        counting_sort(&tmp, &rank, &mut cnt, max_rank, &mut sa);
        // New ranks.
        let key = |i: usize| -> (u32, u32) { (rank[i], if i + k < n { rank[i + k] } else { 0 }) };
        let mut r = 1u32;
        new_rank[sa[0] as usize] = 1;
        for j in 1..n {
            if key(sa[j] as usize) != key(sa[j - 1] as usize) {
                r += 1;
            }
            new_rank[sa[j] as usize] = r;
        }
        std::mem::swap(&mut rank, &mut new_rank);
        max_rank = r as usize;
        k = k.saturating_mul(2);
        if k >= n {
            break;
        }
    }
    sa.retain(|&p| stream[p as usize] != 0);
    sa
}

/// Stable counting sort of `items` by `key[item]` (keys in 0..=max_key) into `out`.
fn counting_sort(items: &[u32], key: &[u32], cnt: &mut [u32], max_key: usize, out: &mut [u32]) {
    for c in cnt[..=max_key + 1].iter_mut() {
        *c = 0;
    }
    for &i in items {
        cnt[key[i as usize] as usize + 1] += 1;
    }
    for j in 1..=max_key + 1 {
        cnt[j] += cnt[j - 1];
    }
    for &i in items {
        let slot = &mut cnt[key[i as usize] as usize];
        out[*slot as usize] = i;
        *slot += 1;
    }
}

/// The order by definition (tests and documentation): compares the suffixes at `a` and `b`.
pub fn compare_suffixes(stream: &[u32], a: usize, b: usize) -> std::cmp::Ordering {
    let mut i = 0usize;
    loop {
        let (x, y) = (stream[a + i], stream[b + i]);
        if x == 0 && y == 0 {
            return a.cmp(&b);
        }
        if x != y {
            return x.cmp(&y);
        }
        i += 1;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// xorshift64*: a deterministic generator for tests.
    pub struct XorShift(pub u64);
    impl XorShift {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn naive(stream: &[u32]) -> Vec<u32> {
        let mut v: Vec<u32> = (0..stream.len() as u32).filter(|&p| stream[p as usize] != 0).collect();
        v.sort_by(|&a, &b| compare_suffixes(stream, a as usize, b as usize));
        v
    }

    #[test]
    fn matches_the_naive_construction_on_random_streams() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for case in 0..300 {
            let rows = 1 + rng.below(12) as usize;
            let alphabet = 1 + rng.below(if case % 3 == 0 { 2 } else { 20 }) as u32;
            let mut stream = Vec::new();
            for _ in 0..rows {
                let len = rng.below(15) as usize;
                // Some rows repeat a short pattern (long repeats), others are random.
                let period = 1 + rng.below(3) as usize;
                let pattern: Vec<u32> = (0..period).map(|_| 1 + rng.below(u64::from(alphabet)) as u32).collect();
                let repeat = rng.below(2) == 0;
                for i in 0..len {
                    stream.push(if repeat { pattern[i % period] } else { 1 + rng.below(u64::from(alphabet)) as u32 });
                }
                stream.push(0);
            }
            assert_eq!(build(&stream), naive(&stream), "case {case}: {stream:?}");
        }
    }

    #[test]
    fn edge_cases() {
        assert!(build(&[]).is_empty());
        assert!(build(&[0, 0, 0]).is_empty());
        assert_eq!(build(&[5, 0]), vec![0]);
        // Identical rows: earlier row first.
        assert_eq!(build(&[1, 1, 0, 1, 1, 0]), vec![1, 4, 0, 3]);
        let long: Vec<u32> = std::iter::repeat_n(7, 5000).chain([0]).collect();
        assert_eq!(build(&long), naive(&long));
    }
}
