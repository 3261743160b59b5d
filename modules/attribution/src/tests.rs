//! Module tests over a `StateDelta<EmptyState>`: indexing and storage round trips, known
//! spans and scores, determinism, delisting, exact pro-rata splits, error paths that change
//! nothing, the pending queue, queries, params messages and genesis.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use openledger_core::delta::{EmptyState, StateDelta};
use openledger_core::query::QueryService;
use openledger_core::{AbciError, Address, Coin, ErrorCode, StateRead, StateWrite};
use openledger_datanet::DatanetKeeper;
use openledger_proto::openledger::attribution::v1 as pb;
use prost::Message;

use crate::error::AttributionError;
use crate::fixtures::{delist_datanet, delist_row, publish, write_datanet, NoBank};
use crate::genesis::{export_genesis, init_genesis};
use crate::keeper::{gov_authority, mul_div_floor, AttributionKeeper, BankKeeper, CommunityPool, Loaded, MAX_TEXT_BYTES};
use crate::msg::UpdateParams;
use crate::query::{AttributionQuery, ATTRIBUTION_SERVICE};
use crate::sa::tests::XorShift;
use crate::state_key;

/// Balances in memory plus a community pool, with the real bank's error for short balances.
#[derive(Default)]
pub struct MemBank {
    pub balances: Mutex<BTreeMap<Address, u128>>,
    pub community: Mutex<u128>,
}

impl MemBank {
    pub fn fund(&self, who: &Address, amount: u128) {
        *self.balances.lock().unwrap().entry(who.clone()).or_insert(0) += amount;
    }
    pub fn balance(&self, who: &Address) -> u128 {
        self.balances.lock().unwrap().get(who).copied().unwrap_or(0)
    }
    fn take(&self, from: &Address, want: u128) -> Result<(), AbciError> {
        let mut b = self.balances.lock().unwrap();
        let have = b.get(from).copied().unwrap_or(0);
        if have < want {
            return Err(AbciError::sdk(5, format!("spendable balance {have}uopen is smaller than {want}uopen: insufficient funds")));
        }
        b.insert(from.clone(), have - want);
        Ok(())
    }
}

impl BankKeeper for MemBank {
    fn send(&self, _: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), AbciError> {
        let amount = coins.iter().map(|c| c.amount).sum();
        self.take(from, amount)?;
        self.fund(to, amount);
        Ok(())
    }
}

impl CommunityPool for MemBank {
    fn fund(&self, _: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), AbciError> {
        self.take(from, amount)?;
        *self.community.lock().unwrap() += amount;
        Ok(())
    }
}

pub fn addr(n: u8) -> Address {
    Address::from_bytes(&[n; 20]).unwrap()
}

fn escrow() -> Address {
    Address::module("inference_escrow")
}

pub fn setup() -> (AttributionKeeper, Arc<MemBank>, StateDelta<EmptyState>) {
    let bank = Arc::new(MemBank::default());
    (AttributionKeeper::new(Arc::new(dk()), bank.clone(), bank.clone()), bank, StateDelta::new(EmptyState))
}

/// A datanet keeper for the fixtures (the datanet state lives in the test's delta).
pub fn dk() -> DatanetKeeper {
    DatanetKeeper::new(Arc::new(NoBank))
}

const ROWS: [&str; 5] = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "A stitch in time saves nine, as the old saying goes every time.",
    "Proof of attribution pays the people whose data the answer came from.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Completely unrelated text about tea, biscuits and rainy afternoons in spring.",
];

/// Datanet 1: rows 1..=5 of ROWS by contributors 2, 3, 4, 5, 6 (one contribution each); version 1.
fn populated() -> (AttributionKeeper, Arc<MemBank>, StateDelta<EmptyState>) {
    let (k, bank, mut s) = setup();
    let rows: Vec<(Address, Vec<u8>)> = ROWS.iter().enumerate().map(|(i, r)| (addr(2 + i as u8), r.as_bytes().to_vec())).collect();
    write_datanet(&dk(), &mut s, 1, &rows, 10).unwrap();
    assert_eq!(publish(&dk(), &mut s, 1).unwrap(), 1);
    (k, bank, s)
}

