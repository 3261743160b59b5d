//! Typed stake events (staking, distribution and slashing), with the SDK's kinds and attribute
//! names (`delegate`, `unbond`, `withdraw_rewards`, `liveness`, …), which explorers and
//! `tx_search` queries rely on. Amounts in uopen are rendered as `{amount}uopen`.

use openledger_core::coin::BASE_DENOM;
use openledger_core::{Dec, Event, TypedEvent};

/// A validator record was registered (kind `create_validator`, emitted by the keeper with the
/// registration height).
pub struct ValidatorRegistered {
    /// Operator (valoper) address.
    pub validator: String,
    /// Block height of the registration.
    pub height: u64,
}

impl TypedEvent for ValidatorRegistered {
    fn into_event(self) -> Event {
        Event::new("create_validator").attr("validator", self.validator).attr("height", self.height.to_string())
    }
}

/// `MsgCreateValidator` executed (kind `create_validator`, emitted by the message handler with
/// the self-bond amount).
pub struct ValidatorCreated {
    /// Operator (valoper) address.
    pub validator: String,
    /// Self-delegated amount (uopen).
    pub amount: u128,
}

impl TypedEvent for ValidatorCreated {
    fn into_event(self) -> Event {
        Event::new("create_validator").attr("validator", self.validator).attr("amount", format!("{}{BASE_DENOM}", self.amount))
    }
}

/// `MsgEditValidator` executed.
pub struct ValidatorEdited {
    /// Operator (valoper) address.
    pub validator: String,
}

impl TypedEvent for ValidatorEdited {
    fn into_event(self) -> Event {
        Event::new("edit_validator").attr("validator", self.validator)
    }
}

/// A validator was jailed.
pub struct ValidatorJailed {
    /// Operator (valoper) address.
    pub validator: String,
    /// Why (`missing_signature`, `double_sign`, `self_delegation_below_minimum`, …).
    pub reason: String,
}

impl TypedEvent for ValidatorJailed {
    fn into_event(self) -> Event {
        Event::new("jail").attr("validator", self.validator).attr("reason", self.reason)
    }
}

/// A validator was slashed.
pub struct ValidatorSlashed {
    /// Operator (valoper) address.
    pub address: String,
    /// Power at the infraction.
    pub power: u64,
    /// Why (`missing_signature`, `double_sign`, …).
    pub reason: String,
    /// Total tokens burned (uopen, no denom).
    pub burned: u128,
}

impl TypedEvent for ValidatorSlashed {
    fn into_event(self) -> Event {
        Event::new("slash")
            .attr("address", self.address)
            .attr("power", self.power.to_string())
            .attr("reason", self.reason)
            .attr("burned", self.burned.to_string())
    }
}

/// A validator entered the bonded set.
pub struct ValidatorBonded {
    /// Operator (valoper) address.
    pub validator: String,
    /// Its consensus power.
    pub power: u64,
}

impl TypedEvent for ValidatorBonded {
    fn into_event(self) -> Event {
        Event::new("validator_bonded").attr("validator", self.validator).attr("power", self.power.to_string())
    }
}

/// A validator left the bonded set and started unbonding.
pub struct ValidatorUnbonding {
    /// Operator (valoper) address.
    pub validator: String,
}

impl TypedEvent for ValidatorUnbonding {
    fn into_event(self) -> Event {
        Event::new("validator_unbonding").attr("validator", self.validator)
    }
}

/// Matured unbonding entries were paid out (kind `complete_unbonding`).
pub struct UnbondingCompleted {
    /// Amount paid (uopen).
    pub amount: u128,
    /// Operator (valoper) address.
    pub validator: String,
    /// Delegator address.
    pub delegator: String,
}

impl TypedEvent for UnbondingCompleted {
    fn into_event(self) -> Event {
        Event::new("complete_unbonding")
            .attr("amount", format!("{}{BASE_DENOM}", self.amount))
            .attr("validator", self.validator)
            .attr("delegator", self.delegator)
    }
}

/// Matured redelegation entries were removed (kind `complete_redelegation`).
pub struct RedelegationCompleted {
    /// Delegator address.
    pub delegator: String,
    /// Source operator address.
    pub source_validator: String,
    /// Destination operator address.
    pub destination_validator: String,
}

impl TypedEvent for RedelegationCompleted {
    fn into_event(self) -> Event {
        Event::new("complete_redelegation")
            .attr("delegator", self.delegator)
            .attr("source_validator", self.source_validator)
            .attr("destination_validator", self.destination_validator)
    }
}

/// `MsgDelegate` executed (kind `delegate`).
pub struct Delegated {
    /// Operator (valoper) address.
    pub validator: String,
    /// Delegator address.
    pub delegator: String,
    /// Amount delegated (uopen).
    pub amount: u128,
    /// Shares issued.
    pub new_shares: Dec,
}

impl TypedEvent for Delegated {
    fn into_event(self) -> Event {
        Event::new("delegate")
            .attr("validator", self.validator)
            .attr("delegator", self.delegator)
            .attr("amount", format!("{}{BASE_DENOM}", self.amount))
            .attr("new_shares", self.new_shares.to_string())
    }
}

