//! The datanet keeper: typed access to the module's state, the bond escrow through the narrow
//! [`BankKeeper`] trait, and the read API other modules use (versions and their roots).

use std::sync::Arc;

use openledger_core::coin::BASE_DENOM;
use openledger_core::{AbciError, Address, Coin, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::datanet::v1::{
    Contribution, ContributorStats, Datanet, Params, Row, RowLeaves, Segment, Version, VersionSegments,
};

use crate::error::DatanetError;
use crate::merkle::Hash;
use crate::state_key;

/// Module account escrowing contribution bonds (may burn; blocked for user sends).
pub const BONDS_ACCOUNT: &str = "datanet_bonds";
/// Name of the gov module account.
pub use openledger_core::module::GOV_MODULE_NAME as GOV_MODULE;

/// Hard cap on rows per contribution, whatever the params say.
pub const ABSOLUTE_MAX_ROWS: u64 = 10_000;
/// Hard cap on a row's size, whatever the params say (a tx is at most 1 MiB anyway).
pub const ABSOLUTE_MAX_ROW_BYTES: u64 = 1024 * 1024;
/// Hard cap on a curator set.
pub const ABSOLUTE_MAX_CURATORS: u32 = 256;
/// Page size of internal prefix scans.
pub const SCAN_PAGE: usize = 1000;

/// The governance authority address (the gov module account).
pub use openledger_core::module::gov_authority;

/// The bond escrow address.
pub fn bonds_address() -> Address {
    Address::module(BONDS_ACCOUNT)
}

/// The default params: 1,000 rows per contribution, rows up to 64 KiB, 32 curators, no minimum
/// contribution bond.
pub fn default_params() -> Params {
    Params { max_rows_per_contribution: 1000, max_row_bytes_cap: 64 * 1024, max_curators: 32, min_contribution_bond: None }
}

/// The governance floor of every contribution bond, in uopen (0: none).
pub fn min_contribution_bond(p: &Params) -> Result<u128, DatanetError> {
    uopen_amount(p.min_contribution_bond.as_ref()).map_err(|e| DatanetError::InvalidParams(format!("min_contribution_bond: {e}")))
}

/// Checks params against the hard caps.
pub fn validate_params(p: &Params) -> Result<(), DatanetError> {
    if p.max_rows_per_contribution == 0 || p.max_rows_per_contribution > ABSOLUTE_MAX_ROWS {
        return Err(DatanetError::InvalidParams(format!("max_rows_per_contribution must be 1..={ABSOLUTE_MAX_ROWS}")));
    }
    if p.max_row_bytes_cap == 0 || p.max_row_bytes_cap > ABSOLUTE_MAX_ROW_BYTES {
        return Err(DatanetError::InvalidParams(format!("max_row_bytes_cap must be 1..={ABSOLUTE_MAX_ROW_BYTES}")));
    }
    if p.max_curators == 0 || p.max_curators > ABSOLUTE_MAX_CURATORS {
        return Err(DatanetError::InvalidParams(format!("max_curators must be 1..={ABSOLUTE_MAX_CURATORS}")));
    }
    min_contribution_bond(p)?;
    Ok(())
}

/// What the datanet module needs from the bank: moving and burning escrowed bonds.
pub trait BankKeeper: Send + Sync {
    /// Moves `coins` from `from` to `to` (fails with the bank's code, e.g. sdk 5, if short).
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), AbciError>;
    /// Destroys `coins` held by `from` (supply shrinks).
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[Coin]) -> Result<(), AbciError>;
}

/// Parses a stored uopen amount (empty = 0).
pub fn amount(text: &str) -> Result<u128, DatanetError> {
    if text.is_empty() {
        return Ok(0);
    }
    text.parse::<u128>().map_err(|e| DatanetError::Corrupt(format!("amount {text:?}: {e}")))
}

/// `a + b` on stored decimal amounts.
pub fn add_amount(a: &str, b: u128) -> Result<String, DatanetError> {
    amount(a)?.checked_add(b).map(|v| v.to_string()).ok_or_else(|| DatanetError::Overflow(format!("{a} + {b}")))
}

/// `a - b` on stored decimal amounts.
pub fn sub_amount(a: &str, b: u128) -> Result<String, DatanetError> {
    amount(a)?.checked_sub(b).map(|v| v.to_string()).ok_or_else(|| DatanetError::Corrupt(format!("{a} - {b} underflows")))
}

