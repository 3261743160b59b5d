//! Typed stake events (staking, distribution and slashing), with the SDK's kinds and attribute
//! names (`delegate`, `unbond`, `withdraw_rewards`, `liveness`, …), which explorers and
//! `tx_search` queries rely on. Amounts in uopen are rendered as `{amount}uopen`.

use openledger_core::coin::BASE_DENOM;
use openledger_core::{typed_events, Dec};

typed_events! {
    /// A validator record was registered (kind `create_validator`, emitted by the keeper with the
    /// registration height).
    ValidatorRegistered = "create_validator" {
        /// Operator (valoper) address.
        validator: String,
        /// Block height of the registration.
        height: u64,
    }

    /// `MsgCreateValidator` executed (kind `create_validator`, emitted by the message handler with
    /// the self-bond amount).
    ValidatorCreated = "create_validator" {
        /// Operator (valoper) address.
        validator: String,
        /// Self-delegated amount (uopen).
        amount: u128 => format!("{}{BASE_DENOM}", amount),
    }

    /// `MsgEditValidator` executed.
    ValidatorEdited = "edit_validator" {
        /// Operator (valoper) address.
        validator: String,
    }

    /// A validator was jailed.
    ValidatorJailed = "jail" {
        /// Operator (valoper) address.
        validator: String,
        /// Why (`missing_signature`, `double_sign`, `self_delegation_below_minimum`, …).
        reason: String,
    }

    /// A validator was slashed.
    ValidatorSlashed = "slash" {
        /// Operator (valoper) address.
        address: String,
        /// Power at the infraction.
        power: u64,
        /// Why (`missing_signature`, `double_sign`, …).
        reason: String,
        /// Total tokens burned (uopen, no denom).
        burned: u128,
    }

    /// A validator entered the bonded set.
    ValidatorBonded = "validator_bonded" {
        /// Operator (valoper) address.
        validator: String,
        /// Its consensus power.
        power: u64,
    }

    /// A validator left the bonded set and started unbonding.
    ValidatorUnbonding = "validator_unbonding" {
        /// Operator (valoper) address.
        validator: String,
    }

    /// Matured unbonding entries were paid out (kind `complete_unbonding`).
    UnbondingCompleted = "complete_unbonding" {
        /// Amount paid (uopen).
        amount: u128 => format!("{}{BASE_DENOM}", amount),
        /// Operator (valoper) address.
        validator: String,
        /// Delegator address.
        delegator: String,
    }

    /// Matured redelegation entries were removed (kind `complete_redelegation`).
    RedelegationCompleted = "complete_redelegation" {
        /// Delegator address.
        delegator: String,
        /// Source operator address.
        source_validator: String,
        /// Destination operator address.
        destination_validator: String,
    }

    /// `MsgDelegate` executed (kind `delegate`).
    Delegated = "delegate" {
        /// Operator (valoper) address.
        validator: String,
        /// Delegator address.
        delegator: String,
        /// Amount delegated (uopen).
        amount: u128 => format!("{}{BASE_DENOM}", amount),
        /// Shares issued.
        new_shares: Dec,
    }

    /// `MsgUndelegate` executed (kind `unbond`).
    Unbonded = "unbond" {
        /// Operator (valoper) address.
        validator: String,
        /// Delegator address.
        delegator: String,
        /// Tokens returned (uopen).
        amount: u128 => format!("{}{BASE_DENOM}", amount),
        /// Completion time (ns since the epoch).
        completion_time: u64,
    }

    /// `MsgBeginRedelegate` executed (kind `redelegate`).
    Redelegated = "redelegate" {
        /// Source operator address.
        source_validator: String,
        /// Destination operator address.
        destination_validator: String,
        /// Amount moved (uopen).
        amount: u128 => format!("{}{BASE_DENOM}", amount),
        /// Completion time (ns since the epoch).
        completion_time: u64,
    }

    /// `MsgCancelUnbondingDelegation` executed (kind `cancel_unbonding_delegation`).
    UnbondingCancelled = "cancel_unbonding_delegation" {
        /// Operator (valoper) address.
        validator: String,
        /// Delegator address.
        delegator: String,
        /// Amount re-delegated (uopen).
        amount: u128 => format!("{}{BASE_DENOM}", amount),
        /// Height at which the unbonding entry was created.
        creation_height: i64,
    }

    /// A delegator set its rewards withdraw address (kind `set_withdraw_address`).
    WithdrawAddressSet = "set_withdraw_address" {
        /// New withdraw address.
        withdraw_address: String,
    }

    /// A delegation's rewards were paid (kind `withdraw_rewards`).
    RewardsWithdrawn = "withdraw_rewards" {
        /// Amount paid (uopen).
        amount: u128 => format!("{}{BASE_DENOM}", amount),
        /// Operator (valoper) address.
        validator: String,
        /// Delegator address.
        delegator: String,
    }

    /// A validator's commission was paid (kind `withdraw_commission`).
    CommissionWithdrawn = "withdraw_commission" {
        /// Amount paid (uopen).
        amount: u128 => format!("{}{BASE_DENOM}", amount),
    }

    /// Block rewards were allocated to a validator (kind `rewards`).
    RewardsAllocated = "rewards" {
        /// Reward credited (decimal uopen, commission included).
        amount: Dec => format!("{}{BASE_DENOM}", amount),
        /// Operator (valoper) address.
        validator: String,
    }

    /// A validator missed signing a block (kind `liveness`).
    Liveness = "liveness" {
        /// Consensus (valcons) address.
        address: String,
        /// Missed blocks in the current window.
        missed_blocks: i64,
        /// Height of the block.
        height: u64,
    }

    /// A validator was tombstoned for double signing (kind `tombstone`).
    Tombstoned = "tombstone" {
        /// Consensus (valcons) address.
        address: String,
    }

    /// `MsgUnjail` executed (kind `unjail`).
    Unjailed = "unjail" {
        /// Operator (valoper) address.
        validator: String,
        /// Signer (the operator's account address).
        sender: String,
    }
}
