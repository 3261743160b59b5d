//! A version's attribution index: vocabulary, token stream, suffix array and row starts (the
//! format is normative and documented on `IndexMeta` in attribution.proto), its byte encoding,
//! and exact span matching over it.
//!
//! In memory every integer is a `u32` (positions are bounded by `max_index_tokens`); on disk the
//! sections use the smallest byte widths that fit. A small range-minimum tree over the suffix
//! array (built at load, never stored) finds the lowest position (= lowest row) holding a span in
//! O(64 · levels) whatever the number of occurrences.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::sa;
use crate::tokenize::for_each_token;

/// Fan-out of the range-minimum tree.
const FANOUT: usize = 64;

/// Why an index could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexBuildError {
    /// More tokens than allowed.
    TooLarge {
        /// Tokens counted when the limit was crossed.
        tokens: u64,
    },
    /// Stored bytes do not parse (never expected: the hash is checked first).
    Corrupt(String),
}

/// A loaded (or freshly built) index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// Sorted distinct tokens; token id = 1 + position.
    pub vocab: Vec<String>,
    /// Token ids, each row followed by a separator (0).
    pub stream: Vec<u32>,
    /// Token positions in suffix order.
    pub sa: Vec<u32>,
    /// Stream position where each row starts, plus the stream length at the end.
    pub row_starts: Vec<u32>,
    /// Range-minimum levels over `sa` (level 0 is the minima of blocks of `sa`).
    min_levels: Vec<Vec<u32>>,
    /// `first[t]..first[t + 1]`: the suffix-array range of the suffixes starting with token id
    /// `t` (derived from `sa`, never encoded), so a match skips its widest binary search.
    first: Vec<u32>,
}

/// Sizes of an encoded index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// Bytes per token id.
    pub token_width: u32,
    /// Bytes per stream position.
    pub pos_width: u32,
    /// Bytes of the vocab section.
    pub vocab_bytes: u64,
    /// All bytes.
    pub total_bytes: u64,
}

/// One maximal span of an output in an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First output token.
    pub start: u32,
    /// Length in tokens.
    pub len: u32,
    /// Index (within the version) of the lowest row containing it.
    pub row_index: u32,
    /// Occurrences in the stream.
    pub occurrences: u64,
}

/// Bytes needed to store values up to `max` (at least 1).
pub fn width_for(max: u64) -> u32 {
    let bits = 64 - max.leading_zeros();
    bits.div_ceil(8).max(1)
}

fn put(buf: &mut Vec<u8>, v: u32, width: u32) {
    buf.extend_from_slice(&v.to_le_bytes()[..width as usize]);
}

fn get(bytes: &[u8], at: usize, width: usize) -> u32 {
    let mut b = [0u8; 4];
    b[..width].copy_from_slice(&bytes[at..at + width]);
    u32::from_le_bytes(b)
}

