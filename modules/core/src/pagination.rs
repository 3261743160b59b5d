//! Cosmos `PageRequest` / `PageResponse` over ordered prefix scans. `next_key` is the last
//! returned key without its prefix, as in the SDK; limits are bounded so a client cannot make a
//! query scan the whole state.

use cosmos_sdk_proto::cosmos::base::query::v1beta1::{PageRequest, PageResponse};

use crate::error::QueryError;
use crate::state::{KvPair, StateRead};

/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u64 = 100;
/// Largest page size served.
pub const MAX_LIMIT: u64 = 1000;
/// Largest offset served (offset pagination scans from the start).
pub const MAX_OFFSET: u64 = 10_000;

/// Reads one page of `prefix` according to `page`.
pub fn paginate(
    state: &dyn StateRead,
    prefix: &[u8],
    page: Option<&PageRequest>,
) -> Result<(Vec<KvPair>, Option<PageResponse>), QueryError> {
    let default = PageRequest::default();
    let page = page.unwrap_or(&default);
    if page.reverse {
        return Err(QueryError::InvalidArgument("reverse pagination is not supported".into()));
    }
    if !page.key.is_empty() && page.offset > 0 {
        return Err(QueryError::InvalidArgument("paginate: invalid request, either offset or key is expected, got both".into()));
    }
    if page.limit > MAX_LIMIT {
        return Err(QueryError::InvalidArgument(format!("pagination limit {} exceeds the maximum {MAX_LIMIT}", page.limit)));
    }
    if page.offset > MAX_OFFSET {
        return Err(QueryError::InvalidArgument(format!("pagination offset {} exceeds the maximum {MAX_OFFSET}", page.offset)));
    }
    let limit = if page.limit == 0 { DEFAULT_LIMIT } else { page.limit };
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let start_key: Option<Vec<u8>> = if page.key.is_empty() {
        None
    } else {
        // `key` is the first key of the page (inclusive), as the SDK returns it in `next_key`.
        Some([prefix, page.key.as_slice()].concat())
    };
    // Fetch one extra entry to know whether there is a next page.
    let want = offset.saturating_add(limit_usize).saturating_add(1);
    let mut entries = match &start_key {
        None => state.scan_raw(prefix, None, want)?,
        Some(start) => {
            let mut first = Vec::new();
            if let Some(v) = state.get_raw(start)? {
                first.push((start.clone(), v));
            }
            let rest = state.scan_raw(prefix, Some(start), want.saturating_sub(first.len()))?;
            first.extend(rest);
            first
        }
    };
    let entries: Vec<KvPair> = entries.drain(..).skip(offset).collect();
    let has_more = entries.len() > limit_usize;
    let mut entries = entries;
    let next_key = if has_more {
        let next = entries.remove(limit_usize);
        entries.truncate(limit_usize);
        next.0[prefix.len()..].to_vec()
    } else {
        Vec::new()
    };
    // As in the SDK, a request without a limit also counts the total.
    let total = if (page.count_total || page.limit == 0) && page.key.is_empty() {
        let counted = state.scan_raw(prefix, None, usize::try_from(MAX_OFFSET).unwrap_or(usize::MAX))?.len();
        u64::try_from(counted).unwrap_or(u64::MAX)
    } else {
        0
    };
    Ok((entries, Some(PageResponse { next_key, total })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::{EmptyState, StateDelta};
    use crate::state::StateWrite;

    #[test]
    fn pages_by_key_and_offset_and_bounds_limits() {
        let mut d = StateDelta::new(EmptyState);
        for i in 0..5 {
            d.put_raw(format!("p/{i}").into_bytes(), vec![i]).unwrap();
        }
        let req = PageRequest { limit: 2, count_total: true, ..Default::default() };
        let (page1, resp) = paginate(&d, b"p/", Some(&req)).unwrap();
        assert_eq!(page1.len(), 2);
        let resp = resp.unwrap();
        assert_eq!(resp.next_key, b"2".to_vec());
        assert_eq!(resp.total, 5);
        let req2 = PageRequest { key: resp.next_key, limit: 2, ..Default::default() };
        let (page2, _) = paginate(&d, b"p/", Some(&req2)).unwrap();
        assert_eq!(page2[0].0, b"p/2".to_vec());
        let req3 = PageRequest { offset: 4, limit: 10, ..Default::default() };
        let (page3, resp3) = paginate(&d, b"p/", Some(&req3)).unwrap();
        assert_eq!(page3.len(), 1);
        assert!(resp3.unwrap().next_key.is_empty());
        let huge = PageRequest { limit: MAX_LIMIT + 1, ..Default::default() };
        assert!(paginate(&d, b"p/", Some(&huge)).is_err());
        // No limit: the SDK counts the total, and so do we.
        assert_eq!(paginate(&d, b"p/", None).unwrap().1.unwrap().total, 5);
        let limited = PageRequest { limit: 2, ..Default::default() };
        assert_eq!(paginate(&d, b"p/", Some(&limited)).unwrap().1.unwrap().total, 0);
    }
}
