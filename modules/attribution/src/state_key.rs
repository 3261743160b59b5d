//! Every state key of the attribution module, in one place. Numbers are zero-padded to 20
//! digits so prefix scans come out in numeric order.

/// `openledger.attribution.v1.Params`.
pub const PARAMS: &[u8] = b"attribution/params";

/// `(height u64 BE, bytes u64 BE)`: bytes of versions queued for indexing by the publishes of
/// that block (the per-block budget).
pub const BLOCK_INDEX_BYTES: &[u8] = b"attribution/block_index_bytes";

/// Prefix of every index (meta and chunks).
pub const INDEX_PREFIX: &[u8] = b"attribution/index/";

/// Prefix of every index meta.
pub const META_PREFIX: &[u8] = b"attribution/meta/";

/// `attribution/meta/{datanet:020}/{version:020}` → `IndexMeta`.
pub fn meta(datanet_id: u64, version: u64) -> Vec<u8> {
    format!("attribution/meta/{datanet_id:020}/{version:020}").into_bytes()
}

/// `attribution/index/{datanet:020}/{version:020}/` — one version's chunks.
pub fn chunks(datanet_id: u64, version: u64) -> Vec<u8> {
    format!("attribution/index/{datanet_id:020}/{version:020}/").into_bytes()
}

/// `attribution/index/{datanet:020}/{version:020}/{chunk:020}` → `IndexChunk`.
pub fn chunk(datanet_id: u64, version: u64, chunk: u64) -> Vec<u8> {
    format!("attribution/index/{datanet_id:020}/{version:020}/{chunk:020}").into_bytes()
}

/// Prefix of the versions waiting to be indexed.
pub const PENDING_PREFIX: &[u8] = b"attribution/pending/";

/// `attribution/pending/{datanet:020}/{version:020}` → `Pending`.
pub fn pending(datanet_id: u64, version: u64) -> Vec<u8> {
    format!("attribution/pending/{datanet_id:020}/{version:020}").into_bytes()
}

/// Prefix of every attribution record.
pub const RECORD_PREFIX: &[u8] = b"attribution/record/";

/// `attribution/record/{inference_id:020}` → `AttributionRecord`.
pub fn record(inference_id: u64) -> Vec<u8> {
    format!("attribution/record/{inference_id:020}").into_bytes()
}

/// Parses the trailing `{datanet:020}/{version:020}` of a meta or pending key.
pub fn trailing_pair(key: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(key).ok()?;
    let mut parts = text.rsplit('/');
    let version = parts.next()?;
    let datanet = parts.next()?;
    if version.len() != 20 || datanet.len() != 20 {
        return None;
    }
    Some((datanet.parse().ok()?, version.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_readable_padded_and_ordered() {
        assert_eq!(meta(1, 2), b"attribution/meta/00000000000000000001/00000000000000000002".to_vec());
        assert!(chunk(1, 2, 9) < chunk(1, 2, 10));
        assert!(chunk(1, 2, 10).starts_with(&chunks(1, 2)));
        assert!(!chunk(1, 20, 0).starts_with(&chunks(1, 2)));
        assert!(chunk(1, 2, 0).starts_with(INDEX_PREFIX));
        assert!(record(7).starts_with(RECORD_PREFIX));
        assert_eq!(trailing_pair(&pending(3, 4)), Some((3, 4)));
        assert_eq!(trailing_pair(&meta(5, 6)), Some((5, 6)));
        assert_eq!(trailing_pair(b"attribution/x/1/2"), None);
    }
}
