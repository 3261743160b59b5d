//! Every state key of the datanet module, in one place. Numbers are zero-padded to 20 digits so
//! prefix scans come out in numeric order.

/// `openledger.datanet.v1.Params`.
pub const PARAMS: &[u8] = b"datanet/params";

/// Next datanet id to hand out (`u64`).
pub const NEXT_DATANET_ID: &[u8] = b"datanet/next_id";

/// Prefix of every datanet record.
pub const DATANET_PREFIX: &[u8] = b"datanet/info/";

/// `datanet/info/{id:020}` → `Datanet`.
pub fn datanet(id: u64) -> Vec<u8> {
    format!("datanet/info/{id:020}").into_bytes()
}

/// `datanet/{id:020}/contribution/` — a datanet's contributions, by id.
pub fn contributions(datanet_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/contribution/").into_bytes()
}

/// `datanet/{id:020}/contribution/{c:020}` → `Contribution`.
pub fn contribution(datanet_id: u64, contribution_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/contribution/{contribution_id:020}").into_bytes()
}

/// `datanet/{id:020}/leaves/{c:020}` → `RowLeaves` (Merkle leaf hashes of a contribution's rows).
pub fn leaves(datanet_id: u64, contribution_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/leaves/{contribution_id:020}").into_bytes()
}

/// `datanet/{id:020}/accepted/` — accepted contributions, by id (= row-id order).
pub fn accepted_prefix(datanet_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/accepted/").into_bytes()
}

/// `datanet/{id:020}/accepted/{c:020}` → contribution id (`u64`).
pub fn accepted(datanet_id: u64, contribution_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/accepted/{contribution_id:020}").into_bytes()
}

/// `datanet/{id:020}/row/` — a datanet's rows, by id.
pub fn rows(datanet_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/row/").into_bytes()
}

/// `datanet/{id:020}/row/{n:020}` → `Row`.
pub fn row(datanet_id: u64, row_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/row/{row_id:020}").into_bytes()
}

/// `datanet/{id:020}/delisted_row/` — rows delisted by governance.
pub fn delisted_rows(datanet_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/delisted_row/").into_bytes()
}

/// `datanet/{id:020}/delisted_row/{n:020}` → `Delisting`.
pub fn delisted_row(datanet_id: u64, row_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/delisted_row/{row_id:020}").into_bytes()
}

/// `datanet/{id:020}/vote/` — every vote in a datanet.
pub fn all_votes(datanet_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/vote/").into_bytes()
}

/// `datanet/{id:020}/vote/{c:020}/` — every vote on a contribution (all epochs).
pub fn votes(datanet_id: u64, contribution_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/vote/{contribution_id:020}/").into_bytes()
}

/// `datanet/{id:020}/vote/{c:020}/{epoch:020}/{curator}` → `CuratorVote`.
pub fn vote(datanet_id: u64, contribution_id: u64, epoch: u64, curator: &str) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/vote/{contribution_id:020}/{epoch:020}/{curator}").into_bytes()
}

/// `datanet/{id:020}/version/` — a datanet's versions.
pub fn versions(datanet_id: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/version/").into_bytes()
}

/// `datanet/{id:020}/version/{v:020}` → `Version`.
pub fn version(datanet_id: u64, version: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/version/{version:020}").into_bytes()
}

/// `datanet/{id:020}/segments/{v:020}` → `VersionSegments`.
pub fn segments(datanet_id: u64, version: u64) -> Vec<u8> {
    format!("datanet/{datanet_id:020}/segments/{version:020}").into_bytes()
}

/// `datanet/by_contributor/{addr}/` — one contributor's contributions.
pub fn by_contributor_prefix(contributor: &str) -> Vec<u8> {
    format!("datanet/by_contributor/{contributor}/").into_bytes()
}

/// `datanet/by_contributor/{addr}/{id:020}/{c:020}` → contribution id (`u64`).
pub fn by_contributor(contributor: &str, datanet_id: u64, contribution_id: u64) -> Vec<u8> {
    format!("datanet/by_contributor/{contributor}/{datanet_id:020}/{contribution_id:020}").into_bytes()
}

/// Prefix of every contributor's stats.
pub const STATS_PREFIX: &[u8] = b"datanet/stats/";

/// `datanet/stats/{addr}/` — one contributor's stats, by datanet.
pub fn stats_of(contributor: &str) -> Vec<u8> {
    format!("datanet/stats/{contributor}/").into_bytes()
}

/// `datanet/stats/{addr}/{id:020}` → `ContributorStats`.
pub fn stats(contributor: &str, datanet_id: u64) -> Vec<u8> {
    format!("datanet/stats/{contributor}/{datanet_id:020}").into_bytes()
}

/// Parses the trailing `{n:020}` of a key.
pub fn trailing_id(key: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(key).ok()?;
    let last = text.rsplit('/').next()?;
    if last.len() != 20 {
        return None;
    }
    last.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_readable_padded_and_ordered() {
        assert_eq!(row(1, 42), b"datanet/00000000000000000001/row/00000000000000000042".to_vec());
        assert!(row(1, 9) < row(1, 10));
        assert!(row(1, 10).starts_with(&rows(1)));
        assert!(!contribution(1, 1).starts_with(&contributions(10)));
        assert_eq!(trailing_id(&contribution(3, 77)), Some(77));
        assert_eq!(trailing_id(b"datanet/x/12"), None);
    }
}
