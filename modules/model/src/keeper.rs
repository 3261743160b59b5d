//! The model keeper: typed access to base models and adapters, their indexes, and the narrow
//! [`DatanetReader`] through which pinned datanet versions are checked.

use std::sync::Arc;

use openledger_core::coin::BASE_DENOM;
use openledger_core::{AbciError, Coin, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::model::v1::{Adapter, BaseModel};

use crate::error::ModelError;
use crate::finetune::ModelFunds;
use crate::state_key;

/// A published datanet version as the registry needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The version's Merkle root.
    pub merkle_root: Vec<u8>,
    /// Rows in it.
    pub row_count: u64,
    /// Whether governance delisted its datanet.
    pub datanet_delisted: bool,
}

/// What the registry needs from the datanet module: the published versions.
pub trait DatanetReader: Send + Sync {
    /// Version `version` (≥ 1) of `datanet_id`, if published.
    fn version(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Option<VersionInfo>, StateError>;

    /// Rows per contributor in that version: walks the version's row runs (segments) to their
    /// contributions and each contribution to its contributor. One entry per run; the caller
    /// sums by contributor. Default: none (every contributor share then goes to the pool).
    fn version_contributors(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Vec<(String, u64)>, StateError> {
        let _ = (state, datanet_id, version);
        Ok(Vec::new())
    }

    /// Whether that version exists.
    fn version_exists(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<bool, StateError> {
        Ok(self.version(state, datanet_id, version)?.is_some())
    }
}

/// Name of the gov module account.
pub use openledger_core::module::GOV_MODULE_NAME as GOV_MODULE;

/// The governance authority address (the gov module account).
pub use openledger_core::module::gov_authority;

/// Checks a hex SHA-256 and returns it lower-cased.
pub fn normalize_hash(field: &'static str, value: &str) -> Result<String, ModelError> {
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ModelError::InvalidHash { field, value: value.chars().take(80).collect() });
    }
    Ok(value.to_ascii_lowercase())
}

/// Checks an inference price (uopen; absent means free) and returns it as a `uopen` coin.
pub fn normalize_price(price: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>) -> Result<Coin, ModelError> {
    match price {
        None => Ok(Coin::new(BASE_DENOM, 0)),
        Some(c) if c.denom.is_empty() && (c.amount.is_empty() || c.amount == "0") => Ok(Coin::new(BASE_DENOM, 0)),
        Some(c) => {
            let coin = Coin::from_proto(c).map_err(|e| ModelError::InvalidCoins(e.to_string()))?;
            if coin.denom != BASE_DENOM {
                return Err(ModelError::InvalidCoins(format!("inference prices are in {BASE_DENOM}, got {}", coin.denom)));
            }
            Ok(coin)
        }
    }
}

/// The model keeper.
#[derive(Clone)]
pub struct ModelKeeper {
    datanets: Arc<dyn DatanetReader>,
    funds: Option<Arc<dyn ModelFunds>>,
}

impl std::fmt::Debug for ModelKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelKeeper").finish_non_exhaustive()
    }
}

impl ModelKeeper {
    /// A keeper reading datanet versions through `datanets`.
    pub fn new(datanets: Arc<dyn DatanetReader>) -> Self {
        Self { datanets, funds: None }
    }

    /// The same keeper moving fine-tune fees through `funds`.
    pub fn with_funds(mut self, funds: Arc<dyn ModelFunds>) -> Self {
        self.funds = Some(funds);
        self
    }

    /// The funds mover (fine-tune jobs fail without one).
    pub fn funds(&self) -> Result<&dyn ModelFunds, ModelError> {
        self.funds.as_deref().ok_or_else(|| {
            ModelError::Funds(AbciError::sdk(openledger_core::error::sdk_codes::INTERNAL, "the model keeper has no funds keeper"))
        })
    }

    /// The datanet reader.
    pub fn datanets(&self) -> &dyn DatanetReader {
        self.datanets.as_ref()
    }

    /// A base model.
    pub fn base_model(&self, state: &dyn StateRead, id: u64) -> Result<Option<BaseModel>, StateError> {
        state.get_proto(&state_key::base_model(id))
    }