fn code(e: &AttributionError) -> (&'static str, u32) {
    (e.codespace(), e.code())
}

/// Runs `f` on a child layer and asserts that a failure wrote nothing to it.
fn fails_cleanly<T: std::fmt::Debug>(
    parent: &StateDelta<EmptyState>,
    f: impl FnOnce(&mut StateDelta<&StateDelta<EmptyState>>) -> Result<T, AttributionError>,
) -> AttributionError {
    let mut child = StateDelta::new(parent);
    let err = f(&mut child).unwrap_err();
    assert!(child.changes().is_empty(), "a failed call wrote {:?}", child.changes().keys().collect::<Vec<_>>());
    assert!(child.events().is_empty());
    err
}

fn amounts(record: &pb::AttributionRecord) -> Vec<(String, u128)> {
    record.payouts.iter().map(|p| (p.contributor.clone(), p.amount.parse().unwrap())).collect()
}

#[test]
fn index_is_stored_in_chunks_and_loads_back_identically() {
    let (k, _, mut s) = populated();
    let stats = k.index_version(&mut s, 1, 1).unwrap();
    assert!(stats.built);
    assert_eq!(stats.status, pb::IndexStatus::Ready);
    assert_eq!(stats.row_count, 5);
    assert!(stats.token_count > 50);
    let meta = k.index_meta(&s, 1, 1).unwrap().unwrap();
    assert_eq!(meta.chunk_count, 1);
    assert_eq!(meta.stream_len, meta.token_count + 5);
    // A keeper with an empty cache (a restarted node) reads the chunks back to the same index.
    let fresh = AttributionKeeper::new(Arc::new(dk()), Arc::new(MemBank::default()), Arc::new(MemBank::default()));
    let (Loaded::Ready(a, _), Loaded::Ready(b, _)) = (k.load(&s, 1, 1).unwrap(), fresh.load(&s, 1, 1).unwrap()) else { panic!() };
    assert_eq!(*a, *b);
    // Idempotent: a second call is a no-op.
    let mut child = StateDelta::new(&s);
    let again = k.index_version(&mut child, 1, 1).unwrap();
    assert!(!again.built);
    assert_eq!(again.total_bytes, stats.total_bytes);
    assert!(child.changes().is_empty());
    // A tampered chunk is detected by the content hash.
    let mut bad = StateDelta::new(&s);
    let chunk = pb::IndexChunk { data: vec![1, 2, 3] };
    openledger_core::StateWriteExt::put_proto(&mut bad, state_key::chunk(1, 1, 0), &chunk).unwrap();
    // A keeper that has not loaded it yet reads the chunks and refuses them.
    let third = AttributionKeeper::new(Arc::new(dk()), Arc::new(MemBank::default()), Arc::new(MemBank::default()));
    let err = third.load(&bad, 1, 1).map(|_| ()).unwrap_err();
    assert_eq!(code(&err), ("attribution", 11));
    // `fresh` answers from its cache: the meta's content hash still names the bytes it holds
    // (chunks are immutable once written, and only this module writes them).
    assert!(fresh.load(&bad, 1, 1).is_ok());
}

#[test]
fn large_index_spans_many_chunks() {
    let (k, _, mut s) = setup();
    let mut rng = XorShift(5);
    let rows: Vec<(Address, Vec<u8>)> = (0..3000)
        .map(|i| (addr(2 + (i % 7) as u8), (0..20).map(|_| format!("w{}", rng.below(5000))).collect::<Vec<_>>().join(" ").into_bytes()))
        .collect();
    write_datanet(&dk(), &mut s, 1, &rows, 100).unwrap();
    publish(&dk(), &mut s, 1).unwrap();
    let stats = k.index_version(&mut s, 1, 1).unwrap();
    assert!(stats.chunk_count > 2, "{stats:?}");
    for i in 0..stats.chunk_count {
        let raw = s.get_raw(&state_key::chunk(1, 1, i)).unwrap().unwrap();
        assert!(raw.len() <= 64 * 1024 + 8);
    }
    let fresh = AttributionKeeper::new(Arc::new(dk()), Arc::new(MemBank::default()), Arc::new(MemBank::default()));
    let Loaded::Ready(idx, _) = fresh.load(&s, 1, 1).unwrap() else { panic!() };
    assert_eq!(idx.token_count(), 60_000);
    assert!(stats.bytes_per_token_milli() <= 8000, "{}", stats.bytes_per_token_milli());
}

