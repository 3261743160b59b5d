//! The Merkle tree of a datanet version (documented in `openledger/datanet/v1/datanet.proto`):
//!
//! - `leaf = sha256(0x00 ‖ row_id u64 BE ‖ len(contributor) u8 ‖ contributor bytes ‖ row bytes)`
//! - `node = sha256(0x01 ‖ left ‖ right)`
//! - levels pair nodes left to right; an odd last node is promoted unchanged.
//!
//! The contributor's length byte keeps the boundary between address and row unambiguous
//! (addresses are 20 or 32 bytes). A proof is the list of siblings from the leaf up; which side
//! each sibling is on, and at which levels there is none, follows from the index and the row
//! count, so against the version's (on-chain) row count a proof also proves the row's position.
//! Pure functions, usable by any client.

use sha2::{Digest, Sha256};

/// A 32-byte SHA-256 hash.
pub type Hash = [u8; 32];

/// Domain tag of leaves.
pub const LEAF_TAG: u8 = 0x00;
/// Domain tag of inner nodes.
pub const NODE_TAG: u8 = 0x01;

/// The leaf hash of a row.
pub fn leaf_hash(row_id: u64, contributor: &[u8], data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_TAG]);
    h.update(row_id.to_be_bytes());
    h.update([u8::try_from(contributor.len()).unwrap_or(u8::MAX)]);
    h.update(contributor);
    h.update(data);
    h.finalize().into()
}

/// An inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_TAG]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    level.chunks(2).map(|pair| if let [l, r] = pair { node_hash(l, r) } else { pair[0] }).collect()
}

/// The root over `leaves` in order; `None` for no leaves.
pub fn root(leaves: &[Hash]) -> Option<Hash> {
    let mut level: Vec<Hash> = match leaves {
        [] => return None,
        [only] => return Some(*only),
        _ => next_level(leaves),
    };
    while level.len() > 1 {
        level = next_level(&level);
    }
    level.first().copied()
}

/// The siblings proving `leaves[index]`, leaf level first; `None` if `index` is out of range.
pub fn proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut siblings = Vec::new();
    let mut level = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        if i % 2 == 1 {
            siblings.push(level[i - 1]);
        } else if let Some(right) = level.get(i + 1) {
            siblings.push(*right);
        }
        level = next_level(&level);
        i /= 2;
    }
    Some(siblings)
}

/// Checks that `leaf` is at `index` of a tree of `count` leaves with `root`.
pub fn verify(root: &[u8], leaf: Hash, index: u64, count: u64, siblings: &[Vec<u8>]) -> bool {
    if count == 0 || index >= count {
        return false;
    }
    let mut hash = leaf;
    let mut i = index;
    let mut n = count;
    let mut path = siblings.iter();
    while n > 1 {
        let has_sibling = i % 2 == 1 || i + 1 < n;
        if has_sibling {
            let Some(sibling) = path.next() else { return false };
            let Ok(sibling) = <Hash>::try_from(sibling.as_slice()) else { return false };
            hash = if i % 2 == 1 { node_hash(&sibling, &hash) } else { node_hash(&hash, &sibling) };
        }
        i /= 2;
        n = n.div_ceil(2);
    }
    path.next().is_none() && root == hash.as_slice()
}

/// Checks a row of a version against the version's Merkle root: the leaf is recomputed from the
/// row's id, contributor address bytes and data, and walked up with `siblings` from `index` in a
/// version of `count` rows.
pub fn verify_row_proof(root: &[u8], row_id: u64, contributor: &[u8], data: &[u8], index: u64, count: u64, siblings: &[Vec<u8>]) -> bool {
    verify(root, leaf_hash(row_id, contributor, data), index, count, siblings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(i + 1, &[7u8; 20], format!("row {i}").as_bytes())).collect()
    }

    #[test]
    fn small_trees_follow_the_documented_rule() {
        let l = leaves(3);
        assert_eq!(root(&[]), None);
        assert_eq!(root(&l[..1]), Some(l[0]));
        assert_eq!(root(&l[..2]), Some(node_hash(&l[0], &l[1])));
        // Odd node promoted: root(3) = node(node(l0, l1), l2).
        assert_eq!(root(&l), Some(node_hash(&node_hash(&l[0], &l[1]), &l[2])));
        // The leaf commits to every field, and to the boundary between address and data.
        assert_ne!(leaf_hash(1, &[1, 2], b"x"), leaf_hash(1, &[1], b"\x02x"));
        assert_ne!(leaf_hash(1, &[1], b"x"), leaf_hash(2, &[1], b"x"));
        let mut manual = Sha256::new();
        manual.update([0u8]);
        manual.update(5u64.to_be_bytes());
        manual.update([2u8, 9, 9]);
        manual.update(b"data");
        assert_eq!(leaf_hash(5, &[9, 9], b"data"), <Hash>::from(manual.finalize()));
    }

    #[test]
    fn every_proof_verifies_and_tampering_fails() {
        for n in [1u64, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100] {
            let l = leaves(n);
            let r = root(&l).unwrap();
            for i in 0..n {
                let idx = usize::try_from(i).unwrap();
                let p: Vec<Vec<u8>> = proof(&l, idx).unwrap().iter().map(|h| h.to_vec()).collect();
                assert!(verify(&r, l[idx], i, n, &p), "n={n} i={i}");
                // Wrong position, wrong count, wrong leaf, extra or missing sibling.
                if n > 1 {
                    assert!(!verify(&r, l[idx], (i + 1) % n, n, &p), "n={n} i={i}");
                    assert!(!verify(&r, l[(idx + 1) % l.len()], i, n, &p));
                }
                let mut extra = p.clone();
                extra.push(vec![0; 32]);
                assert!(!verify(&r, l[idx], i, n, &extra));
                if let Some((_, rest)) = p.split_first() {
                    assert!(!verify(&r, l[idx], i, n, rest));
                    let mut flipped = p.clone();
                    flipped[0][0] ^= 1;
                    assert!(!verify(&r, l[idx], i, n, &flipped));
                }
            }
            assert!(proof(&l, usize::try_from(n).unwrap()).is_none());
            assert!(!verify(&r, l[0], n, n, &[]));
        }
    }

    #[test]
    fn row_proof_recomputes_the_leaf() {
        let rows: Vec<(u64, Vec<u8>, Vec<u8>)> = (1..=5).map(|i| (i * 3, vec![u8::try_from(i).unwrap(); 20], vec![b'a'; 10])).collect();
        let l: Vec<Hash> = rows.iter().map(|(id, c, d)| leaf_hash(*id, c, d)).collect();
        let r = root(&l).unwrap();
        let p: Vec<Vec<u8>> = proof(&l, 2).unwrap().iter().map(|h| h.to_vec()).collect();
        let (id, c, d) = &rows[2];
        assert!(verify_row_proof(&r, *id, c, d, 2, 5, &p));
        assert!(!verify_row_proof(&r, *id, c, b"tampered", 2, 5, &p));
        assert!(!verify_row_proof(&r, *id + 1, c, d, 2, 5, &p));
    }
}