    /// A base model, or [`ModelError::BaseModelNotFound`].
    pub fn require_base_model(&self, state: &dyn StateRead, id: u64) -> Result<BaseModel, ModelError> {
        self.base_model(state, id)?.ok_or(ModelError::BaseModelNotFound(id))
    }

    /// An adapter.
    pub fn adapter(&self, state: &dyn StateRead, id: u64) -> Result<Option<Adapter>, StateError> {
        state.get_proto(&state_key::adapter(id))
    }

    /// An adapter, or [`ModelError::AdapterNotFound`].
    pub fn require_adapter(&self, state: &dyn StateRead, id: u64) -> Result<Adapter, ModelError> {
        self.adapter(state, id)?.ok_or(ModelError::AdapterNotFound(id))
    }

    /// Checks that inference may be served on `base_model_id` (with `adapter_id`, a fine-tune
    /// of it): both exist and neither is delisted by governance. Errors name the reason: not
    /// found (model 4 / 5), the adapter belongs to another base model (model 11), base model
    /// delisted (model 14), adapter delisted (model 15).
    pub fn check_servable(&self, state: &dyn StateRead, base_model_id: u64, adapter_id: Option<u64>) -> Result<(), ModelError> {
        let base = self.require_base_model(state, base_model_id)?;
        let adapter = adapter_id.map(|id| self.require_adapter(state, id)).transpose()?;
        if let Some(a) = &adapter {
            if a.base_model_id != base_model_id {
                return Err(ModelError::InvalidTarget(format!(
                    "adapter {} is a fine-tune of base model {}, not {base_model_id}",
                    a.id, a.base_model_id
                )));
            }
        }
        if base.delisted {
            return Err(ModelError::BaseModelDelisted(base_model_id));
        }
        match adapter {
            Some(a) if a.delisted => Err(ModelError::AdapterDelisted(a.id)),
            _ => Ok(()),
        }
    }