/// `a + b` on counters.
pub fn inc(a: u64, b: u64, what: &str) -> Result<u64, DatanetError> {
    a.checked_add(b).ok_or_else(|| DatanetError::Overflow(what.to_string()))
}

/// `a - b` on counters.
pub fn dec(a: u64, b: u64, what: &str) -> Result<u64, DatanetError> {
    a.checked_sub(b).ok_or_else(|| DatanetError::Corrupt(format!("{what} underflows")))
}

/// The uopen amount of an optional proto coin (absent = 0), checking the denom.
pub fn uopen_amount(coin: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>) -> Result<u128, DatanetError> {
    match coin {
        None => Ok(0),
        Some(c) if c.denom.is_empty() && (c.amount.is_empty() || c.amount == "0") => Ok(0),
        Some(c) => {
            let parsed = Coin::from_proto(c).map_err(|e| DatanetError::InvalidCoins(e.to_string()))?;
            if parsed.denom != BASE_DENOM {
                return Err(DatanetError::InvalidCoins(format!("bonds are paid in {BASE_DENOM}, got {}", parsed.denom)));
            }
            Ok(parsed.amount)
        }
    }
}

/// A uopen proto coin.
pub fn uopen(amount: u128) -> cosmos_sdk_proto::cosmos::base::v1beta1::Coin {
    Coin::new(BASE_DENOM, amount).to_proto()
}

/// The datanet keeper.
#[derive(Clone)]
pub struct DatanetKeeper {
    bank: Arc<dyn BankKeeper>,
    /// Set once after wiring (the listener is built from this keeper); shared by every clone.
    publish_hook: Arc<std::sync::OnceLock<Arc<dyn PublishHook>>>,
}