#[test]
fn known_spans_give_known_scores_and_payouts() {
    let (k, bank, mut s) = populated();
    bank.fund(&escrow(), 1_000);
    // 12 tokens of row 3 (contributor 4), then 9 tokens of row 2 (contributor 3), with noise.
    let text = "Well: proof of attribution pays the people whose data the answer came. \
                zzz a stitch in time saves nine, as the old qqq";
    let r = k.distribute(&mut s, 7, &escrow(), 1_000, &[(1, 1)], text).unwrap();
    let spans: Vec<(u32, u32, u64)> = r.spans.iter().map(|x| (x.output_start, x.length, x.row_id)).collect();
    // "well" ":" then 11 tokens "proof … came" (the row goes on with "from", not "."), then
    // "." "zzz" and 10 tokens "a stitch … old".
    assert_eq!(spans, vec![(2, 11, 3), (15, 10, 2)]);
    let rows: Vec<(u64, String, u64)> = r.rows.iter().map(|x| (x.row_id, x.contributor.clone(), x.matched_tokens)).collect();
    assert_eq!(rows, vec![(2, addr(3).to_bech32(), 10), (3, addr(4).to_bech32(), 11)]);
    // 1000 × 10/21 = 476.19 → 476; 1000 × 11/21 = 523.8 → 523; remainder 1. Ordered by row id.
    assert_eq!(amounts(&r), vec![(addr(3).to_bech32(), 476), (addr(4).to_bech32(), 523)]);
    assert_eq!(r.community_pool, "1");
    assert_eq!((bank.balance(&addr(3)), bank.balance(&addr(4)), *bank.community.lock().unwrap()), (476, 523, 1));
    assert_eq!(bank.balance(&escrow()), 0);
    assert_eq!(k.record(&s, 7).unwrap().unwrap(), r);
    let payouts: Vec<_> = s.events().iter().filter(|e| e.kind == "attribution_payout").collect();
    assert_eq!(payouts.len(), 2);
    assert_eq!(payouts[0].get("amount"), Some("476uopen"));
    assert_eq!(payouts[0].get("inference_id"), Some("7"));
    // The duplicated row 1/row 4 sentence goes to the lower row id only.
    let r = k.score(&s, &[(1, 1)], "the quick brown fox jumps over the lazy dog near the river", 10).unwrap();
    assert_eq!(r.rows.len(), 1);
    assert_eq!((r.rows[0].row_id, r.rows[0].matched_tokens), (1, 12));
    assert_eq!(r.spans[0].occurrences, 2);
    assert_eq!(amounts(&r), vec![(addr(2).to_bech32(), 10)]);
    // Shorter than min_span_tokens (8): nothing; everything to the community pool.
    let r = k.score(&s, &[(1, 1)], "the quick brown fox jumps over the", 10).unwrap();
    assert!(r.rows.is_empty() && r.payouts.is_empty());
    assert_eq!(r.community_pool, "10");
}

#[test]
fn min_span_is_a_param_and_spans_never_cross_rows() {
    let (k, _, mut s) = populated();
    k.index_version(&mut s, 1, 1).unwrap();
    // The end of row 2 followed by the start of row 3: adjacent in the stream but never one span.
    let text = "old saying goes every time. Proof of attribution pays";
    let r = k.score(&s, &[(1, 1)], text, 0).unwrap();
    assert!(r.spans.is_empty(), "{:?}", r.spans);
    k.set_params(&mut s, &pb::Params { min_span_tokens: 4, ..crate::keeper::default_params() }).unwrap();
    let r = k.score(&s, &[(1, 1)], text, 0).unwrap();
    let spans: Vec<(u32, u32, u64)> = r.spans.iter().map(|x| (x.output_start, x.length, x.row_id)).collect();
    assert_eq!(spans, vec![(0, 6, 2), (6, 4, 3)]);
    assert_eq!(r.min_span_tokens, 4);
}