/// `MsgUndelegate` executed (kind `unbond`).
pub struct Unbonded {
    /// Operator (valoper) address.
    pub validator: String,
    /// Delegator address.
    pub delegator: String,
    /// Tokens returned (uopen).
    pub amount: u128,
    /// Completion time (ns since the epoch).
    pub completion_time: u64,
}

impl TypedEvent for Unbonded {
    fn into_event(self) -> Event {
        Event::new("unbond")
            .attr("validator", self.validator)
            .attr("delegator", self.delegator)
            .attr("amount", format!("{}{BASE_DENOM}", self.amount))
            .attr("completion_time", self.completion_time.to_string())
    }
}

/// `MsgBeginRedelegate` executed (kind `redelegate`).
pub struct Redelegated {
    /// Source operator address.
    pub source_validator: String,
    /// Destination operator address.
    pub destination_validator: String,
    /// Amount moved (uopen).
    pub amount: u128,
    /// Completion time (ns since the epoch).
    pub completion_time: u64,
}

impl TypedEvent for Redelegated {
    fn into_event(self) -> Event {
        Event::new("redelegate")
            .attr("source_validator", self.source_validator)
            .attr("destination_validator", self.destination_validator)
            .attr("amount", format!("{}{BASE_DENOM}", self.amount))
            .attr("completion_time", self.completion_time.to_string())
    }
}

/// `MsgCancelUnbondingDelegation` executed (kind `cancel_unbonding_delegation`).
pub struct UnbondingCancelled {
    /// Operator (valoper) address.
    pub validator: String,
    /// Delegator address.
    pub delegator: String,
    /// Amount re-delegated (uopen).
    pub amount: u128,
    /// Height at which the unbonding entry was created.
    pub creation_height: i64,
}

impl TypedEvent for UnbondingCancelled {
    fn into_event(self) -> Event {
        Event::new("cancel_unbonding_delegation")
            .attr("validator", self.validator)
            .attr("delegator", self.delegator)
            .attr("amount", format!("{}{BASE_DENOM}", self.amount))
            .attr("creation_height", self.creation_height.to_string())
    }
}

/// A delegator set its rewards withdraw address (kind `set_withdraw_address`).
pub struct WithdrawAddressSet {
    /// New withdraw address.
    pub withdraw_address: String,
}

impl TypedEvent for WithdrawAddressSet {
    fn into_event(self) -> Event {
        Event::new("set_withdraw_address").attr("withdraw_address", self.withdraw_address)
    }
}

/// A delegation's rewards were paid (kind `withdraw_rewards`).
pub struct RewardsWithdrawn {
    /// Amount paid (uopen).
    pub amount: u128,
    /// Operator (valoper) address.
    pub validator: String,
    /// Delegator address.
    pub delegator: String,
}

impl TypedEvent for RewardsWithdrawn {
    fn into_event(self) -> Event {
        Event::new("withdraw_rewards")
            .attr("amount", format!("{}{BASE_DENOM}", self.amount))
            .attr("validator", self.validator)
            .attr("delegator", self.delegator)
    }
}

/// A validator's commission was paid (kind `withdraw_commission`).
pub struct CommissionWithdrawn {
    /// Amount paid (uopen).
    pub amount: u128,
}

impl TypedEvent for CommissionWithdrawn {
    fn into_event(self) -> Event {
        Event::new("withdraw_commission").attr("amount", format!("{}{BASE_DENOM}", self.amount))
    }
}

/// Block rewards were allocated to a validator (kind `rewards`).
pub struct RewardsAllocated {
    /// Reward credited (decimal uopen, commission included).
    pub amount: Dec,
    /// Operator (valoper) address.
    pub validator: String,
}

impl TypedEvent for RewardsAllocated {
    fn into_event(self) -> Event {
        Event::new("rewards").attr("amount", format!("{}{BASE_DENOM}", self.amount)).attr("validator", self.validator)
    }
}

/// A validator missed signing a block (kind `liveness`).
pub struct Liveness {
    /// Consensus (valcons) address.
    pub address: String,
    /// Missed blocks in the current window.
    pub missed_blocks: i64,
    /// Height of the block.
    pub height: u64,
}

impl TypedEvent for Liveness {
    fn into_event(self) -> Event {
        Event::new("liveness")
            .attr("address", self.address)
            .attr("missed_blocks", self.missed_blocks.to_string())
            .attr("height", self.height.to_string())
    }
}

/// A validator was tombstoned for double signing (kind `tombstone`).
pub struct Tombstoned {
    /// Consensus (valcons) address.
    pub address: String,
}

impl TypedEvent for Tombstoned {
    fn into_event(self) -> Event {
        Event::new("tombstone").attr("address", self.address)
    }
}

/// `MsgUnjail` executed (kind `unjail`).
pub struct Unjailed {
    /// Operator (valoper) address.
    pub validator: String,
    /// Signer (the operator's account address).
    pub sender: String,
}

impl TypedEvent for Unjailed {
    fn into_event(self) -> Event {
        Event::new("unjail").attr("validator", self.validator).attr("sender", self.sender)
    }
}