/// What other modules read of datanets (attribution's index build and payouts): a narrow,
/// read-only view implemented by [`DatanetKeeper`].
pub trait DatanetRead: Send + Sync {
    /// A datanet.
    fn datanet(&self, state: &dyn StateRead, id: u64) -> Result<Option<Datanet>, StateError>;
    /// A row.
    fn row(&self, state: &dyn StateRead, datanet_id: u64, row_id: u64) -> Result<Option<Row>, StateError>;
    /// A contribution.
    fn contribution(&self, state: &dyn StateRead, datanet_id: u64, id: u64) -> Result<Option<Contribution>, StateError>;
    /// The row runs of a published version.
    fn segments(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Vec<Segment>, StateError>;
    /// A published version and whether its datanet is delisted.
    fn published_version(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Option<(Version, bool)>, StateError>;
}

impl DatanetRead for DatanetKeeper {
    fn datanet(&self, state: &dyn StateRead, id: u64) -> Result<Option<Datanet>, StateError> {
        DatanetKeeper::datanet(self, state, id)
    }
    fn row(&self, state: &dyn StateRead, datanet_id: u64, row_id: u64) -> Result<Option<Row>, StateError> {
        DatanetKeeper::row(self, state, datanet_id, row_id)
    }
    fn contribution(&self, state: &dyn StateRead, datanet_id: u64, id: u64) -> Result<Option<Contribution>, StateError> {
        DatanetKeeper::contribution(self, state, datanet_id, id)
    }
    fn segments(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Vec<Segment>, StateError> {
        DatanetKeeper::segments(self, state, datanet_id, version)
    }
    fn published_version(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Option<(Version, bool)>, StateError> {
        DatanetKeeper::published_version(self, state, datanet_id, version)
    }
}

/// Told of every published version, in the message layer of the publishing tx (so a failed tx
/// tells nothing): attribution queues the version for indexing.
pub trait PublishHook: Send + Sync {
    /// `version` of `datanet_id` was just published.
    fn version_published(&self, state: &mut dyn StateWrite, datanet_id: u64, version: u64) -> Result<(), AbciError>;
}

impl std::fmt::Debug for DatanetKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatanetKeeper").finish_non_exhaustive()
    }
}

impl DatanetKeeper {
    /// A keeper moving funds through `bank`.
    pub fn new(bank: Arc<dyn BankKeeper>) -> Self {
        Self { bank, publish_hook: Arc::new(std::sync::OnceLock::new()) }
    }

    /// Sets the listener of published versions (once; later calls are ignored).
    pub fn set_publish_hook(&self, hook: Arc<dyn PublishHook>) {
        let _ = self.publish_hook.set(hook);
    }

    /// Tells the listener, if any, that a version was published.
    pub fn version_published(&self, state: &mut dyn StateWrite, datanet_id: u64, version: u64) -> Result<(), AbciError> {
        match self.publish_hook.get() {
            Some(hook) => hook.version_published(state, datanet_id, version),
            None => Ok(()),
        }
    }

    /// Params (defaults if unset).
    pub fn params(&self, state: &dyn StateRead) -> Result<Params, StateError> {
        Ok(state.get_proto(state_key::PARAMS)?.unwrap_or_else(default_params))
    }

    /// Writes checked params (genesis and governance).
    pub fn set_params(&self, state: &mut dyn StateWrite, params: &Params) -> Result<(), DatanetError> {
        validate_params(params)?;
        Ok(state.put_proto(state_key::PARAMS.to_vec(), params)?)
    }

    /// A datanet.
    pub fn datanet(&self, state: &dyn StateRead, id: u64) -> Result<Option<Datanet>, StateError> {
        state.get_proto(&state_key::datanet(id))
    }

    /// A datanet, or [`DatanetError::DatanetNotFound`].
    pub fn require_datanet(&self, state: &dyn StateRead, id: u64) -> Result<Datanet, DatanetError> {
        self.datanet(state, id)?.ok_or(DatanetError::DatanetNotFound(id))
    }

    /// Writes a datanet.
    pub fn set_datanet(&self, state: &mut dyn StateWrite, datanet: &Datanet) -> Result<(), StateError> {
        state.put_proto(state_key::datanet(datanet.id), datanet)
    }

    /// Hands out the next datanet id (ids start at 1).
    pub fn next_datanet_id(&self, state: &mut dyn StateWrite) -> Result<u64, DatanetError> {
        let id = state.get_proto::<u64>(state_key::NEXT_DATANET_ID)?.unwrap_or(1).max(1);
        state.put_proto(state_key::NEXT_DATANET_ID.to_vec(), &inc(id, 1, "datanet id")?)?;
        Ok(id)
    }

    /// A contribution.
    pub fn contribution(&self, state: &dyn StateRead, datanet_id: u64, id: u64) -> Result<Option<Contribution>, StateError> {
        state.get_proto(&state_key::contribution(datanet_id, id))
    }

    /// A contribution, or [`DatanetError::ContributionNotFound`].
    pub fn require_contribution(&self, state: &dyn StateRead, datanet_id: u64, id: u64) -> Result<Contribution, DatanetError> {
        self.contribution(state, datanet_id, id)?.ok_or(DatanetError::ContributionNotFound { datanet_id, contribution_id: id })
    }

    /// Writes a contribution.
    pub fn set_contribution(&self, state: &mut dyn StateWrite, c: &Contribution) -> Result<(), StateError> {
        state.put_proto(state_key::contribution(c.datanet_id, c.id), c)
    }

    /// A row.
    pub fn row(&self, state: &dyn StateRead, datanet_id: u64, row_id: u64) -> Result<Option<Row>, StateError> {
        state.get_proto(&state_key::row(datanet_id, row_id))
    }

    /// A version; `version == 0` means the latest one.
    pub fn version(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Option<Version>, StateError> {
        let number = if version == 0 {
            match self.datanet(state, datanet_id)? {
                Some(d) if d.latest_version > 0 => d.latest_version,
                _ => return Ok(None),
            }
        } else {
            version
        };
        state.get_proto(&state_key::version(datanet_id, number))
    }

    /// A version (0 = latest), or [`DatanetError::VersionNotFound`].
    pub fn require_version(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Version, DatanetError> {
        self.version(state, datanet_id, version)?.ok_or(DatanetError::VersionNotFound { datanet_id, version })
    }

    /// The row runs of a version.
    pub fn segments(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Vec<Segment>, StateError> {
        Ok(state.get_proto::<VersionSegments>(&state_key::segments(datanet_id, version))?.unwrap_or_default().segments)
    }

    /// Leaf hashes of a contribution's rows.
    pub fn contribution_leaves(&self, state: &dyn StateRead, datanet_id: u64, contribution_id: u64) -> Result<Vec<u8>, StateError> {
        Ok(state.get_proto::<RowLeaves>(&state_key::leaves(datanet_id, contribution_id))?.unwrap_or_default().hashes)
    }

    /// Leaf hashes of `segments`, in order (reads each contribution's leaves once).
    pub fn segment_leaves(&self, state: &dyn StateRead, datanet_id: u64, segments: &[Segment]) -> Result<Vec<Hash>, DatanetError> {
        let mut out = Vec::new();
        // Runs of one contribution are adjacent (split only around delisted rows).
        let mut current: Option<(u64, u64, Vec<u8>)> = None;
        for seg in segments {
            if current.as_ref().map(|(id, _, _)| *id) != Some(seg.contribution_id) {
                let c = self.require_contribution(state, datanet_id, seg.contribution_id)?;
                let blob = self.contribution_leaves(state, datanet_id, seg.contribution_id)?;
                current = Some((seg.contribution_id, c.first_row_id, blob));
            }
            let Some((_, first_row_id, blob)) = &current else { return Err(DatanetError::Corrupt("leaf cache".into())) };
            let start = seg
                .first_row_id
                .checked_sub(*first_row_id)
                .and_then(|o| usize::try_from(o).ok())
                .ok_or_else(|| DatanetError::Corrupt(format!("segment at row {} before its contribution", seg.first_row_id)))?;
            let count = usize::try_from(seg.row_count).map_err(|_| DatanetError::Corrupt("segment length".into()))?;
            for i in start..start.saturating_add(count) {
                let at = i.checked_mul(32).ok_or_else(|| DatanetError::Corrupt("leaf offset".into()))?;
                let leaf: Hash = blob
                    .get(at..at.saturating_add(32))
                    .and_then(|s| <Hash>::try_from(s).ok())
                    .ok_or_else(|| DatanetError::Corrupt(format!("missing leaf of row {}", seg.first_row_id)))?;
                out.push(leaf);
            }
        }
        Ok(out)
    }

    /// The `(row_id, contribution_id)` at `index` of a version's runs, if in range.
    pub fn row_at(segments: &[Segment], index: u64) -> Option<(u64, u64)> {
        let mut skipped = 0u64;
        for seg in segments {
            let end = skipped.checked_add(seg.row_count)?;
            if index < end {
                return Some((seg.first_row_id.checked_add(index - skipped)?, seg.contribution_id));
            }
            skipped = end;
        }
        None
    }

    /// A contributor's stats in one datanet (zeroes if none).
    pub fn stats(&self, state: &dyn StateRead, contributor: &str, datanet_id: u64) -> Result<ContributorStats, StateError> {
        Ok(state.get_proto(&state_key::stats(contributor, datanet_id))?.unwrap_or_else(|| ContributorStats {
            contributor: contributor.to_string(),
            datanet_id,
            ..Default::default()
        }))
    }

    /// Writes a contributor's stats.
    pub fn set_stats(&self, state: &mut dyn StateWrite, stats: &ContributorStats) -> Result<(), StateError> {
        state.put_proto(state_key::stats(&stats.contributor, stats.datanet_id), stats)
    }

    /// Escrows a bond from `from` into the bonds account.
    pub fn escrow(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), DatanetError> {
        if amount == 0 {
            return Ok(());
        }
        self.bank.send(state, from, &bonds_address(), &[Coin::new(BASE_DENOM, amount)]).map_err(DatanetError::Bank)
    }

    /// Returns `returned` of a bond to `to` and burns `burned` of it.
    pub fn release(&self, state: &mut dyn StateWrite, to: &Address, returned: u128, burned: u128) -> Result<(), DatanetError> {
        let bonds = bonds_address();
        if burned > 0 {
            self.bank.burn(state, &bonds, &[Coin::new(BASE_DENOM, burned)]).map_err(DatanetError::Bank)?;
        }
        if returned > 0 {
            self.bank.send(state, &bonds, to, &[Coin::new(BASE_DENOM, returned)]).map_err(DatanetError::Bank)?;
        }
        Ok(())
    }

    /// A version for other modules: `(version, datanet delisted)`, `None` if it does not exist.
    pub fn published_version(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Option<(Version, bool)>, StateError> {
        if version == 0 {
            return Ok(None);
        }
        let Some(datanet) = self.datanet(state, datanet_id)? else { return Ok(None) };
        Ok(self.version(state, datanet_id, version)?.map(|v| (v, datanet.delisted)))
    }
}

/// Splits `[0, bond)` on rejection: `(returned, burned)` with `burned = floor(bond × bps / 10000)`.
pub fn split_bond(bond: u128, reject_burn_bps: u32) -> Result<(u128, u128), DatanetError> {
    if reject_burn_bps > 10_000 {
        return Err(DatanetError::Corrupt(format!("reject_burn_bps {reject_burn_bps} > 10000")));
    }
    let burned = bond.checked_mul(u128::from(reject_burn_bps)).ok_or_else(|| DatanetError::Overflow(format!("bond {bond}")))? / 10_000;
    Ok((bond - burned, burned))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// A bank in memory: balances by address, a burned total, and the same errors as the real one.
    #[derive(Default)]
    pub struct MemBank {
        /// Balances.
        pub balances: Mutex<BTreeMap<Address, u128>>,
        /// Burned so far.
        pub burned: Mutex<u128>,
    }

    impl MemBank {
        pub fn fund(&self, who: &Address, amount: u128) {
            *self.balances.lock().unwrap().entry(who.clone()).or_insert(0) += amount;
        }
        pub fn balance(&self, who: &Address) -> u128 {
            self.balances.lock().unwrap().get(who).copied().unwrap_or(0)
        }
        fn take(&self, from: &Address, coins: &[Coin]) -> Result<(), AbciError> {
            let mut b = self.balances.lock().unwrap();
            let have = b.get(from).copied().unwrap_or(0);
            let want: u128 = coins.iter().map(|c| c.amount).sum();
            if have < want {
                return Err(AbciError::sdk(5, format!("spendable balance {have}uopen is smaller than {want}uopen: insufficient funds")));
            }
            b.insert(from.clone(), have - want);
            Ok(())
        }
    }

    impl BankKeeper for MemBank {
        fn send(&self, _state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), AbciError> {
            self.take(from, coins)?;
            self.fund(to, coins.iter().map(|c| c.amount).sum());
            Ok(())
        }
        fn burn(&self, _state: &mut dyn StateWrite, from: &Address, coins: &[Coin]) -> Result<(), AbciError> {
            self.take(from, coins)?;
            *self.burned.lock().unwrap() += coins.iter().map(|c| c.amount).sum::<u128>();
            Ok(())
        }
    }

    pub fn keeper() -> (DatanetKeeper, Arc<MemBank>) {
        let bank = Arc::new(MemBank::default());
        (DatanetKeeper::new(bank.clone()), bank)
    }

    pub fn addr(n: u8) -> Address {
        Address::from_bytes(&[n; 20]).unwrap()
    }

    #[test]
    fn bond_split_rounds_the_burn_down_and_conserves_the_bond() {
        assert_eq!(split_bond(1000, 2500).unwrap(), (750, 250));
        assert_eq!(split_bond(999, 3333).unwrap(), (667, 332));
        assert_eq!(split_bond(7, 10_000).unwrap(), (0, 7));
        assert_eq!(split_bond(7, 0).unwrap(), (7, 0));
        assert_eq!(split_bond(0, 5000).unwrap(), (0, 0));
        assert!(split_bond(1, 10_001).is_err());
        assert!(split_bond(u128::MAX, 2).is_err());
        for bond in [1u128, 3, 10, 12345] {
            for bps in [1u32, 17, 5000, 9999] {
                let (r, b) = split_bond(bond, bps).unwrap();
                assert_eq!(r + b, bond);
            }
        }
    }

    #[test]
    fn row_at_walks_the_runs() {
        let segs = vec![
            Segment { first_row_id: 1, row_count: 2, contribution_id: 1 },
            Segment { first_row_id: 10, row_count: 3, contribution_id: 3 },
        ];
        assert_eq!(DatanetKeeper::row_at(&segs, 0), Some((1, 1)));
        assert_eq!(DatanetKeeper::row_at(&segs, 1), Some((2, 1)));
        assert_eq!(DatanetKeeper::row_at(&segs, 2), Some((10, 3)));
        assert_eq!(DatanetKeeper::row_at(&segs, 4), Some((12, 3)));
        assert_eq!(DatanetKeeper::row_at(&segs, 5), None);
        assert!(validate_params(&default_params()).is_ok());
        assert!(validate_params(&Params { max_rows_per_contribution: 0, ..default_params() }).is_err());
        assert!(uopen_amount(Some(&Coin::new("uatom", 5).to_proto())).is_err());
        assert_eq!(uopen_amount(None).unwrap(), 0);
    }
}