    /// Whether inference may be served on `base_model_id` (with `adapter_id`): `Ok(false)` when
    /// governance delisted the base model or the adapter; an error when either does not exist
    /// or the adapter is not a fine-tune of that base model.
    pub fn is_servable(&self, state: &dyn StateRead, base_model_id: u64, adapter_id: Option<u64>) -> Result<bool, ModelError> {
        match self.check_servable(state, base_model_id, adapter_id) {
            Ok(()) => Ok(true),
            Err(ModelError::BaseModelDelisted(_) | ModelError::AdapterDelisted(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The base model registered with these weights.
    pub fn by_weights_hash(&self, state: &dyn StateRead, hash: &str) -> Result<Option<u64>, StateError> {
        state.get_proto(&state_key::weights_hash(hash))
    }

    /// The adapter registered with these weights.
    pub fn by_adapter_hash(&self, state: &dyn StateRead, hash: &str) -> Result<Option<u64>, StateError> {
        state.get_proto(&state_key::adapter_hash(hash))
    }

    fn next_id(state: &mut dyn StateWrite, key: &[u8]) -> Result<u64, ModelError> {
        let id = state.get_proto::<u64>(key)?.unwrap_or(1).max(1);
        let next = id.checked_add(1).ok_or_else(|| ModelError::Overflow("id".into()))?;
        state.put_proto(key.to_vec(), &next)?;
        Ok(id)
    }

    /// Hands out the next base model id (from 1).
    pub fn next_base_model_id(&self, state: &mut dyn StateWrite) -> Result<u64, ModelError> {
        Self::next_id(state, state_key::NEXT_BASE_MODEL_ID)
    }

    /// Hands out the next adapter id (from 1).
    pub fn next_adapter_id(&self, state: &mut dyn StateWrite) -> Result<u64, ModelError> {
        Self::next_id(state, state_key::NEXT_ADAPTER_ID)
    }

    /// Writes a base model (and its weights index).
    pub fn set_base_model(&self, state: &mut dyn StateWrite, m: &BaseModel) -> Result<(), StateError> {
        state.put_proto(state_key::weights_hash(&m.weights_hash), &m.id)?;
        state.put_proto(state_key::base_model(m.id), m)
    }

    /// Writes an adapter (and its indexes; the owner and pins never change).
    pub fn set_adapter(&self, state: &mut dyn StateWrite, a: &Adapter) -> Result<(), StateError> {
        state.put_proto(state_key::adapter_hash(&a.adapter_hash), &a.id)?;
        state.put_proto(state_key::adapter_by_model(a.base_model_id, a.id), &a.id)?;
        state.put_proto(state_key::adapter_by_owner(&a.owner, a.id), &a.id)?;
        for pin in &a.datanet_versions {
            state.put_proto(state_key::adapter_by_version(pin.datanet_id, pin.version, a.id), &a.id)?;
            state.put_proto(state_key::adapter_by_datanet(pin.datanet_id, a.id), &a.id)?;
        }
        state.put_proto(state_key::adapter(a.id), a)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openledger_core::Address;
    use std::collections::BTreeMap;

    /// Datanet versions in memory: `(datanet, version) → (root, rows)`, plus delisted datanets.
    #[derive(Default)]
    pub struct MemDatanets {
        pub versions: BTreeMap<(u64, u64), (Vec<u8>, u64)>,
        pub delisted: Vec<u64>,
        /// Row runs per version: `(contributor, rows)`.
        pub contributors: BTreeMap<(u64, u64), Vec<(String, u64)>>,
    }

    impl DatanetReader for MemDatanets {
        fn version(&self, _state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Option<VersionInfo>, StateError> {
            Ok(self.versions.get(&(datanet_id, version)).map(|(root, rows)| VersionInfo {
                merkle_root: root.clone(),
                row_count: *rows,
                datanet_delisted: self.delisted.contains(&datanet_id),
            }))
        }
        fn version_contributors(&self, _state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Vec<(String, u64)>, StateError> {
            Ok(self.contributors.get(&(datanet_id, version)).cloned().unwrap_or_default())
        }
    }

    /// Datanets of [`keeper`] plus an empty version (4, 1) and contributors of (1, 1): three
    /// runs over two contributors (addresses 7 and 8 of `msg::tests::addr`), 10 rows in all.
    pub fn mem_datanets() -> MemDatanets {
        let mut d = MemDatanets::default();
        d.versions.insert((1, 1), (vec![0xaa; 32], 10));
        d.versions.insert((1, 2), (vec![0xbb; 32], 12));
        d.versions.insert((2, 1), (vec![0xcc; 32], 3));
        d.versions.insert((3, 1), (vec![0xdd; 32], 3));
        d.versions.insert((4, 1), (vec![0xee; 32], 0));
        d.delisted.push(3);
        let who = |n: u8| Address::from_bytes(&[n; 20]).unwrap().to_bech32();
        d.contributors.insert((1, 1), vec![(who(7), 3), (who(8), 4), (who(7), 3)]);
        d
    }

    pub fn keeper() -> ModelKeeper {
        ModelKeeper::new(Arc::new(mem_datanets()))
    }

    #[test]
    fn hashes_and_prices_are_normalised() {
        let upper = "AB".repeat(32);
        assert_eq!(normalize_hash("weights_hash", &upper).unwrap(), "ab".repeat(32));
        assert!(normalize_hash("weights_hash", "abc").is_err());
        assert!(normalize_hash("weights_hash", &"zz".repeat(32)).is_err());
        assert_eq!(normalize_price(None).unwrap(), Coin::new("uopen", 0));
        assert_eq!(normalize_price(Some(&Coin::new("uopen", 7).to_proto())).unwrap(), Coin::new("uopen", 7));
        assert!(normalize_price(Some(&Coin::new("uatom", 7).to_proto())).is_err());
        let k = keeper();
        let state = openledger_core::delta::EmptyState;
        assert!(k.datanets().version_exists(&state, 1, 2).unwrap());
        assert!(!k.datanets().version_exists(&state, 1, 3).unwrap());
    }
}
