//! Every state key of the inference module, in one place. Numbers are zero-padded to 20 digits
//! so prefix scans come out in numeric order.

/// `openledger.inference.v1.Params`.
pub const PARAMS: &[u8] = b"inference/params";

/// Next request id to hand out (`u64`).
pub const NEXT_REQUEST_ID: &[u8] = b"inference/next_id";

/// Hash of the block being finalized (bytes), for request seeds.
pub const BLOCK_HASH: &[u8] = b"inference/block_hash";

/// `(height, count)` of requests accepted in the current block (`u64` pair packed as 16 bytes).
pub const BLOCK_REQUESTS: &[u8] = b"inference/block_requests";

/// `inference/request/{id:020}` → `Request`.
pub fn request(id: u64) -> Vec<u8> {
    format!("inference/request/{id:020}").into_bytes()
}

/// Prefix of every request.
pub const REQUEST_PREFIX: &[u8] = b"inference/request/";

/// `inference/result/{id:020}` → `Result`.
pub fn result(id: u64) -> Vec<u8> {
    format!("inference/result/{id:020}").into_bytes()
}

/// Prefix of every result.
pub const RESULT_PREFIX: &[u8] = b"inference/result/";

/// Prefix of the pending-request index.
pub const PENDING_PREFIX: &[u8] = b"inference/pending/";

/// `inference/pending/{id:020}` → empty: requests still waiting for a result.
pub fn pending(id: u64) -> Vec<u8> {
    format!("inference/pending/{id:020}").into_bytes()
}

/// Prefix of the deadline queue.
pub const DEADLINE_PREFIX: &[u8] = b"inference/deadline/";

/// `inference/deadline/{height:020}/{id:020}` → empty: refund a pending request at that height.
pub fn deadline(height: u64, id: u64) -> Vec<u8> {
    format!("inference/deadline/{height:020}/{id:020}").into_bytes()
}

/// Request id from a pending or deadline key (the last 20 digits).
pub fn id_from_key(key: &[u8]) -> Option<u64> {
    let tail = key.get(key.len().checked_sub(20)?..)?;
    std::str::from_utf8(tail).ok()?.parse().ok()
}

/// Height from a deadline key.
pub fn deadline_height(key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(DEADLINE_PREFIX)?;
    std::str::from_utf8(rest.get(..20)?).ok()?.parse().ok()
}

/// Prefix of executor registrations.
pub const EXECUTOR_PREFIX: &[u8] = b"inference/executor/";

/// `inference/executor/{operator}` → `Executor`.
pub fn executor(operator: &str) -> Vec<u8> {
    format!("inference/executor/{operator}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_heights_parse_back() {
        assert_eq!(id_from_key(&pending(42)), Some(42));
        assert_eq!(id_from_key(&deadline(7, 9)), Some(9));
        assert_eq!(deadline_height(&deadline(7, 9)), Some(7));
        assert!(pending(2) < pending(10));
        assert!(deadline(2, 99) < deadline(10, 1));
    }
}