#[test]
fn same_output_and_version_give_the_same_record() {
    let text = "proof of attribution pays the people whose data the answer came from, the quick brown fox jumps over the lazy dog";
    let run = || {
        let (k, bank, mut s) = populated();
        bank.fund(&escrow(), 2 * 999_999_999_999);
        let a = k.distribute(&mut s, 1, &escrow(), 999_999_999_999, &[(1, 1), (1, 1)], text).unwrap();
        let b = k.distribute(&mut s, 2, &escrow(), 999_999_999_999, &[(1, 1)], text).unwrap();
        (a, b, s.changes().clone())
    };
    let (a1, b1, c1) = run();
    let (a2, b2, c2) = run();
    assert_eq!(a1, a2);
    assert_eq!(c1, c2, "two nodes write the same state");
    assert_eq!(pb::AttributionRecord { inference_id: 2, ..a1.clone() }, b1);
    assert_eq!(b1, b2);
    assert_eq!(a1.versions.len(), 1, "duplicate pins are merged");
}

#[test]
fn delisted_rows_and_datanets_earn_nothing() {
    let (k, bank, mut s) = populated();
    bank.fund(&escrow(), 100);
    delist_row(&dk(), &mut s, 1, 3).unwrap();
    let text = "proof of attribution pays the people whose data the answer came from. A stitch in time saves nine, as the old saying";
    let r = k.distribute(&mut s, 1, &escrow(), 100, &[(1, 1)], text).unwrap();
    let rows: Vec<(u64, bool)> = r.rows.iter().map(|x| (x.row_id, x.delisted)).collect();
    assert_eq!(rows, vec![(2, false), (3, true)]);
    assert_eq!(amounts(&r), vec![(addr(3).to_bech32(), 100)]);
    assert_eq!(bank.balance(&addr(4)), 0);
    // The whole datanet delisted: nobody earns, all to the community pool.
    delist_datanet(&dk(), &mut s, 1).unwrap();
    bank.fund(&escrow(), 100);
    let r = k.distribute(&mut s, 2, &escrow(), 100, &[(1, 1)], text).unwrap();
    assert!(r.payouts.is_empty());
    assert!(r.rows.iter().all(|x| x.delisted));
    assert_eq!(r.community_pool, "100");
    assert_eq!(*bank.community.lock().unwrap(), 100);
}

#[test]
fn pro_rata_split_adds_up_exactly() {
    let mut rng = XorShift(42);
    for _ in 0..2000 {
        let n = 1 + rng.below(10) as usize;
        let weights: Vec<u64> = (0..n).map(|_| 1 + rng.below(u64::MAX / 64)).collect();
        let total: u64 = weights.iter().sum();
        let amount = match rng.below(4) {
            0 => u128::from(rng.below(100)),
            1 => u128::MAX - u128::from(rng.below(1000)),
            _ => (u128::from(rng.next()) << 64) | u128::from(rng.next()),
        };
        let shares: Vec<u128> = weights.iter().map(|&w| mul_div_floor(amount, w, total)).collect();
        let paid: u128 = shares.iter().sum();
        assert!(paid <= amount);
        assert!(amount - paid < n as u128, "remainder below one unit per contributor");
        for (&w, &sh) in weights.iter().zip(&shares) {
            // Exact floor, checked with 256-bit-free reasoning on small cases.
            if amount < (1 << 60) && total < (1 << 60) {
                assert_eq!(sh, amount * u128::from(w) / u128::from(total));
            }
        }
    }
    // Through distribute, with awkward amounts and contributors merged by address.
    let (k, bank, mut s) = setup();
    let rows: Vec<(Address, Vec<u8>)> = vec![
        (addr(2), b"one two three four five six seven eight nine ten".to_vec()),
        (addr(3), b"alpha beta gamma delta epsilon zeta eta theta iota kappa".to_vec()),
        (addr(2), b"red orange yellow green blue indigo violet black white grey".to_vec()),
    ];
    write_datanet(&dk(), &mut s, 1, &rows, 1).unwrap();
    publish(&dk(), &mut s, 1).unwrap();
    let text = "one two three four five six seven eight nine ten / alpha beta gamma delta epsilon zeta eta theta iota kappa / red orange yellow green blue indigo violet black white grey";
    for (i, amount) in [1u128, 2, 3, 7, 29, 1_000_003, u128::from(u64::MAX) * 3 + 1].into_iter().enumerate() {
        bank.fund(&escrow(), amount);
        let before = (bank.balance(&addr(2)), bank.balance(&addr(3)), *bank.community.lock().unwrap());
        let r = k.distribute(&mut s, i as u64 + 1, &escrow(), amount, &[(1, 1)], text).unwrap();
        assert_eq!(r.payouts.len(), 2, "contributor 2's two rows merged");
        assert_eq!(r.payouts[0].matched_tokens, 20);
        assert_eq!(r.payouts[1].matched_tokens, 10);
        let a2 = bank.balance(&addr(2)) - before.0;
        let a3 = bank.balance(&addr(3)) - before.1;
        let pool = *bank.community.lock().unwrap() - before.2;
        assert_eq!(a2 + a3 + pool, amount);
        assert_eq!(a2, amount * 2 / 3);
        assert_eq!(a3, amount / 3);
        assert_eq!(bank.balance(&escrow()), 0);
    }
}

