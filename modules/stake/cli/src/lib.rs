//! CLI of the stake module: `tx staking|distribution|slashing …` and `query staking|distribution|slashing …`,
//! plus `comet show-validator`. Txs go through [`openledger_cli::broadcast`]; queries through
//! CometBFT's `abci_query` on the SDK's gRPC paths.

use base64::Engine;
use clap::Subcommand;
use cosmos_sdk_proto::cosmos::distribution::v1beta1 as dpb;
use cosmos_sdk_proto::cosmos::slashing::v1beta1 as slpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use openledger_core::address::{VALCONS_PREFIX, VALOPER_PREFIX};
use openledger_core::coin::{Coin, BASE_DENOM};
use openledger_core::{Address, Dec};
use openledger_stake::distribution::from_dec_coins;
use openledger_stake::keeper::{ed25519_any, operator_of};
use openledger_stake::params::{dec_from_proto, dec_to_proto};
use serde_json::{json, Value};

use openledger_cli::{broadcast, CommandGroup, ModuleCli, QueryFlags, TxFlags};

/// `tx staking` subcommands.
#[derive(Debug, Subcommand)]
pub enum StakingTx {
    /// Create a validator operated by --from, with this node's consensus key (or --pubkey).
    CreateValidator {
        /// Self-bond, e.g. 1000000000uopen.
        #[arg(long)]
        amount: String,
        /// Moniker.
        #[arg(long)]
        moniker: String,
        /// Commission rate.
        #[arg(long, default_value = "0.1")]
        commission_rate: String,
        /// Max commission rate.
        #[arg(long, default_value = "0.2")]
        commission_max_rate: String,
        /// Max daily commission change.
        #[arg(long, default_value = "0.01")]
        commission_max_change_rate: String,
        /// Minimum self-delegation (uopen).
        #[arg(long, default_value = "1000000")]
        min_self_delegation: String,
        /// Base64 ed25519 consensus key (default: this home's priv_validator_key.json).
        #[arg(long)]
        pubkey: Option<String>,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Edit the validator operated by --from.
    EditValidator {
        /// New moniker.
        #[arg(long)]
        moniker: Option<String>,
        /// New commission rate.
        #[arg(long)]
        commission_rate: Option<String>,
        /// New (higher) minimum self-delegation.
        #[arg(long)]
        min_self_delegation: Option<String>,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Delegate to a validator.
    Delegate {
        /// Validator (openvaloper1…).
        validator: String,
        /// Amount, e.g. 1000000uopen.
        amount: String,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Undelegate (tokens arrive after the unbonding period).
    Unbond {
        /// Validator.
        validator: String,
        /// Amount.
        amount: String,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Move a delegation to another validator.
    Redelegate {
        /// Source validator.
        src: String,
        /// Destination validator.
        dst: String,
        /// Amount.
        amount: String,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Cancel (part of) an unbonding started at CREATION_HEIGHT.
    CancelUnbond {
        /// Validator.
        validator: String,
        /// Amount.
        amount: String,
        /// Height the unbonding started.
        creation_height: i64,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `tx distribution` subcommands.
#[derive(Debug, Subcommand)]
pub enum DistributionTx {
    /// Withdraw rewards from a validator (and its commission with --commission).
    WithdrawRewards {
        /// Validator.
        validator: String,
        /// Also withdraw the validator's commission (--from must operate it).
        #[arg(long)]
        commission: bool,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Send future rewards to another address.
    SetWithdrawAddr {
        /// Address.
        address: String,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Give coins to the community pool.
    FundCommunityPool {
        /// Amount.
        amount: String,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `tx slashing` subcommands.
#[derive(Debug, Subcommand)]
pub enum SlashingTx {
    /// Unjail the validator operated by --from.
    Unjail {
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `query staking` subcommands.
#[derive(Debug, Subcommand)]
pub enum StakingQuery {
    /// All validators.
    Validators {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// One validator.
    Validator {
        /// Validator.
        validator: String,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// One delegation.
    Delegation {
        /// Delegator.
        delegator: String,
        /// Validator.
        validator: String,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Delegations of a delegator.
    Delegations {
        /// Delegator.
        delegator: String,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// An unbonding delegation.
    UnbondingDelegation {
        /// Delegator.
        delegator: String,
        /// Validator.
        validator: String,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Bonded and not-bonded pools.
    Pool {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

/// `query distribution` subcommands.
#[derive(Debug, Subcommand)]
pub enum DistributionQuery {
    /// Pending rewards of a delegator (all validators, or one).
    Rewards {
        /// Delegator.
        delegator: String,
        /// Only this validator.
        validator: Option<String>,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Accumulated commission of a validator.
    Commission {
        /// Validator.
        validator: String,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// The community pool.
    CommunityPool {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

/// `query slashing` subcommands.
#[derive(Debug, Subcommand)]
pub enum SlashingQuery {
    /// Liveness record of a validator (consensus address openvalcons1…, or operator openvaloper1…).
    SigningInfo {
        /// Address.
        address: String,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

use openledger_cli::pack_named as pack;

fn one_coin(text: &str) -> anyhow::Result<cosmos_sdk_proto::cosmos::base::v1beta1::Coin> {
    let c = Coin::parse(text)?;
    Ok(c.to_proto())
}

fn dec_atomics(text: &str) -> anyhow::Result<String> {
    Ok(dec_to_proto(Dec::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?))
}

/// This home's consensus public key (base64) from `priv_validator_key.json`.
pub fn home_consensus_pubkey(home: &std::path::Path) -> anyhow::Result<String> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(home.join("config/priv_validator_key.json"))?)?;
    v["pub_key"]["value"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("priv_validator_key.json has no pub_key"))
}

/// Runs a `tx staking` command.
pub fn staking_tx(home: &std::path::Path, cmd: StakingTx) -> anyhow::Result<()> {
    match cmd {
        StakingTx::CreateValidator {
            amount,
            moniker,
            commission_rate,
            commission_max_rate,
            commission_max_change_rate,
            min_self_delegation,
            pubkey,
            from,
            flags,
        } => {
            let key = flags.signer(home, &from)?;
            let pubkey = match pubkey {
                Some(p) => p,
                None => home_consensus_pubkey(home)?,
            };
            let raw = base64::engine::general_purpose::STANDARD.decode(&pubkey)?;
            #[allow(deprecated)]
            let msg = spb::MsgCreateValidator {
                description: Some(spb::Description { moniker, ..Default::default() }),
                commission: Some(spb::CommissionRates {
                    rate: dec_atomics(&commission_rate)?,
                    max_rate: dec_atomics(&commission_max_rate)?,
                    max_change_rate: dec_atomics(&commission_max_change_rate)?,
                }),
                min_self_delegation,
                delegator_address: String::new(),
                validator_address: operator_of(&key.address()),
                pubkey: Some(ed25519_any(&raw)),
                value: Some(one_coin(&amount)?),
            };
            broadcast(&key, vec![pack(&msg)], &flags)
        }
        StakingTx::EditValidator { moniker, commission_rate, min_self_delegation, from, flags } => {
            let key = flags.signer(home, &from)?;
            let keep = "[do-not-modify]".to_string();
            let msg = spb::MsgEditValidator {
                description: Some(spb::Description {
                    moniker: moniker.unwrap_or_else(|| keep.clone()),
                    identity: keep.clone(),
                    website: keep.clone(),
                    security_contact: keep.clone(),
                    details: keep,
                }),
                validator_address: operator_of(&key.address()),
                commission_rate: commission_rate.map(|r| dec_atomics(&r)).transpose()?.unwrap_or_default(),
                min_self_delegation: min_self_delegation.unwrap_or_default(),
            };
            broadcast(&key, vec![pack(&msg)], &flags)
        }
        StakingTx::Delegate { validator, amount, from, flags } => {
            let key = flags.signer(home, &from)?;
            let msg = spb::MsgDelegate {
                delegator_address: key.address().to_bech32(),
                validator_address: validator,
                amount: Some(one_coin(&amount)?),
            };
            broadcast(&key, vec![pack(&msg)], &flags)
        }
        StakingTx::Unbond { validator, amount, from, flags } => {
            let key = flags.signer(home, &from)?;
            let msg = spb::MsgUndelegate {
                delegator_address: key.address().to_bech32(),
                validator_address: validator,
                amount: Some(one_coin(&amount)?),
            };
            broadcast(&key, vec![pack(&msg)], &flags)
        }
        StakingTx::Redelegate { src, dst, amount, from, flags } => {
            let key = flags.signer(home, &from)?;
            let msg = spb::MsgBeginRedelegate {
                delegator_address: key.address().to_bech32(),
                validator_src_address: src,
                validator_dst_address: dst,
                amount: Some(one_coin(&amount)?),
            };
            broadcast(&key, vec![pack(&msg)], &flags)
        }
        StakingTx::CancelUnbond { validator, amount, creation_height, from, flags } => {
            let key = flags.signer(home, &from)?;
            let msg = spb::MsgCancelUnbondingDelegation {
                delegator_address: key.address().to_bech32(),
                validator_address: validator,
                amount: Some(one_coin(&amount)?),
                creation_height,
            };
            broadcast(&key, vec![pack(&msg)], &flags)
        }
    }
}

/// Runs a `tx distribution` command.
pub fn distribution_tx(home: &std::path::Path, cmd: DistributionTx) -> anyhow::Result<()> {
    match cmd {
        DistributionTx::WithdrawRewards { validator, commission, from, flags } => {
            let key = flags.signer(home, &from)?;
            let mut msgs = vec![pack(&dpb::MsgWithdrawDelegatorReward {
                delegator_address: key.address().to_bech32(),
                validator_address: validator.clone(),
            })];
            if commission {
                msgs.push(pack(&dpb::MsgWithdrawValidatorCommission { validator_address: validator }));
            }
            broadcast(&key, msgs, &flags)
        }
        DistributionTx::SetWithdrawAddr { address, from, flags } => {
            let key = flags.signer(home, &from)?;
            broadcast(
                &key,
                vec![pack(&dpb::MsgSetWithdrawAddress { delegator_address: key.address().to_bech32(), withdraw_address: address })],
                &flags,
            )
        }
        DistributionTx::FundCommunityPool { amount, from, flags } => {
            let key = flags.signer(home, &from)?;
            broadcast(
                &key,
                vec![pack(&dpb::MsgFundCommunityPool { amount: vec![one_coin(&amount)?], depositor: key.address().to_bech32() })],
                &flags,
            )
        }
    }
}

/// Runs a `tx slashing` command.
pub fn slashing_tx(home: &std::path::Path, cmd: SlashingTx) -> anyhow::Result<()> {
    let SlashingTx::Unjail { from, flags } = cmd;
    let key = flags.signer(home, &from)?;
    broadcast(&key, vec![pack(&slpb::MsgUnjail { validator_addr: operator_of(&key.address()) })], &flags)
}

use openledger_cli::query_proto as query;

fn dotted(text: &str) -> String {
    dec_from_proto(text).map(|d| d.to_string()).unwrap_or_default()
}

/// JSON of a validator, as the SDK's REST writes it.
pub fn validator_json(v: &spb::Validator) -> Value {
    let rates = v.commission.as_ref().and_then(|c| c.commission_rates.clone()).unwrap_or_default();
    json!({
        "operator_address": v.operator_address,
        "jailed": v.jailed,
        "status": spb::BondStatus::try_from(v.status).map(|s| s.as_str_name()).unwrap_or("BOND_STATUS_UNSPECIFIED"),
        "tokens": v.tokens,
        "delegator_shares": dotted(&v.delegator_shares),
        "description": {"moniker": v.description.as_ref().map(|d| d.moniker.clone()).unwrap_or_default()},
        "commission": {"commission_rates": {"rate": dotted(&rates.rate), "max_rate": dotted(&rates.max_rate), "max_change_rate": dotted(&rates.max_change_rate)}},
        "min_self_delegation": v.min_self_delegation,
    })
}

fn delegation_json(d: &spb::DelegationResponse) -> Value {
    let del = d.delegation.clone().unwrap_or_default();
    let bal = d.balance.clone().unwrap_or_default();
    json!({"delegation": {"delegator_address": del.delegator_address, "validator_address": del.validator_address, "shares": dotted(&del.shares)}, "balance": {"denom": bal.denom, "amount": bal.amount}})
}

fn dec_coins_json(coins: &[cosmos_sdk_proto::cosmos::base::v1beta1::DecCoin]) -> Value {
    json!([{"denom": BASE_DENOM, "amount": from_dec_coins(coins).to_string()}])
}

/// Runs a `query staking` command.
pub fn staking_query(cmd: StakingQuery) -> anyhow::Result<()> {
    let out = match cmd {
        StakingQuery::Validators { flags } => {
            let r: spb::QueryValidatorsResponse =
                query(&flags, "/cosmos.staking.v1beta1.Query/Validators", &spb::QueryValidatorsRequest::default())?;
            json!({"validators": r.validators.iter().map(validator_json).collect::<Vec<_>>()})
        }
        StakingQuery::Validator { validator, flags } => {
            let r: spb::QueryValidatorResponse =
                query(&flags, "/cosmos.staking.v1beta1.Query/Validator", &spb::QueryValidatorRequest { validator_addr: validator })?;
            validator_json(&r.validator.unwrap_or_default())
        }
        StakingQuery::Delegation { delegator, validator, flags } => {
            let r: spb::QueryDelegationResponse = query(
                &flags,
                "/cosmos.staking.v1beta1.Query/Delegation",
                &spb::QueryDelegationRequest { delegator_addr: delegator, validator_addr: validator },
            )?;
            delegation_json(&r.delegation_response.unwrap_or_default())
        }
        StakingQuery::Delegations { delegator, flags } => {
            let r: spb::QueryDelegatorDelegationsResponse = query(
                &flags,
                "/cosmos.staking.v1beta1.Query/DelegatorDelegations",
                &spb::QueryDelegatorDelegationsRequest { delegator_addr: delegator, pagination: None },
            )?;
            json!({"delegation_responses": r.delegation_responses.iter().map(delegation_json).collect::<Vec<_>>()})
        }
        StakingQuery::UnbondingDelegation { delegator, validator, flags } => {
            let r: spb::QueryUnbondingDelegationResponse = query(
                &flags,
                "/cosmos.staking.v1beta1.Query/UnbondingDelegation",
                &spb::QueryUnbondingDelegationRequest { delegator_addr: delegator, validator_addr: validator },
            )?;
            let u = r.unbond.unwrap_or_default();
            json!({"delegator_address": u.delegator_address, "validator_address": u.validator_address, "entries": u.entries.iter().map(|e| json!({
                "creation_height": e.creation_height.to_string(), "initial_balance": e.initial_balance, "balance": e.balance,
                "completion_time_unix": e.completion_time.as_ref().map(|t| t.seconds).unwrap_or_default().to_string(),
            })).collect::<Vec<_>>()})
        }
        StakingQuery::Pool { flags } => {
            let r: spb::QueryPoolResponse = query(&flags, "/cosmos.staking.v1beta1.Query/Pool", &spb::QueryPoolRequest {})?;
            let p = r.pool.unwrap_or_default();
            json!({"not_bonded_tokens": p.not_bonded_tokens, "bonded_tokens": p.bonded_tokens})
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Runs a `query distribution` command.
pub fn distribution_query(cmd: DistributionQuery) -> anyhow::Result<()> {
    let out = match cmd {
        DistributionQuery::Rewards { delegator, validator: Some(validator), flags } => {
            let r: dpb::QueryDelegationRewardsResponse = query(
                &flags,
                "/cosmos.distribution.v1beta1.Query/DelegationRewards",
                &dpb::QueryDelegationRewardsRequest { delegator_address: delegator, validator_address: validator },
            )?;
            json!({"rewards": dec_coins_json(&r.rewards)})
        }
        DistributionQuery::Rewards { delegator, validator: None, flags } => {
            let r: dpb::QueryDelegationTotalRewardsResponse = query(
                &flags,
                "/cosmos.distribution.v1beta1.Query/DelegationTotalRewards",
                &dpb::QueryDelegationTotalRewardsRequest { delegator_address: delegator },
            )?;
            json!({"rewards": r.rewards.iter().map(|x| json!({"validator_address": x.validator_address, "reward": dec_coins_json(&x.reward)})).collect::<Vec<_>>(), "total": dec_coins_json(&r.total)})
        }
        DistributionQuery::Commission { validator, flags } => {
            let r: dpb::QueryValidatorCommissionResponse = query(
                &flags,
                "/cosmos.distribution.v1beta1.Query/ValidatorCommission",
                &dpb::QueryValidatorCommissionRequest { validator_address: validator },
            )?;
            json!({"commission": dec_coins_json(&r.commission.unwrap_or_default().commission)})
        }
        DistributionQuery::CommunityPool { flags } => {
            let r: dpb::QueryCommunityPoolResponse =
                query(&flags, "/cosmos.distribution.v1beta1.Query/CommunityPool", &dpb::QueryCommunityPoolRequest {})?;
            json!({"pool": dec_coins_json(&r.pool)})
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Runs a `query slashing` command.
pub fn slashing_query(cmd: SlashingQuery) -> anyhow::Result<()> {
    let SlashingQuery::SigningInfo { address, flags } = cmd;
    let cons = if address.starts_with(VALOPER_PREFIX) {
        let r: spb::QueryValidatorResponse =
            query(&flags, "/cosmos.staking.v1beta1.Query/Validator", &spb::QueryValidatorRequest { validator_addr: address })?;
        let v = r.validator.unwrap_or_default();
        let key = openledger_stake::keeper::consensus_key(&v).ok_or_else(|| anyhow::anyhow!("validator has no ed25519 key"))?;
        Address::from_bytes(&openledger_stake::keeper::consensus_address(&key))?.to_bech32_prefixed(VALCONS_PREFIX)
    } else {
        address
    };
    let r: slpb::QuerySigningInfoResponse =
        query(&flags, "/cosmos.slashing.v1beta1.Query/SigningInfo", &slpb::QuerySigningInfoRequest { cons_address: cons })?;
    let i = r.val_signing_info.unwrap_or_default();
    let out = json!({"address": i.address, "start_height": i.start_height.to_string(), "index_offset": i.index_offset.to_string(),
        "jailed_until_unix": i.jailed_until.map(|t| t.seconds).unwrap_or_default().to_string(), "tombstoned": i.tombstoned, "missed_blocks_counter": i.missed_blocks_counter.to_string()});
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `comet show-validator`: this node's consensus key as CometBFT and the SDK print it.
pub fn show_validator(home: &std::path::Path) -> anyhow::Result<()> {
    let key = home_consensus_pubkey(home)?;
    println!("{}", json!({"@type": "/cosmos.crypto.ed25519.PubKey", "key": key}));
    Ok(())
}

/// Stake's `tx` and `query` groups (staking, distribution, slashing).
pub struct StakeCli;

impl ModuleCli for StakeCli {
    fn tx(&self) -> Vec<CommandGroup> {
        vec![
            CommandGroup::new("staking", "Staking transactions.", staking_tx),
            CommandGroup::new("distribution", "Distribution transactions.", distribution_tx),
            CommandGroup::new("slashing", "Slashing transactions.", slashing_tx),
        ]
    }
    fn query(&self) -> Vec<CommandGroup> {
        vec![
            CommandGroup::new("staking", "Staking queries.", |_, cmd| staking_query(cmd)),
            CommandGroup::new("distribution", "Distribution queries.", |_, cmd| distribution_query(cmd)),
            CommandGroup::new("slashing", "Slashing queries.", |_, cmd| slashing_query(cmd)),
        ]
    }
}