impl Index {
    /// Builds the index of `rows` (in version order), failing once more than `max_tokens` tokens
    /// are seen.
    pub fn build<'a>(rows: impl IntoIterator<Item = &'a [u8]>, max_tokens: u64) -> Result<Self, IndexBuildError> {
        // One pass: provisional ids in first-seen order, remapped to sorted order at the end.
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut words: Vec<String> = Vec::new();
        let mut stream: Vec<u32> = Vec::new();
        let mut row_starts: Vec<u32> = Vec::new();
        let mut tokens = 0u64;
        let mut over = false;
        for row in rows {
            if over {
                break;
            }
            row_starts.push(stream.len() as u32);
            let text = String::from_utf8_lossy(row);
            for_each_token(&text, |t| {
                if over {
                    return;
                }
                tokens += 1;
                if tokens > max_tokens {
                    over = true;
                    return;
                }
                let id = match ids.get(t) {
                    Some(&id) => id,
                    None => {
                        let id = words.len() as u32 + 1;
                        ids.insert(t.to_string(), id);
                        words.push(t.to_string());
                        id
                    }
                };
                stream.push(id);
            });
            stream.push(0);
        }
        if over {
            return Err(IndexBuildError::TooLarge { tokens });
        }
        row_starts.push(stream.len() as u32);
        drop(ids);
        // Sorted vocabulary and the remap provisional → final.
        let mut order: Vec<u32> = (0..words.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| words[a as usize].cmp(&words[b as usize]));
        let mut remap = vec![0u32; words.len() + 1];
        for (final_pos, &prov) in order.iter().enumerate() {
            remap[prov as usize + 1] = final_pos as u32 + 1;
        }
        for t in stream.iter_mut() {
            *t = remap[*t as usize];
        }
        let mut slots: Vec<Option<String>> = words.into_iter().map(Some).collect();
        let vocab: Vec<String> = order.iter().map(|&p| slots[p as usize].take().unwrap_or_default()).collect();
        let sa = sa::build(&stream);
        Ok(Self::assemble(vocab, stream, sa, row_starts))
    }

    fn assemble(vocab: Vec<String>, stream: Vec<u32>, sa: Vec<u32>, row_starts: Vec<u32>) -> Self {
        let mut min_levels: Vec<Vec<u32>> = Vec::new();
        let mut level: &[u32] = &sa;
        while level.len() > FANOUT {
            let next: Vec<u32> = level.chunks(FANOUT).map(|c| c.iter().copied().min().unwrap_or(u32::MAX)).collect();
            min_levels.push(next);
            level = min_levels.last().map(Vec::as_slice).unwrap_or(&[]);
        }
        // Suffixes are sorted by their first token: count each token, then prefix sums.
        let mut first = vec![0u32; vocab.len() + 2];
        for &p in &sa {
            if let Some(t) = stream.get(p as usize).map(|&t| t as usize + 1).filter(|&t| t < first.len()) {
                first[t] += 1;
            }
        }
        for t in 1..first.len() {
            first[t] = first[t].saturating_add(first[t - 1]);
        }
        Self { vocab, stream, sa, row_starts, min_levels, first }
    }

    /// Rows indexed.
    pub fn row_count(&self) -> u64 {
        self.row_starts.len().saturating_sub(1) as u64
    }

    /// Tokens (suffix array entries).
    pub fn token_count(&self) -> u64 {
        self.sa.len() as u64
    }

    /// The byte widths and sizes of the encoding.
    pub fn layout(&self) -> Layout {
        let token_width = width_for(self.vocab.len() as u64);
        let pos_width = width_for((self.stream.len() as u64).saturating_sub(1));
        let vocab_bytes: u64 = self.vocab.iter().map(|w| 4 + w.len() as u64).sum();
        let total_bytes = vocab_bytes
            + self.stream.len() as u64 * u64::from(token_width)
            + (self.sa.len() + self.row_starts.len()) as u64 * u64::from(pos_width);
        Layout { token_width, pos_width, vocab_bytes, total_bytes }
    }

    /// The encoded index (sections: vocab, stream, suffixes, row starts).
    pub fn encode(&self) -> Vec<u8> {
        let l = self.layout();
        let mut buf = Vec::with_capacity(l.total_bytes as usize);
        for w in &self.vocab {
            buf.extend_from_slice(&(w.len() as u32).to_le_bytes());
            buf.extend_from_slice(w.as_bytes());
        }
        for &t in &self.stream {
            put(&mut buf, t, l.token_width);
        }
        for &p in self.sa.iter().chain(self.row_starts.iter()) {
            put(&mut buf, p, l.pos_width);
        }
        buf
    }

    /// Parses encoded bytes given the counts from the index meta, checking every size and
    /// the suffix array's positions.
    pub fn decode(bytes: &[u8], vocab_size: u64, stream_len: u64, token_count: u64, row_count: u64) -> Result<Self, IndexBuildError> {
        let corrupt = |m: &str| IndexBuildError::Corrupt(m.to_string());
        let too_big = |v: u64| usize::try_from(v).ok().filter(|&v| v <= u32::MAX as usize).ok_or_else(|| corrupt("count too large"));
        let (vocab_size, stream_len, token_count, row_count) =
            (too_big(vocab_size)?, too_big(stream_len)?, too_big(token_count)?, too_big(row_count)?);
        let mut at = 0usize;
        let mut vocab = Vec::with_capacity(vocab_size);
        for _ in 0..vocab_size {
            let len = bytes.get(at..at + 4).ok_or_else(|| corrupt("vocab truncated"))?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            at += 4;
            let word = bytes.get(at..at.saturating_add(len)).ok_or_else(|| corrupt("vocab truncated"))?;
            vocab.push(String::from_utf8(word.to_vec()).map_err(|_| corrupt("vocab not UTF-8"))?);
            at += len;
        }
        let tw = width_for(vocab_size as u64) as usize;
        let pw = width_for((stream_len as u64).saturating_sub(1)) as usize;
        let need = stream_len
            .checked_mul(tw)
            .and_then(|s| token_count.checked_add(row_count + 1)?.checked_mul(pw)?.checked_add(s))
            .and_then(|s| s.checked_add(at))
            .ok_or_else(|| corrupt("size overflow"))?;
        if need != bytes.len() {
            return Err(corrupt("index size does not match its meta"));
        }
        let mut stream = Vec::with_capacity(stream_len);
        for i in 0..stream_len {
            let t = get(bytes, at + i * tw, tw);
            if t as usize > vocab_size {
                return Err(corrupt("token id outside the vocabulary"));
            }
            stream.push(t);
        }
        at += stream_len * tw;
        let mut sa = Vec::with_capacity(token_count);
        for i in 0..token_count {
            let p = get(bytes, at + i * pw, pw);
            if p as usize >= stream_len || stream[p as usize] == 0 {
                return Err(corrupt("suffix outside the stream"));
            }
            sa.push(p);
        }
        at += token_count * pw;
        let mut row_starts = Vec::with_capacity(row_count + 1);
        for i in 0..=row_count {
            row_starts.push(get(bytes, at + i * pw, pw));
        }
        let out_of_order = row_starts.windows(2).any(|w| w[0] >= w[1]) || row_starts.last().copied().unwrap_or(0) as usize != stream_len;
        if out_of_order && !(row_count == 0 && stream_len == 0) {
            return Err(corrupt("row starts out of order"));
        }
        Ok(Self::assemble(vocab, stream, sa, row_starts))
    }

    /// SHA-256 of the encoding.
    pub fn content_hash(bytes: &[u8]) -> Vec<u8> {
        Sha256::digest(bytes).to_vec()
    }

    /// The token id of a canonical token (0 if not in the vocabulary).
    pub fn token_id(&self, token: &str) -> u32 {
        match self.vocab.binary_search_by(|w| w.as_str().cmp(token)) {
            Ok(pos) => pos as u32 + 1,
            Err(_) => 0,
        }
    }

    /// Token ids of canonical tokens (0 = unknown, never matches).
    pub fn ids(&self, tokens: &[String]) -> Vec<u32> {
        tokens.iter().map(|t| self.token_id(t)).collect()
    }

    /// The version index of the row holding stream position `pos`.
    pub fn row_of(&self, pos: u32) -> u32 {
        (self.row_starts.partition_point(|&s| s <= pos) as u32).saturating_sub(1)
    }

    /// Narrows the suffix-array range `[lo, hi)` (suffixes sharing their first `depth` tokens)
    /// to those whose token at `depth` is `id`.
    fn narrow(&self, lo: usize, hi: usize, depth: usize, id: u32) -> (usize, usize) {
        let at = |x: usize| self.stream[self.sa[x] as usize + depth];
        let range = &self.sa[lo..hi];
        let first = lo + range.partition_point(|&p| self.stream[p as usize + depth] < id);
        if first == hi || at(first) != id {
            return (first, first);
        }
        let last = first + self.sa[first..hi].partition_point(|&p| self.stream[p as usize + depth] <= id);
        (first, last)
    }

    /// The longest prefix of `q` occurring in the stream: its length and suffix-array range.
    pub fn longest_match(&self, q: &[u32]) -> (usize, usize, usize) {
        let Some(&t0) = q.first() else { return (0, 0, self.sa.len()) };
        let t0 = t0 as usize;
        let (Some(&a), Some(&b)) = (self.first.get(t0), self.first.get(t0 + 1)) else { return (0, 0, self.sa.len()) };
        if t0 == 0 || a >= b {
            return (0, 0, self.sa.len());
        }
        let (mut lo, mut hi) = (a as usize, b as usize);
        let mut len = 1usize;
        for &id in &q[1..] {
            if id == 0 {
                break;
            }
            let (a, b) = self.narrow(lo, hi, len, id);
            if a == b {
                break;
            }
            lo = a;
            hi = b;
            len += 1;
        }
        (len, lo, hi)
    }

    /// Lowest stream position among `sa[lo..hi]`.
    pub fn min_position(&self, lo: usize, hi: usize) -> u32 {
        self.range_min(0, lo, hi)
    }

    fn range_min(&self, level: usize, lo: usize, hi: usize) -> u32 {
        let data: &[u32] = if level == 0 { &self.sa } else { &self.min_levels[level - 1] };
        let scan = |a: usize, b: usize| data[a..b].iter().copied().min().unwrap_or(u32::MAX);
        let (blo, bhi) = (lo.div_ceil(FANOUT), hi / FANOUT);
        if level >= self.min_levels.len() || blo >= bhi {
            return scan(lo, hi);
        }
        scan(lo, blo * FANOUT).min(scan(bhi * FANOUT, hi)).min(self.range_min(level + 1, blo, bhi))
    }

    /// Every maximal span of `q` (token ids, 0 = unknown) of at least `min_len` tokens, in order
    /// of start, each with the lowest row containing it.
    pub fn maximal_spans(&self, q: &[u32], min_len: u32) -> Vec<Span> {
        let min_len = min_len.max(1) as usize;
        let mut out = Vec::new();
        if q.len() < min_len || self.sa.is_empty() {
            return out;
        }
        let mut prev_len = 0usize;
        for i in 0..=q.len() - min_len {
            let (len, lo, hi) = self.longest_match(&q[i..]);
            // Left-maximal: the span one token to the left was not longer by one.
            let left_maximal = i == 0 || prev_len <= len;
            if len >= min_len && left_maximal {
                let pos = self.min_position(lo, hi);
                out.push(Span { start: i as u32, len: len as u32, row_index: self.row_of(pos), occurrences: (hi - lo) as u64 });
            }
            prev_len = len;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sa::tests::XorShift;
    use crate::tokenize::tokenize;

    fn index(rows: &[&str]) -> Index {
        Index::build(rows.iter().map(|r| r.as_bytes()), u64::MAX).unwrap()
    }

    #[test]
    fn build_encode_decode_round_trip() {
        let idx = index(&["The cat sat on the mat.", "A dog; the cat!", "", "ünïcödé   text"]);
        assert_eq!(idx.row_count(), 4);
        assert_eq!(idx.vocab.windows(2).filter(|w| w[0] >= w[1]).count(), 0, "vocab sorted and distinct");
        let bytes = idx.encode();
        assert_eq!(bytes.len() as u64, idx.layout().total_bytes);
        let back = Index::decode(&bytes, idx.vocab.len() as u64, idx.stream.len() as u64, idx.token_count(), idx.row_count()).unwrap();
        assert_eq!(back, idx);
        // Any truncation or size mismatch is refused.
        assert!(Index::decode(
            &bytes[..bytes.len() - 1],
            idx.vocab.len() as u64,
            idx.stream.len() as u64,
            idx.token_count(),
            idx.row_count()
        )
        .is_err());
        assert!(Index::decode(&bytes, idx.vocab.len() as u64, idx.stream.len() as u64, idx.token_count() + 1, idx.row_count()).is_err());
        assert_eq!(width_for(0), 1);
        assert_eq!(width_for(255), 1);
        assert_eq!(width_for(256), 2);
        assert_eq!(width_for(65_536), 3);
    }

    #[test]
    fn too_many_tokens_is_refused() {
        assert_eq!(Index::build([b"a b c".as_slice()], 2), Err(IndexBuildError::TooLarge { tokens: 3 }));
        assert!(Index::build([b"a b c".as_slice()], 3).is_ok());
    }

    #[test]
    fn spans_are_maximal_attributed_to_the_lowest_row_and_never_cross_rows() {
        let idx = index(&["one two three four", "five six seven", "x one two three four five six seven y", "one two three four"]);
        let q = idx.ids(&tokenize("zero one two three four five six seven eight"));
        let spans = idx.maximal_spans(&q, 3);
        // "one..seven" lives whole only in row 2; "one two three four" is in rows 0, 2, 3 but is
        // not maximal (it extends to the right within row 2).
        assert_eq!(spans, vec![Span { start: 1, len: 7, row_index: 2, occurrences: 1 }]);
        // Without row 2 the output's run splits at the row boundary: two spans, never crossing.
        let idx = index(&["one two three four", "five six seven"]);
        let q = idx.ids(&tokenize("one two three four five six seven"));
        let spans = idx.maximal_spans(&q, 3);
        assert_eq!(
            spans,
            vec![Span { start: 0, len: 4, row_index: 0, occurrences: 1 }, Span { start: 4, len: 3, row_index: 1, occurrences: 1 }]
        );
        // Min span respected.
        assert_eq!(idx.maximal_spans(&q, 4).len(), 1);
        assert!(idx.maximal_spans(&q, 5).is_empty());
        // Duplicate rows: the lowest one wins.
        let idx = index(&["alpha beta gamma", "delta", "alpha beta gamma"]);
        let q = idx.ids(&tokenize("alpha beta gamma"));
        assert_eq!(idx.maximal_spans(&q, 2), vec![Span { start: 0, len: 3, row_index: 0, occurrences: 2 }]);
        // Unknown tokens never match.
        let q = idx.ids(&tokenize("alpha beta zzz gamma"));
        assert_eq!(idx.maximal_spans(&q, 2), vec![Span { start: 0, len: 2, row_index: 0, occurrences: 2 }]);
    }

    /// Naive reference: every (i, L) maximal span by brute-force search over rows.
    fn naive_spans(rows: &[Vec<u32>], q: &[u32], min_len: usize) -> Vec<(u32, u32, u32, u64)> {
        let occurs = |s: &[u32]| -> (u64, Option<u32>) {
            let mut count = 0u64;
            let mut first = None;
            for (r, row) in rows.iter().enumerate() {
                if s.len() <= row.len() {
                    for w in row.windows(s.len()) {
                        if w == s {
                            count += 1;
                            first.get_or_insert(r as u32);
                        }
                    }
                }
            }
            (count, first)
        };
        let mut out = Vec::new();
        for i in 0..q.len() {
            for j in (i + min_len)..=q.len() {
                let s = &q[i..j];
                let (c, first) = occurs(s);
                if c == 0 {
                    continue;
                }
                let right = j == q.len() || occurs(&q[i..j + 1]).0 == 0;
                let left = i == 0 || occurs(&q[i - 1..j]).0 == 0;
                if right && left {
                    out.push((i as u32, (j - i) as u32, first.unwrap_or(0), c));
                }
            }
        }
        out
    }

    #[test]
    fn spans_match_a_naive_search_on_random_data() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        for case in 0..150 {
            let alphabet = 2 + rng.below(5);
            let rows: Vec<Vec<u32>> =
                (0..1 + rng.below(8)).map(|_| (0..rng.below(20)).map(|_| 1 + rng.below(alphabet) as u32).collect()).collect();
            let texts: Vec<String> = rows.iter().map(|r| r.iter().map(|t| format!("w{t}")).collect::<Vec<_>>().join(" ")).collect();
            let idx = Index::build(texts.iter().map(|t| t.as_bytes()), u64::MAX).unwrap();
            let q_raw: Vec<u32> = (0..rng.below(25)).map(|_| 1 + rng.below(alphabet + 1) as u32).collect();
            let q_text = q_raw.iter().map(|t| format!("w{t}")).collect::<Vec<_>>().join(" ");
            let q = idx.ids(&tokenize(&q_text));
            let min_len = 1 + rng.below(3) as usize;
            let got: Vec<(u32, u32, u32, u64)> =
                idx.maximal_spans(&q, min_len as u32).iter().map(|s| (s.start, s.len, s.row_index, s.occurrences)).collect();
            // The reference works on the raw ids; unknown tokens (alphabet + 1 may be absent) can
            // never match there either.
            assert_eq!(got, naive_spans(&rows, &q_raw, min_len), "case {case}");
        }
    }

    #[test]
    fn range_minimum_tree_agrees_with_a_scan() {
        let mut rng = XorShift(77);
        let rows: Vec<String> = (0..3000).map(|_| (0..5).map(|_| format!("t{}", rng.below(4))).collect::<Vec<_>>().join(" ")).collect();
        let idx = Index::build(rows.iter().map(|r| r.as_bytes()), u64::MAX).unwrap();
        assert!(idx.min_levels.len() >= 2);
        for _ in 0..500 {
            let a = rng.below(idx.sa.len() as u64) as usize;
            let b = a + 1 + rng.below((idx.sa.len() - a) as u64) as usize;
            assert_eq!(idx.min_position(a, b), idx.sa[a..b].iter().copied().min().unwrap());
        }
    }
}