#[test]
fn bad_input_fails_with_a_code_and_changes_nothing() {
    let (k, bank, mut s) = populated();
    bank.fund(&escrow(), 10);
    let text = "proof of attribution pays the people whose data the answer came from";
    // A version not yet indexed is indexed on demand by distribute, but a query cannot.
    let e = k.score(&s, &[(1, 1)], text, 0).unwrap_err();
    assert_eq!(code(&e), ("attribution", 4));
    k.distribute(&mut s, 1, &escrow(), 0, &[(1, 1)], "nothing").unwrap();
    let e = fails_cleanly(&s, |c| k.distribute(c, 2, &escrow(), 5, &[(1, 9)], text));
    assert_eq!(code(&e), ("attribution", 3));
    let e = fails_cleanly(&s, |c| k.distribute(c, 2, &escrow(), 5, &[(7, 1)], text));
    assert_eq!(code(&e), ("attribution", 3));
    let e = fails_cleanly(&s, |c| k.distribute(c, 2, &escrow(), 5, &[(1, 0)], text));
    assert_eq!(code(&e), ("attribution", 6));
    let many: Vec<(u64, u64)> = (1..=33).map(|v| (1, v)).collect();
    let e = fails_cleanly(&s, |c| k.distribute(c, 2, &escrow(), 5, &many, text));
    assert_eq!(code(&e), ("attribution", 6));
    let big = "a ".repeat(MAX_TEXT_BYTES / 2 + 1);
    let e = fails_cleanly(&s, |c| k.distribute(c, 2, &escrow(), 5, &[(1, 1)], &big));
    assert_eq!(code(&e), ("attribution", 5));
    let e = fails_cleanly(&s, |c| k.distribute(c, 1, &escrow(), 5, &[(1, 1)], text));
    assert_eq!(code(&e), ("attribution", 7));
    // The pool account is short: the bank's code, and no partial payout or index write.
    let e = fails_cleanly(&s, |c| k.distribute(c, 3, &escrow(), 11, &[(1, 1)], text));
    assert_eq!(code(&e), ("sdk", 5));
    assert_eq!(bank.balance(&escrow()), 10);
    let e = fails_cleanly(&s, |c| k.index_version(c, 1, 2));
    assert_eq!(code(&e), ("attribution", 3));
}

