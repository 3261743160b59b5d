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

/// Refuses what we do not serve (reverse order, key and offset together) and pages over the
/// bounds.
fn checked(page: &PageRequest) -> Result<&PageRequest, QueryError> {
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
    Ok(page)
}

/// Reads one page of `prefix` according to `page`.
pub fn paginate(
    state: &dyn StateRead,
    prefix: &[u8],
    page: Option<&PageRequest>,
) -> Result<(Vec<KvPair>, Option<PageResponse>), QueryError> {
    let default = PageRequest::default();
    let page = checked(page.unwrap_or(&default))?;
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

/// Most entries a filtered page may scan (matching or not), so a filter that matches little
/// cannot make one query walk an unbounded prefix.
pub const MAX_FILTER_SCAN: usize = 100_000;

/// Like [`paginate`], but only entries for which `keep(key, value)` holds count: offsets,
/// limits, `next_key` and `total` are over the matching entries (the SDK's `FilteredPaginate`).
/// Scans at most [`MAX_FILTER_SCAN`] entries.
pub fn paginate_filtered(
    state: &dyn StateRead,
    prefix: &[u8],
    page: Option<&PageRequest>,
    keep: &dyn Fn(&[u8], &[u8]) -> bool,
) -> Result<(Vec<KvPair>, Option<PageResponse>), QueryError> {
    let default = PageRequest::default();
    let page = checked(page.unwrap_or(&default))?;
    let limit = usize::try_from(if page.limit == 0 { DEFAULT_LIMIT } else { page.limit }).unwrap_or(usize::MAX);
    let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let count_total = (page.count_total || page.limit == 0) && page.key.is_empty();
    // Scanning starts at the page key (inclusive) or at the prefix.
    let start: Option<Vec<u8>> = (!page.key.is_empty()).then(|| [prefix, page.key.as_slice()].concat());
    let mut after: Option<Vec<u8>> = None;
    let mut first_pending = start;
    let (mut skipped, mut matched, mut scanned) = (0usize, 0u64, 0usize);
    let mut out: Vec<KvPair> = Vec::new();
    let mut next_key = Vec::new();
    const BATCH: usize = 256;
    'scan: while scanned < MAX_FILTER_SCAN {
        let mut batch: Vec<KvPair> = Vec::new();
        if let Some(first) = first_pending.take() {
            if let Some(v) = state.get_raw(&first)? {
                batch.push((first.clone(), v));
            }
            after = Some(first);
        }
        let want = BATCH.min(MAX_FILTER_SCAN - scanned);
        let rest = state.scan_raw(prefix, after.as_deref(), want)?;
        let exhausted = rest.len() < want;
        batch.extend(rest);
        if let Some(last) = batch.last() {
            after = Some(last.0.clone());
        }
        for (key, value) in batch {
            scanned += 1;
            if !keep(&key, &value) {
                continue;
            }
            matched += 1;
            if skipped < offset {
                skipped += 1;
            } else if out.len() < limit {
                out.push((key, value));
            } else if next_key.is_empty() {
                next_key = key[prefix.len()..].to_vec();
                if !count_total {
                    break 'scan;
                }
            }
        }
        if exhausted {
            break;
        }
    }
    let total = if count_total { matched } else { 0 };
    Ok((out, Some(PageResponse { next_key, total })))
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

    #[test]
    fn filtered_pages_count_only_matching_entries() {
        let mut d = StateDelta::new(EmptyState);
        for i in 0..700u32 {
            d.put_raw(format!("p/{i:05}").into_bytes(), vec![u8::from(i % 3 == 0)]).unwrap();
        }
        d.put_raw(b"q/00000".to_vec(), vec![1]).unwrap();
        let flagged = |_: &[u8], v: &[u8]| v == [1];
        // 234 flagged (0, 3, …, 699); pages of 100 by key walk them all, in order, once.
        let req = PageRequest { limit: 100, count_total: true, ..Default::default() };
        let (page, resp) = paginate_filtered(&d, b"p/", Some(&req), &flagged).unwrap();
        let resp = resp.unwrap();
        assert_eq!((page.len(), resp.total), (100, 234));
        assert_eq!(page[1].0, b"p/00003".to_vec());
        let mut seen = page.len();
        let mut key = resp.next_key;
        while !key.is_empty() {
            let req = PageRequest { key: key.clone(), limit: 100, ..Default::default() };
            let (page, resp) = paginate_filtered(&d, b"p/", Some(&req), &flagged).unwrap();
            assert!(page.iter().all(|(k, v)| k.starts_with(b"p/") && v == &[1]));
            assert_eq!(page[0].0[2..], key[..], "a page starts at its key");
            seen += page.len();
            key = resp.unwrap().next_key;
        }
        assert_eq!(seen, 234);
        // Offsets count matches too; the last page has no next key.
        let req = PageRequest { offset: 230, limit: 10, ..Default::default() };
        let (page, resp) = paginate_filtered(&d, b"p/", Some(&req), &flagged).unwrap();
        assert_eq!((page.len(), resp.unwrap().next_key.len()), (4, 0));
        assert_eq!(page[0].0, b"p/00690".to_vec());
        let huge = PageRequest { limit: MAX_LIMIT + 1, ..Default::default() };
        assert!(paginate_filtered(&d, b"p/", Some(&huge), &flagged).is_err());
    }
}