#[test]
fn pending_versions_are_indexed_at_end_block_and_too_large_ones_earn_nothing() {
    let (k, bank, mut s) = populated();
    k.on_version_published(&mut s, 1, 1).unwrap();
    assert_eq!(k.pending(&s, 10).unwrap(), vec![(1, 1)]);
    let done = k.end_block(&mut s).unwrap();
    assert_eq!(done.len(), 1);
    assert!(done[0].built);
    assert!(k.pending(&s, 10).unwrap().is_empty());
    assert!(k.end_block(&mut s).unwrap().is_empty());
    // Already indexed: the hook queues nothing.
    k.on_version_published(&mut s, 1, 1).unwrap();
    assert!(k.pending(&s, 10).unwrap().is_empty());
    // A second datanet over the token limit.
    k.set_params(&mut s, &pb::Params { max_index_tokens: 10, ..crate::keeper::default_params() }).unwrap();
    write_datanet(&dk(), &mut s, 2, &[(addr(8), ROWS[2].as_bytes().to_vec())], 10).unwrap();
    publish(&dk(), &mut s, 2).unwrap();
    k.on_version_published(&mut s, 2, 1).unwrap();
    let done = k.end_block(&mut s).unwrap();
    assert_eq!(done[0].status, pb::IndexStatus::TooLarge);
    assert_eq!(k.index_meta(&s, 2, 1).unwrap().unwrap().chunk_count, 0);
    bank.fund(&escrow(), 50);
    let text = "proof of attribution pays the people whose data the answer came from";
    let r = k.distribute(&mut s, 1, &escrow(), 50, &[(2, 1), (1, 1)], text).unwrap();
    assert_eq!(r.skipped_versions, vec![pb::VersionRef { datanet_id: 2, version: 1 }]);
    assert_eq!(r.rows.iter().map(|x| x.datanet_id).collect::<Vec<_>>(), vec![1]);
    assert_eq!(amounts(&r), vec![(addr(4).to_bech32(), 50)]);
    // Pending entries for versions that vanished are dropped, not fatal.
    k.on_version_published(&mut s, 9, 9).unwrap();
    assert!(k.end_block(&mut s).unwrap().is_empty());
    assert!(k.pending(&s, 10).unwrap().is_empty());
}

#[test]
fn max_output_tokens_bounds_the_scored_part() {
    let (k, _, mut s) = populated();
    k.index_version(&mut s, 1, 1).unwrap();
    k.set_params(&mut s, &pb::Params { max_output_tokens: 10, ..crate::keeper::default_params() }).unwrap();
    let r = k.score(&s, &[(1, 1)], "x proof of attribution pays the people whose data the answer came from", 0).unwrap();
    assert_eq!((r.output_tokens, r.scored_tokens), (13, 10));
    assert_eq!(r.spans.iter().map(|x| x.length).collect::<Vec<_>>(), vec![9]);
}

fn query<Resp: Message + Default>(
    k: &AttributionKeeper,
    s: &dyn StateRead,
    method: &str,
    req: impl Message,
) -> Result<Resp, openledger_core::QueryError> {
    let bytes = AttributionQuery(k.clone()).query(s, ATTRIBUTION_SERVICE, method, &req.encode_to_vec())?;
    Ok(Resp::decode(bytes.as_slice()).unwrap())
}

#[test]
fn queries_answer_params_records_index_info_and_scores() {
    let (k, bank, mut s) = populated();
    bank.fund(&escrow(), 100);
    let text = "proof of attribution pays the people whose data the answer came from";
    let rec = k.distribute(&mut s, 5, &escrow(), 100, &[(1, 1)], text).unwrap();
    let p: pb::QueryParamsResponse = query(&k, &s, "Params", pb::QueryParamsRequest {}).unwrap();
    assert_eq!(p.params.unwrap().min_span_tokens, 8);
    let r: pb::QueryRecordResponse = query(&k, &s, "Record", pb::QueryRecordRequest { inference_id: 5 }).unwrap();
    assert_eq!(r.record.unwrap(), rec);
    let e = query::<pb::QueryRecordResponse>(&k, &s, "Record", pb::QueryRecordRequest { inference_id: 6 }).unwrap_err();
    assert!(matches!(e, openledger_core::QueryError::NotFound(_)));
    let i: pb::QueryIndexInfoResponse = query(&k, &s, "IndexInfo", pb::QueryIndexInfoRequest { datanet_id: 1, version: 1 }).unwrap();
    let meta = i.meta.unwrap();
    assert!(meta.segments.is_empty());
    assert_eq!(i.bytes_per_token_milli, meta.total_bytes * 1000 / meta.token_count);
    let req =
        pb::QueryScoreRequest { versions: vec![pb::VersionRef { datanet_id: 1, version: 1 }], text: text.into(), amount: "100".into() };
    let sc: pb::QueryScoreResponse = query(&k, &s, "Score", req.clone()).unwrap();
    assert_eq!(pb::AttributionRecord { inference_id: 5, ..sc.record.unwrap() }, rec);
    let big = pb::QueryScoreRequest { text: "a".repeat(64 * 1024 + 1), ..req.clone() };
    assert!(matches!(query::<pb::QueryScoreResponse>(&k, &s, "Score", big), Err(openledger_core::QueryError::InvalidArgument(_))));
    let bad_amount = pb::QueryScoreRequest { amount: "-1".into(), ..req };
    assert!(query::<pb::QueryScoreResponse>(&k, &s, "Score", bad_amount).is_err());
    assert!(query::<pb::QueryParamsResponse>(&k, &s, "Nope", pb::QueryParamsRequest {}).is_err());
}

#[test]
fn update_params_is_governance_only_and_validated() {
    let (k, _, s) = setup();
    let good = pb::Params { min_span_tokens: 5, max_output_tokens: 100, max_index_tokens: 1000, ..crate::keeper::default_params() };
    let msg = pb::MsgUpdateParams { authority: gov_authority().to_bech32(), params: Some(good) };
    let mut c = StateDelta::new(&s);
    UpdateParams::check_stateless(&msg).unwrap().execute(&k, &mut c).unwrap();
    assert_eq!(k.params(&c).unwrap(), good);
    let v = UpdateParams::check_stateless(&msg).unwrap().amino_json();
    assert_eq!(v["type"], "openledger/x/attribution/MsgUpdateParams");
    assert_eq!(v["value"]["params"]["max_index_tokens"], "1000");
    let not_gov = pb::MsgUpdateParams { authority: addr(2).to_bech32(), params: Some(good) };
    let e = fails_cleanly(&s, |c| UpdateParams::check_stateless(&not_gov)?.execute(&k, c));
    assert_eq!(code(&e), ("sdk", 4));
    for bad in [
        pb::Params { min_span_tokens: 0, ..good },
        pb::Params { min_span_tokens: 1025, ..good },
        pb::Params { max_output_tokens: 0, ..good },
        pb::Params { max_index_tokens: 50_000_001, ..good },
    ] {
        let e = UpdateParams::check_stateless(&pb::MsgUpdateParams { params: Some(bad), ..msg.clone() }).unwrap_err();
        assert_eq!(code(&e), ("attribution", 2));
    }
    let e = UpdateParams::check_stateless(&pb::MsgUpdateParams { params: None, ..msg.clone() }).unwrap_err();
    assert_eq!(code(&e), ("attribution", 2));
    let e = UpdateParams::check_stateless(&pb::MsgUpdateParams { authority: "nope".into(), ..msg }).unwrap_err();
    assert_eq!(code(&e), ("sdk", 7));
}

#[test]
fn genesis_round_trips_and_rebuilds_identical_indexes() {
    let (k, bank, mut s) = populated();
    bank.fund(&escrow(), 100);
    k.set_params(&mut s, &pb::Params { min_span_tokens: 6, ..crate::keeper::default_params() }).unwrap();
    k.distribute(&mut s, 3, &escrow(), 100, &[(1, 1)], "the quick brown fox jumps over the lazy dog").unwrap();
    publish(&dk(), &mut s, 1).unwrap();
    k.on_version_published(&mut s, 1, 2).unwrap();
    let g = export_genesis(&k, &s).unwrap();
    assert_eq!(g.indexed.len(), 1);
    assert_eq!(g.pending.len(), 1);
    assert_eq!(g.records.len(), 1);
    let json = serde_json::to_string(&g).unwrap();
    let back: crate::genesis::AttributionGenesis = serde_json::from_str(&json).unwrap();
    assert_eq!(back, g);
    // A fresh chain with the same datanet state.
    let (k2, _, mut s2) = setup();
    let rows: Vec<(Address, Vec<u8>)> = ROWS.iter().enumerate().map(|(i, r)| (addr(2 + i as u8), r.as_bytes().to_vec())).collect();
    write_datanet(&dk(), &mut s2, 1, &rows, 10).unwrap();
    publish(&dk(), &mut s2, 1).unwrap();
    publish(&dk(), &mut s2, 1).unwrap();
    init_genesis(&k2, &mut s2, &back).unwrap();
    assert_eq!(export_genesis(&k2, &s2).unwrap(), g);
    assert_eq!(k2.index_meta(&s2, 1, 1).unwrap(), k.index_meta(&s, 1, 1).unwrap());
    // Bad genesis: unknown version, duplicates, bad params.
    let (k3, _, s3) = setup();
    let e = fails_cleanly(&s3, |c| init_genesis(&k3, c, &back));
    assert_eq!(code(&e), ("attribution", 9));
    let mut dup = back.clone();
    dup.pending.push(dup.indexed[0]);
    let e = fails_cleanly(&s2, |c| init_genesis(&k2, c, &dup));
    assert_eq!(code(&e), ("attribution", 9));
    let mut bad = back;
    bad.params.min_span_tokens = 0;
    let e = fails_cleanly(&s2, |c| init_genesis(&k2, c, &bad));
    assert_eq!(code(&e), ("attribution", 9));
}

/// Publishing pays for the index it makes every validator build: gas proportional to the
/// version's bytes, charged to the publishing tx's meter, within a per-block byte budget.
#[test]
fn publishing_pays_index_gas_by_size_within_a_block_budget() {
    use openledger_core::block::{set_block_info, BlockInfo};
    use openledger_core::gas::GasMeter;
    let (k, _, mut s) = populated();
    let total_bytes: u64 = ROWS.iter().map(|r| r.len() as u64).sum();
    // Three more versions of the same rows (a republish flood), at height 7.
    for v in 2..=4 {
        assert_eq!(publish(&dk(), &mut s, 1).unwrap(), v);
    }
    set_block_info(&mut s, BlockInfo { height: 7, ..BlockInfo::default() }).unwrap();
    let budget = total_bytes * 2;
    k.set_params(&mut s, &pb::Params { index_gas_per_byte: 20, max_index_bytes_per_block: budget, ..crate::keeper::default_params() })
        .unwrap();

    // Gas of the same publish with and without the index charge: the difference is 20 × bytes.
    let gas_of = |s: &StateDelta<EmptyState>, version: u64| {
        let meter = Arc::new(GasMeter::new(u64::MAX / 2));
        let mut layer = StateDelta::metered(s, meter.clone());
        let r = k.on_version_published(&mut layer, 1, version);
        (r.map(|_| layer.into_parts()), meter.consumed())
    };
    let (first, with_charge) = gas_of(&s, 1);
    let (writes, events) = first.unwrap();
    s.absorb(writes, events);
    let (second, _) = gas_of(&s, 2);
    let (writes, events) = second.unwrap();
    s.absorb(writes, events);
    // The third publish of the block does not fit the budget of two versions: refused.
    let (third, _) = gas_of(&s, 3);
    let e = third.unwrap_err();
    assert_eq!(code(&e), ("attribution", 13), "{e}");
    assert!(k.pending(&s, 10).unwrap().len() == 2, "the refused version is not queued");
    // Next block: the budget is fresh.
    set_block_info(&mut s, BlockInfo { height: 8, ..BlockInfo::default() }).unwrap();
    let (third, _) = gas_of(&s, 3);
    assert!(third.is_ok());

    // Without the charge (a chain from before the param): only the reads and writes.
    let (k2, _, mut s2) = populated();
    set_block_info(&mut s2, BlockInfo { height: 7, ..BlockInfo::default() }).unwrap();
    k2.set_params(&mut s2, &pb::Params { index_gas_per_byte: 0, max_index_bytes_per_block: 0, ..crate::keeper::default_params() }).unwrap();
    let meter = Arc::new(GasMeter::new(u64::MAX / 2));
    let mut layer = StateDelta::metered(&s2, meter.clone());
    k2.on_version_published(&mut layer, 1, 1).unwrap();
    let without = meter.consumed();
    assert!(with_charge >= without + 20 * total_bytes, "{with_charge} vs {without} + 20 × {total_bytes}");
    assert!(with_charge < without + 20 * total_bytes + 20_000, "the rest is a few reads and writes (the version, the budget)");

    // A publisher out of gas for its index fails its tx.
    let meter = Arc::new(GasMeter::new(without + 10 * total_bytes));
    let mut layer = StateDelta::metered(&s, meter);
    let e = k.on_version_published(&mut layer, 1, 4).unwrap_err();
    assert_eq!(code(&e), ("sdk", 11), "{e}");
}
