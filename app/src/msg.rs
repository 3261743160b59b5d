//! The one exhaustive message router: `Any.type_url` → typed [`Msg`], and for each variant its
//! stateless check, signers, amino JSON form and execution. Adding a module means adding
//! variants here; the compiler then points at every place that must handle them.

use cosmos_sdk_proto::cosmos::bank::v1beta1::{MsgMultiSend, MsgMultiSendResponse, MsgSend, MsgSendResponse};
use cosmos_sdk_proto::cosmos::distribution::v1beta1 as dpb;
use cosmos_sdk_proto::cosmos::gov::v1 as govpb;
use cosmos_sdk_proto::cosmos::gov::v1beta1 as gov1b1;
use cosmos_sdk_proto::cosmos::slashing::v1beta1 as slpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use cosmos_sdk_proto::cosmos::upgrade::v1beta1 as upb;
use cosmos_sdk_proto::Any;
use openledger_attribution::msg as attribution_msg;
use openledger_bank::msg::{MultiSend, Send};
use openledger_core::address::VALOPER_PREFIX;
use openledger_core::amino::{coin_amino, AminoObject};
use openledger_core::block::ns_timestamp;
use openledger_core::error::sdk_codes;
use openledger_core::{AbciError, Address, ErrorCode, StateWrite};
use openledger_datanet::msg as datanet_msg;
use openledger_datanet::DatanetError;
use openledger_gov::GovError;
use openledger_inference::msg as inference_msg;
use openledger_model::msg as model_msg;
use openledger_model::ModelError;
use openledger_stake::msg as stake_msg;
use openledger_stake::StakeError;
use prost::{Message, Name};
use serde_json::{json, Value};

use crate::amino::coins_json;
use crate::modules::Modules;

/// Every message the chain accepts, already validated (`ValidateBasic`).
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// `cosmos.bank.v1beta1.MsgSend`
    BankSend(Send),
    /// `cosmos.bank.v1beta1.MsgMultiSend`
    BankMultiSend(MultiSend),
    /// `cosmos.staking.v1beta1.MsgCreateValidator`
    CreateValidator(stake_msg::CreateValidator),
    /// `cosmos.staking.v1beta1.MsgEditValidator`
    EditValidator(spb::MsgEditValidator),
    /// `cosmos.staking.v1beta1.MsgDelegate`
    Delegate(spb::MsgDelegate),
    /// `cosmos.staking.v1beta1.MsgUndelegate`
    Undelegate(spb::MsgUndelegate),
    /// `cosmos.staking.v1beta1.MsgBeginRedelegate`
    Redelegate(spb::MsgBeginRedelegate),
    /// `cosmos.staking.v1beta1.MsgCancelUnbondingDelegation`
    CancelUnbonding(spb::MsgCancelUnbondingDelegation),
    /// `cosmos.distribution.v1beta1.MsgWithdrawDelegatorReward`
    WithdrawReward(dpb::MsgWithdrawDelegatorReward),
    /// `cosmos.distribution.v1beta1.MsgWithdrawValidatorCommission`
    WithdrawCommission(dpb::MsgWithdrawValidatorCommission),
    /// `cosmos.distribution.v1beta1.MsgSetWithdrawAddress`
    SetWithdrawAddress(dpb::MsgSetWithdrawAddress),
    /// `cosmos.distribution.v1beta1.MsgFundCommunityPool`
    FundCommunityPool(dpb::MsgFundCommunityPool),
    /// `cosmos.slashing.v1beta1.MsgUnjail`
    Unjail(slpb::MsgUnjail),
    /// `openledger.datanet.v1.MsgCreateDatanet`
    CreateDatanet(datanet_msg::CreateDatanet),
    /// `openledger.datanet.v1.MsgUpdateDatanet`
    UpdateDatanet(datanet_msg::UpdateDatanet),
    /// `openledger.datanet.v1.MsgSubmitContribution`
    SubmitContribution(datanet_msg::SubmitContribution),
    /// `openledger.datanet.v1.MsgReviewContribution`
    ReviewContribution(datanet_msg::ReviewContribution),
    /// `openledger.datanet.v1.MsgPublishVersion`
    PublishVersion(datanet_msg::PublishVersion),
    /// `openledger.datanet.v1.MsgDelistDatanet` (governance only)
    DelistDatanet(datanet_msg::DelistDatanet),
    /// `openledger.datanet.v1.MsgDelistRow` (governance only)
    DelistRow(datanet_msg::DelistRow),
    /// `openledger.model.v1.MsgRegisterBaseModel`
    RegisterBaseModel(model_msg::RegisterBaseModel),
    /// `openledger.model.v1.MsgRegisterAdapter`
    RegisterAdapter(model_msg::RegisterAdapter),
    /// `openledger.model.v1.MsgSetInferencePrice`
    SetInferencePrice(model_msg::SetInferencePrice),
    /// `openledger.model.v1.MsgDelistBaseModel` (governance only)
    DelistBaseModel(model_msg::DelistBaseModel),
    /// `openledger.model.v1.MsgDelistAdapter` (governance only)
    DelistAdapter(model_msg::DelistAdapter),
    /// `openledger.inference.v1.MsgRequestInference`
    RequestInference(inference_msg::RequestInference),
    /// `openledger.inference.v1.MsgRegisterExecutor`
    RegisterExecutor(inference_msg::RegisterExecutor),
    /// `cosmos.gov.v1.MsgSubmitProposal`
    GovSubmitProposal(govpb::MsgSubmitProposal),
    /// `cosmos.gov.v1.MsgDeposit` (also `cosmos.gov.v1beta1.MsgDeposit`, same fields)
    GovDeposit(govpb::MsgDeposit, GovVersion),
    /// `cosmos.gov.v1.MsgVote` / `MsgVoteWeighted` (and the v1beta1 `MsgVote`), as weighted options
    GovVote(GovVote),
    /// A module's `MsgUpdateParams` (gov authority only)
    UpdateParams(ParamsUpdate),
    /// `cosmos.distribution.v1beta1.MsgCommunityPoolSpend` (gov authority only)
    CommunityPoolSpend(dpb::MsgCommunityPoolSpend),
    /// `cosmos.upgrade.v1beta1.MsgSoftwareUpgrade` (gov authority only)
    SoftwareUpgrade(upb::MsgSoftwareUpgrade),
    /// `cosmos.upgrade.v1beta1.MsgCancelUpgrade` (gov authority only)
    CancelUpgrade(upb::MsgCancelUpgrade),
}

/// `MsgUpdateParams` of each module whose parameters governance changes.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamsUpdate {
    /// `cosmos.auth.v1beta1.MsgUpdateParams`
    Auth(cosmos_sdk_proto::cosmos::auth::v1beta1::MsgUpdateParams),
    /// `cosmos.bank.v1beta1.MsgUpdateParams`
    Bank(cosmos_sdk_proto::cosmos::bank::v1beta1::MsgUpdateParams),
    /// `cosmos.staking.v1beta1.MsgUpdateParams`
    Staking(spb::MsgUpdateParams),
    /// `cosmos.distribution.v1beta1.MsgUpdateParams`
    Distribution(dpb::MsgUpdateParams),
    /// `cosmos.slashing.v1beta1.MsgUpdateParams`
    Slashing(slpb::MsgUpdateParams),
    /// `cosmos.gov.v1.MsgUpdateParams`
    Gov(Box<govpb::MsgUpdateParams>),
    /// `openledger.datanet.v1.MsgUpdateParams` (the curation standards)
    Datanet(openledger_proto::openledger::datanet::v1::MsgUpdateParams),
    /// `openledger.inference.v1.MsgUpdateParams` (fee split, deadlines, determinism profile)
    Inference(openledger_proto::openledger::inference::v1::MsgUpdateParams),
    /// `openledger.attribution.v1.MsgUpdateParams` (min span length, scored output, index size)
    Attribution(openledger_proto::openledger::attribution::v1::MsgUpdateParams),
}

fn duration_amino(d: Option<&tendermint_proto::google::protobuf::Duration>) -> Value {
    let (seconds, nanos) = d.map_or((0, 0), |d| (d.seconds, d.nanos));
    let total = i128::from(seconds).saturating_mul(1_000_000_000).saturating_add(i128::from(nanos));
    Value::String(total.to_string())
}

/// Proto coins as amino JSON (`[{"amount","denom"}]`, `[]` when empty).
fn proto_coins_json(coins: &[cosmos_sdk_proto::cosmos::base::v1beta1::Coin]) -> Value {
    Value::Array(coins.iter().map(|c| json!({"amount": c.amount, "denom": c.denom})).collect())
}

fn invalid_params(text: impl Into<String>) -> AbciError {
    AbciError::sdk(sdk_codes::INVALID_REQUEST, format!("{}: invalid request", text.into()))
}

impl ParamsUpdate {
    fn authority(&self) -> &str {
        match self {
            Self::Auth(m) => &m.authority,
            Self::Bank(m) => &m.authority,
            Self::Staking(m) => &m.authority,
            Self::Distribution(m) => &m.authority,
            Self::Slashing(m) => &m.authority,
            Self::Gov(m) => &m.authority,
            Self::Datanet(m) => &m.authority,
            Self::Inference(m) => &m.authority,
            Self::Attribution(m) => &m.authority,
        }
    }

    fn type_url(&self) -> String {
        match self {
            Self::Auth(_) => type_url::<cosmos_sdk_proto::cosmos::auth::v1beta1::MsgUpdateParams>(),
            Self::Bank(_) => type_url::<cosmos_sdk_proto::cosmos::bank::v1beta1::MsgUpdateParams>(),
            Self::Staking(_) => type_url::<spb::MsgUpdateParams>(),
            Self::Distribution(_) => type_url::<dpb::MsgUpdateParams>(),
            Self::Slashing(_) => type_url::<slpb::MsgUpdateParams>(),
            Self::Gov(_) => type_url::<govpb::MsgUpdateParams>(),
            Self::Datanet(_) => DATANET_MSG_UPDATE_PARAMS.to_string(),
            Self::Inference(_) => inference_msg::MSG_UPDATE_PARAMS.to_string(),
            Self::Attribution(_) => attribution_msg::MSG_UPDATE_PARAMS.to_string(),
        }
    }

    fn module(&self) -> &'static str {
        match self {
            Self::Auth(_) => "auth",
            Self::Bank(_) => "bank",
            Self::Staking(_) => "staking",
            Self::Distribution(_) => "distribution",
            Self::Slashing(_) => "slashing",
            Self::Gov(_) => "gov",
            Self::Datanet(_) => "datanet",
            Self::Inference(_) => "inference",
            Self::Attribution(_) => "attribution",
        }
    }

    fn amino_name(&self) -> &'static str {
        match self {
            Self::Auth(_) => "cosmos-sdk/x/auth/MsgUpdateParams",
            Self::Bank(_) => "cosmos-sdk/x/bank/MsgUpdateParams",
            Self::Staking(_) => "cosmos-sdk/x/staking/MsgUpdateParams",
            Self::Distribution(_) => "cosmos-sdk/distribution/MsgUpdateParams",
            Self::Slashing(_) => "cosmos-sdk/x/slashing/MsgUpdateParams",
            Self::Gov(_) => "cosmos-sdk/x/gov/v1/MsgUpdateParams",
            Self::Datanet(_) => "openledger/x/datanet/MsgUpdateParams",
            Self::Inference(_) => "openledger/x/inference/MsgUpdateParams",
            Self::Attribution(_) => attribution_msg::AMINO_UPDATE_PARAMS,
        }
    }

    /// The `params` object of the amino JSON form, by the SDK's legacy amino rules: proto field
    /// names; zero scalars omitted unless the SDK marks them `dont_omitempty` (non-nullable
    /// `LegacyDec`s and durations); 64-bit integers and durations (nanoseconds) as strings;
    /// 32-bit integers as numbers; `LegacyDec`s with 18 decimals. A nested `Params` is a plain
    /// object (only interface values, the messages themselves, get `{"type","value"}`).
    #[allow(deprecated)] // bank `send_enabled` and the distribution proposer rewards are signed too
    fn params_amino(&self) -> Value {
        let dec = |text: &str| Value::String(openledger_stake::params::dec_from_proto(text).unwrap_or_default().to_string());
        let dec_bytes = |b: &[u8]| Value::String(openledger_stake::params::dec_from_bytes(b).to_string());
        match self {
            Self::Auth(m) => {
                let p = m.params.clone().unwrap_or_default();
                AminoObject::default()
                    .u64("max_memo_characters", p.max_memo_characters)
                    .u64("tx_sig_limit", p.tx_sig_limit)
                    .u64("tx_size_cost_per_byte", p.tx_size_cost_per_byte)
                    .u64("sig_verify_cost_ed25519", p.sig_verify_cost_ed25519)
                    .u64("sig_verify_cost_secp256k1", p.sig_verify_cost_secp256k1)
                    .build()
            }
            Self::Bank(m) => {
                let p = m.params.clone().unwrap_or_default();
                let send_enabled: Vec<Value> = p
                    .send_enabled
                    .iter()
                    .map(|e| AminoObject::default().str("denom", &e.denom).bool("enabled", e.enabled).build())
                    .collect();
                AminoObject::default().list("send_enabled", send_enabled).bool("default_send_enabled", p.default_send_enabled).build()
            }
            Self::Staking(m) => {
                let p = m.params.clone().unwrap_or_default();
                AminoObject::default()
                    .value("unbonding_time", duration_amino(p.unbonding_time.as_ref()))
                    .num("max_validators", p.max_validators.into())
                    .num("max_entries", p.max_entries.into())
                    .num("historical_entries", p.historical_entries.into())
                    .str("bond_denom", &p.bond_denom)
                    .value("min_commission_rate", dec(&p.min_commission_rate))
                    .build()
            }
            Self::Distribution(m) => {
                let p = m.params.clone().unwrap_or_default();
                AminoObject::default()
                    .value("community_tax", dec(&p.community_tax))
                    .value("base_proposer_reward", dec(&p.base_proposer_reward))
                    .value("bonus_proposer_reward", dec(&p.bonus_proposer_reward))
                    .bool("withdraw_addr_enabled", p.withdraw_addr_enabled)
                    .build()
            }
            Self::Slashing(m) => {
                let p = m.params.clone().unwrap_or_default();
                AminoObject::default()
                    .i64("signed_blocks_window", p.signed_blocks_window)
                    .value("min_signed_per_window", dec_bytes(&p.min_signed_per_window))
                    .value("downtime_jail_duration", duration_amino(p.downtime_jail_duration.as_ref()))
                    .value("slash_fraction_double_sign", dec_bytes(&p.slash_fraction_double_sign))
                    .value("slash_fraction_downtime", dec_bytes(&p.slash_fraction_downtime))
                    .build()
            }
            Self::Gov(m) => {
                let p = m.params.clone().unwrap_or_default();
                let opt_duration =
                    |d: Option<&tendermint_proto::google::protobuf::Duration>| d.map_or(Value::Null, |d| duration_amino(Some(d)));
                AminoObject::default()
                    .value("min_deposit", proto_coins_json(&p.min_deposit))
                    .value("max_deposit_period", opt_duration(p.max_deposit_period.as_ref()))
                    .value("voting_period", opt_duration(p.voting_period.as_ref()))
                    .str("quorum", &p.quorum)
                    .str("threshold", &p.threshold)
                    .str("veto_threshold", &p.veto_threshold)
                    .str("min_initial_deposit_ratio", &p.min_initial_deposit_ratio)
                    .str("proposal_cancel_ratio", &p.proposal_cancel_ratio)
                    .str("proposal_cancel_dest", &p.proposal_cancel_dest)
                    .value("expedited_voting_period", opt_duration(p.expedited_voting_period.as_ref()))
                    .str("expedited_threshold", &p.expedited_threshold)
                    .value("expedited_min_deposit", proto_coins_json(&p.expedited_min_deposit))
                    .bool("burn_vote_quorum", p.burn_vote_quorum)
                    .bool("burn_proposal_deposit_prevote", p.burn_proposal_deposit_prevote)
                    .bool("burn_vote_veto", p.burn_vote_veto)
                    .str("min_deposit_ratio", &p.min_deposit_ratio)
                    .build()
            }
            Self::Datanet(m) => {
                let p = m.params.clone().unwrap_or_default();
                AminoObject::default()
                    .u64("max_rows_per_contribution", p.max_rows_per_contribution)
                    .u64("max_row_bytes_cap", p.max_row_bytes_cap)
                    .num("max_curators", p.max_curators.into())
                    .value("min_contribution_bond", coin_amino(p.min_contribution_bond.as_ref()))
                    .build()
            }
            Self::Inference(m) => {
                let p = m.params.clone().unwrap_or_default();
                let profile = p.profile.unwrap_or_default();
                let split = p.fee_split.unwrap_or_default();
                AminoObject::default()
                    .u64("deadline_blocks", p.deadline_blocks)
                    .num("max_prompt_bytes", p.max_prompt_bytes.into())
                    .num("max_tokens_cap", p.max_tokens_cap.into())
                    .value(
                        "profile",
                        AminoObject::default()
                            .str("dtype", &profile.dtype)
                            .num("sampling", profile.sampling.into())
                            .num("temperature_milli", profile.temperature_milli.into())
                            .num("top_k", profile.top_k.into())
                            .num("max_tokens", profile.max_tokens.into())
                            .bool("prefix_cache", profile.prefix_cache)
                            .num("batching", profile.batching.into())
                            .build(),
                    )
                    .value(
                        "fee_split",
                        AminoObject::default()
                            .num("contributors_bps", split.contributors_bps.into())
                            .num("owner_bps", split.owner_bps.into())
                            .num("executors_bps", split.executors_bps.into())
                            .num("community_bps", split.community_bps.into())
                            .build(),
                    )
                    .str("wrong_result_slash_fraction", &p.wrong_result_slash_fraction)
                    .num("max_requests_per_block", p.max_requests_per_block.into())
                    .num("max_models_per_executor", p.max_models_per_executor.into())
                    .build()
            }
            Self::Attribution(m) => attribution_msg::params_amino(&m.params.unwrap_or_default()),
        }
    }

    /// Stateless checks of the new params (`Params.Validate`).
    fn check(&self) -> Result<(), AbciError> {
        account_field("authority", self.authority())?;
        match self {
            Self::Auth(m) => {
                let p = m.params.as_ref().ok_or_else(|| invalid_params("params cannot be empty"))?;
                if p.max_memo_characters == 0 || p.tx_sig_limit == 0 || p.tx_size_cost_per_byte == 0 {
                    return Err(invalid_params("auth params must be positive"));
                }
            }
            Self::Bank(m) => {
                m.params.as_ref().ok_or_else(|| invalid_params("params cannot be empty"))?;
            }
            Self::Staking(m) => {
                let p = m.params.as_ref().ok_or_else(|| invalid_params("params cannot be empty"))?;
                if p.bond_denom != openledger_core::coin::BASE_DENOM {
                    return Err(invalid_params(format!("bond denom must stay {}", openledger_core::coin::BASE_DENOM)));
                }
                if p.max_validators == 0 || p.max_entries == 0 {
                    return Err(invalid_params("max validators and max entries must be positive"));
                }
                if openledger_stake::params::duration_ns(p.unbonding_time.as_ref()) == 0 {
                    return Err(invalid_params("unbonding time must be positive"));
                }
                match openledger_stake::params::dec_from_proto(&p.min_commission_rate) {
                    Some(d) if d <= openledger_core::Dec::ONE => {}
                    _ => return Err(invalid_params("min commission rate must be within [0, 1]")),
                }
            }
            Self::Distribution(m) => {
                let p = m.params.as_ref().ok_or_else(|| invalid_params("params cannot be empty"))?;
                match openledger_stake::params::dec_from_proto(&p.community_tax) {
                    Some(d) if d <= openledger_core::Dec::ONE => {}
                    _ => return Err(invalid_params("community tax must be within [0, 1]")),
                }
            }
            Self::Slashing(m) => {
                let p = m.params.as_ref().ok_or_else(|| invalid_params("params cannot be empty"))?;
                if p.signed_blocks_window <= 0 {
                    return Err(invalid_params("signed blocks window must be positive"));
                }
                for f in [&p.min_signed_per_window, &p.slash_fraction_double_sign, &p.slash_fraction_downtime] {
                    if openledger_stake::params::dec_from_bytes(f) > openledger_core::Dec::ONE {
                        return Err(invalid_params("slashing fractions must be within [0, 1]"));
                    }
                }
            }
            Self::Gov(m) => {
                let p = m.params.as_ref().ok_or_else(|| invalid_params("params cannot be empty"))?;
                openledger_gov::params::validate(p).map_err(gov_err)?;
            }
            Self::Datanet(m) => {
                let p = m.params.as_ref().ok_or_else(|| invalid_params("params cannot be empty"))?;
                openledger_datanet::keeper::validate_params(p).map_err(datanet_err)?;
            }
            Self::Inference(m) => {
                let p = m.params.as_ref().ok_or_else(|| invalid_params("params cannot be empty"))?;
                openledger_inference::keeper::validate_params(p).map_err(inference_err)?;
            }
            Self::Attribution(m) => {
                attribution_msg::UpdateParams::check_stateless(m).map_err(attribution_err)?;
            }
        }
        Ok(())
    }

    /// Checks the authority, then writes the module's params.
    fn execute(&self, modules: &Modules, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        openledger_gov::keeper::check_authority(self.authority()).map_err(gov_err)?;
        let st = |e: openledger_core::StateError| AbciError::from_code(&e);
        let stake_all =
            |state: &mut dyn StateWrite, f: &dyn Fn(&mut spb::Params, &mut dpb::Params, &mut slpb::Params)| -> Result<(), AbciError> {
                let mut staking = openledger_stake::params::staking(state).map_err(st)?;
                let mut distribution = openledger_stake::params::distribution(state).map_err(st)?;
                let mut slashing = openledger_stake::params::slashing(state).map_err(st)?;
                let schedule = openledger_stake::params::reward_schedule(state).map_err(st)?;
                f(&mut staking, &mut distribution, &mut slashing);
                openledger_stake::params::set_all(state, &staking, &distribution, &slashing, &schedule).map_err(st)
            };
        match self {
            Self::Auth(m) => {
                openledger_auth::params::set_params(state, &m.params.clone().unwrap_or_default()).map_err(st)?;
                Ok(pack(cosmos_sdk_proto::cosmos::auth::v1beta1::MsgUpdateParamsResponse {}))
            }
            Self::Bank(m) => {
                modules.bank.set_params(state, &m.params.clone().unwrap_or_default()).map_err(st)?;
                Ok(pack(cosmos_sdk_proto::cosmos::bank::v1beta1::MsgUpdateParamsResponse {}))
            }
            Self::Staking(m) => {
                let p = m.params.clone().unwrap_or_default();
                stake_all(state, &|s, _, _| *s = p.clone())?;
                Ok(pack(spb::MsgUpdateParamsResponse {}))
            }
            Self::Distribution(m) => {
                let p = m.params.clone().unwrap_or_default();
                stake_all(state, &|_, d, _| *d = p.clone())?;
                Ok(pack(dpb::MsgUpdateParamsResponse {}))
            }
            Self::Slashing(m) => {
                let p = m.params.clone().unwrap_or_default();
                stake_all(state, &|_, _, sl| *sl = p.clone())?;
                Ok(pack(slpb::MsgUpdateParamsResponse {}))
            }
            Self::Gov(m) => {
                openledger_gov::params::set_params(state, &m.params.clone().unwrap_or_default()).map_err(gov_err)?;
                Ok(pack(govpb::MsgUpdateParamsResponse {}))
            }
            Self::Datanet(m) => {
                modules.datanet.set_params(state, &m.params.clone().unwrap_or_default()).map_err(datanet_err)?;
                Ok(response_any(DATANET_MSG_UPDATE_PARAMS, openledger_proto::openledger::datanet::v1::MsgUpdateParamsResponse {}))
            }
            Self::Inference(m) => {
                modules.inference.set_params(state, &m.params.clone().unwrap_or_default()).map_err(inference_err)?;
                Ok(response_any(inference_msg::MSG_UPDATE_PARAMS, openledger_proto::openledger::inference::v1::MsgUpdateParamsResponse {}))
            }
            Self::Attribution(m) => {
                let update = attribution_msg::UpdateParams::check_stateless(m).map_err(attribution_err)?;
                Ok(response_any(attribution_msg::MSG_UPDATE_PARAMS, update.execute(&modules.attribution, state).map_err(attribution_err)?))
            }
        }
    }
}

/// Type URL of the datanet module's `MsgUpdateParams`.
pub const DATANET_MSG_UPDATE_PARAMS: &str = "/openledger.datanet.v1.MsgUpdateParams";

/// Which gov API a message came in through (for its type URL and amino name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GovVersion {
    /// `cosmos.gov.v1`.
    V1,
    /// `cosmos.gov.v1beta1` (what Keplr signs).
    V1beta1,
}

/// A gov vote in any of its three wire forms.
#[derive(Debug, Clone, PartialEq)]
pub struct GovVote {
    /// Proposal id.
    pub proposal_id: u64,
    /// Voter (bech32).
    pub voter: String,
    /// Weighted options (a single option has weight one).
    pub options: Vec<govpb::WeightedVoteOption>,
    /// Metadata (v1 only).
    pub metadata: String,
    /// `None` for `MsgVoteWeighted`, else the single option.
    pub single: Option<i32>,
    /// API version.
    pub version: GovVersion,
}

fn gov_err(e: GovError) -> AbciError {
    AbciError::from_code(&e)
}

fn check_vote(v: GovVote) -> Result<GovVote, AbciError> {
    account_field("voter", &v.voter)?;
    if v.proposal_id == 0 {
        return Err(gov_err(GovError::UnknownProposal(0)));
    }
    openledger_gov::keeper::parse_options(&v.options).map_err(gov_err)?;
    Ok(v)
}

/// The app's router as the gov module sees it: signers and execution of proposal messages.
pub struct GovRouter<'a>(pub &'a Modules);

impl openledger_gov::ProposalExecutor for GovRouter<'_> {
    fn signers(&self, msg: &Any) -> Result<Vec<Address>, AbciError> {
        Ok(Msg::from_any(msg)?.signers())
    }
    fn execute(&self, state: &mut dyn StateWrite, msg: &Any) -> Result<(), AbciError> {
        Msg::from_any(msg)?.execute(self.0, state).map(|_| ())
    }
}

fn datanet_err(e: DatanetError) -> AbciError {
    AbciError::from_code(&e)
}

fn model_err(e: ModelError) -> AbciError {
    AbciError::from_code(&e)
}

fn attribution_err(e: openledger_attribution::AttributionError) -> AbciError {
    AbciError::from_code(&e)
}

fn inference_err(e: openledger_inference::InferenceError) -> AbciError {
    AbciError::from_code(&e)
}

/// Packs a module's response under `<msg type url>Response`.
fn response_any(msg_type_url: &str, response: impl Message) -> Any {
    Any { type_url: format!("{msg_type_url}Response"), value: response.encode_to_vec() }
}

fn stake_err(e: StakeError) -> AbciError {
    AbciError::from_code(&e)
}

/// Parses an account-address field (SDK code 7 on failure).
fn account_field(field: &str, text: &str) -> Result<Address, AbciError> {
    Address::from_bech32(text)
        .map_err(|e| AbciError::sdk(sdk_codes::INVALID_ADDRESS, format!("invalid {field} address {text:?}: {e}: invalid address")))
}

/// Parses a validator-operator field into the operator's account (SDK code 7 on failure).
fn operator_field(field: &str, text: &str) -> Result<Address, AbciError> {
    Address::from_bech32_prefixed(text, VALOPER_PREFIX)
        .map_err(|e| AbciError::sdk(sdk_codes::INVALID_ADDRESS, format!("invalid {field} address {text:?}: {e}: invalid address")))
}

fn positive_coin(coin: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>) -> Result<(), AbciError> {
    let c = coin.ok_or_else(|| AbciError::sdk(sdk_codes::INVALID_COINS, "missing amount: invalid coins"))?;
    match openledger_core::Coin::from_proto(c) {
        Ok(c) if c.amount > 0 => Ok(()),
        Ok(_) => Err(AbciError::sdk(sdk_codes::INVALID_COINS, "amount must be positive: invalid coins")),
        Err(e) => Err(AbciError::sdk(sdk_codes::INVALID_COINS, format!("{e}: invalid coins"))),
    }
}

fn coin_json(c: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>) -> Value {
    let c = c.cloned().unwrap_or_default();
    json!({"amount": c.amount, "denom": c.denom})
}

fn decode<M: Message + Default>(any: &Any) -> Result<M, AbciError> {
    M::decode(any.value.as_slice())
        .map_err(|e| AbciError::sdk(sdk_codes::TX_DECODE, format!("failed to decode {}: {e}: tx parse error", any.type_url)))
}

fn pack<M: Message + Name>(m: M) -> Any {
    Any { type_url: type_url::<M>(), value: m.encode_to_vec() }
}

fn uopen_coins(amount: u128) -> Vec<cosmos_sdk_proto::cosmos::base::v1beta1::Coin> {
    if amount == 0 {
        Vec::new()
    } else {
        vec![openledger_core::Coin::new(openledger_core::coin::BASE_DENOM, amount).to_proto()]
    }
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn type_url<M: Name>() -> String {
    format!("/{}", M::full_name())
}

fn coin_pairs(coins: &[openledger_core::Coin]) -> Vec<(String, String)> {
    coins.iter().map(|c| (c.denom.clone(), c.amount.to_string())).collect()
}

impl Msg {
    /// Decodes and validates one message. Unknown type URLs are the SDK's tx-decode error.
    pub fn from_any(any: &Any) -> Result<Self, AbciError> {
        let checked = |r: Result<Self, openledger_bank::BankError>| r.map_err(|e| AbciError::from_code(&e));
        match any.type_url.as_str() {
            "/cosmos.bank.v1beta1.MsgSend" => checked(Send::check_stateless(&decode::<MsgSend>(any)?).map(Self::BankSend)),
            "/cosmos.bank.v1beta1.MsgMultiSend" => {
                checked(MultiSend::check_stateless(&decode::<MsgMultiSend>(any)?).map(Self::BankMultiSend))
            }
            "/cosmos.staking.v1beta1.MsgCreateValidator" => {
                stake_msg::CreateValidator::check_stateless(&decode::<spb::MsgCreateValidator>(any)?)
                    .map(Self::CreateValidator)
                    .map_err(stake_err)
            }
            "/cosmos.staking.v1beta1.MsgEditValidator" => {
                let m = decode::<spb::MsgEditValidator>(any)?;
                operator_field("validator", &m.validator_address)?;
                Ok(Self::EditValidator(m))
            }
            "/cosmos.staking.v1beta1.MsgDelegate" => {
                let m = decode::<spb::MsgDelegate>(any)?;
                account_field("delegator", &m.delegator_address)?;
                operator_field("validator", &m.validator_address)?;
                positive_coin(m.amount.as_ref())?;
                Ok(Self::Delegate(m))
            }
            "/cosmos.staking.v1beta1.MsgUndelegate" => {
                let m = decode::<spb::MsgUndelegate>(any)?;
                account_field("delegator", &m.delegator_address)?;
                operator_field("validator", &m.validator_address)?;
                positive_coin(m.amount.as_ref())?;
                Ok(Self::Undelegate(m))
            }
            "/cosmos.staking.v1beta1.MsgBeginRedelegate" => {
                let m = decode::<spb::MsgBeginRedelegate>(any)?;
                account_field("delegator", &m.delegator_address)?;
                operator_field("source validator", &m.validator_src_address)?;
                operator_field("destination validator", &m.validator_dst_address)?;
                positive_coin(m.amount.as_ref())?;
                Ok(Self::Redelegate(m))
            }
            "/cosmos.staking.v1beta1.MsgCancelUnbondingDelegation" => {
                let m = decode::<spb::MsgCancelUnbondingDelegation>(any)?;
                account_field("delegator", &m.delegator_address)?;
                operator_field("validator", &m.validator_address)?;
                positive_coin(m.amount.as_ref())?;
                Ok(Self::CancelUnbonding(m))
            }
            "/cosmos.distribution.v1beta1.MsgWithdrawDelegatorReward" => {
                let m = decode::<dpb::MsgWithdrawDelegatorReward>(any)?;
                account_field("delegator", &m.delegator_address)?;
                operator_field("validator", &m.validator_address)?;
                Ok(Self::WithdrawReward(m))
            }
            "/cosmos.distribution.v1beta1.MsgWithdrawValidatorCommission" => {
                let m = decode::<dpb::MsgWithdrawValidatorCommission>(any)?;
                operator_field("validator", &m.validator_address)?;
                Ok(Self::WithdrawCommission(m))
            }
            "/cosmos.distribution.v1beta1.MsgSetWithdrawAddress" => {
                let m = decode::<dpb::MsgSetWithdrawAddress>(any)?;
                account_field("delegator", &m.delegator_address)?;
                account_field("withdraw", &m.withdraw_address)?;
                Ok(Self::SetWithdrawAddress(m))
            }
            "/cosmos.distribution.v1beta1.MsgFundCommunityPool" => {
                let m = decode::<dpb::MsgFundCommunityPool>(any)?;
                account_field("depositor", &m.depositor)?;
                Ok(Self::FundCommunityPool(m))
            }
            "/cosmos.slashing.v1beta1.MsgUnjail" => {
                let m = decode::<slpb::MsgUnjail>(any)?;
                operator_field("validator", &m.validator_addr)?;
                Ok(Self::Unjail(m))
            }
            datanet_msg::MSG_CREATE_DATANET => {
                datanet_msg::CreateDatanet::check_stateless(&decode(any)?).map(Self::CreateDatanet).map_err(datanet_err)
            }
            datanet_msg::MSG_UPDATE_DATANET => {
                datanet_msg::UpdateDatanet::check_stateless(&decode(any)?).map(Self::UpdateDatanet).map_err(datanet_err)
            }
            datanet_msg::MSG_SUBMIT_CONTRIBUTION => {
                datanet_msg::SubmitContribution::check_stateless(&decode(any)?).map(Self::SubmitContribution).map_err(datanet_err)
            }
            datanet_msg::MSG_REVIEW_CONTRIBUTION => {
                datanet_msg::ReviewContribution::check_stateless(&decode(any)?).map(Self::ReviewContribution).map_err(datanet_err)
            }
            datanet_msg::MSG_PUBLISH_VERSION => {
                datanet_msg::PublishVersion::check_stateless(&decode(any)?).map(Self::PublishVersion).map_err(datanet_err)
            }
            datanet_msg::MSG_DELIST_DATANET => {
                datanet_msg::DelistDatanet::check_stateless(&decode(any)?).map(Self::DelistDatanet).map_err(datanet_err)
            }
            datanet_msg::MSG_DELIST_ROW => datanet_msg::DelistRow::check_stateless(&decode(any)?).map(Self::DelistRow).map_err(datanet_err),
            model_msg::MSG_REGISTER_BASE_MODEL => {
                model_msg::RegisterBaseModel::check_stateless(&decode(any)?).map(Self::RegisterBaseModel).map_err(model_err)
            }
            model_msg::MSG_REGISTER_ADAPTER => {
                model_msg::RegisterAdapter::check_stateless(&decode(any)?).map(Self::RegisterAdapter).map_err(model_err)
            }
            model_msg::MSG_SET_INFERENCE_PRICE => {
                model_msg::SetInferencePrice::check_stateless(&decode(any)?).map(Self::SetInferencePrice).map_err(model_err)
            }
            model_msg::MSG_DELIST_BASE_MODEL => {
                model_msg::DelistBaseModel::check_stateless(&decode(any)?).map(Self::DelistBaseModel).map_err(model_err)
            }
            model_msg::MSG_DELIST_ADAPTER => {
                model_msg::DelistAdapter::check_stateless(&decode(any)?).map(Self::DelistAdapter).map_err(model_err)
            }
            inference_msg::MSG_REQUEST_INFERENCE => {
                inference_msg::RequestInference::check_stateless(&decode(any)?).map(Self::RequestInference).map_err(inference_err)
            }
            inference_msg::MSG_REGISTER_EXECUTOR => {
                inference_msg::RegisterExecutor::check_stateless(&decode(any)?).map(Self::RegisterExecutor).map_err(inference_err)
            }
            inference_msg::MSG_UPDATE_PARAMS => {
                let u = ParamsUpdate::Inference(decode(any)?);
                u.check()?;
                Ok(Self::UpdateParams(u))
            }
            attribution_msg::MSG_UPDATE_PARAMS => {
                let u = ParamsUpdate::Attribution(decode(any)?);
                u.check()?;
                Ok(Self::UpdateParams(u))
            }
            "/cosmos.gov.v1.MsgSubmitProposal" => {
                let m = decode::<govpb::MsgSubmitProposal>(any)?;
                account_field("proposer", &m.proposer)?;
                if m.messages.is_empty() {
                    return Err(gov_err(GovError::NoProposalMsgs));
                }
                Ok(Self::GovSubmitProposal(m))
            }
            "/cosmos.gov.v1.MsgDeposit" | "/cosmos.gov.v1beta1.MsgDeposit" => {
                let (m, version) = if any.type_url.contains("v1beta1") {
                    let m = decode::<gov1b1::MsgDeposit>(any)?;
                    (govpb::MsgDeposit { proposal_id: m.proposal_id, depositor: m.depositor, amount: m.amount }, GovVersion::V1beta1)
                } else {
                    (decode::<govpb::MsgDeposit>(any)?, GovVersion::V1)
                };
                account_field("depositor", &m.depositor)?;
                openledger_core::coin::coins_from_proto(&m.amount)
                    .map_err(|e| AbciError::sdk(sdk_codes::INVALID_COINS, format!("{e}: invalid coins")))?;
                Ok(Self::GovDeposit(m, version))
            }
            "/cosmos.gov.v1.MsgVote" => {
                let m = decode::<govpb::MsgVote>(any)?;
                check_vote(GovVote {
                    proposal_id: m.proposal_id,
                    voter: m.voter,
                    options: openledger_gov::keeper::single_option(m.option),
                    metadata: m.metadata,
                    single: Some(m.option),
                    version: GovVersion::V1,
                })
                .map(Self::GovVote)
            }
            "/cosmos.gov.v1.MsgVoteWeighted" => {
                let m = decode::<govpb::MsgVoteWeighted>(any)?;
                check_vote(GovVote {
                    proposal_id: m.proposal_id,
                    voter: m.voter,
                    options: m.options,
                    metadata: m.metadata,
                    single: None,
                    version: GovVersion::V1,
                })
                .map(Self::GovVote)
            }
            "/cosmos.gov.v1beta1.MsgVote" => {
                let m = decode::<gov1b1::MsgVote>(any)?;
                check_vote(GovVote {
                    proposal_id: m.proposal_id,
                    voter: m.voter,
                    options: openledger_gov::keeper::single_option(m.option),
                    metadata: String::new(),
                    single: Some(m.option),
                    version: GovVersion::V1beta1,
                })
                .map(Self::GovVote)
            }
            "/cosmos.auth.v1beta1.MsgUpdateParams" => {
                let u = ParamsUpdate::Auth(decode(any)?);
                u.check()?;
                Ok(Self::UpdateParams(u))
            }
            "/cosmos.bank.v1beta1.MsgUpdateParams" => {
                let u = ParamsUpdate::Bank(decode(any)?);
                u.check()?;
                Ok(Self::UpdateParams(u))
            }
            "/cosmos.staking.v1beta1.MsgUpdateParams" => {
                let u = ParamsUpdate::Staking(decode(any)?);
                u.check()?;
                Ok(Self::UpdateParams(u))
            }
            "/cosmos.distribution.v1beta1.MsgUpdateParams" => {
                let u = ParamsUpdate::Distribution(decode(any)?);
                u.check()?;
                Ok(Self::UpdateParams(u))
            }
            "/cosmos.slashing.v1beta1.MsgUpdateParams" => {
                let u = ParamsUpdate::Slashing(decode(any)?);
                u.check()?;
                Ok(Self::UpdateParams(u))
            }
            "/cosmos.gov.v1.MsgUpdateParams" => {
                let u = ParamsUpdate::Gov(Box::new(decode(any)?));
                u.check()?;
                Ok(Self::UpdateParams(u))
            }
            DATANET_MSG_UPDATE_PARAMS => {
                let u = ParamsUpdate::Datanet(decode(any)?);
                u.check()?;
                Ok(Self::UpdateParams(u))
            }
            "/cosmos.distribution.v1beta1.MsgCommunityPoolSpend" => {
                let m = decode::<dpb::MsgCommunityPoolSpend>(any)?;
                account_field("authority", &m.authority)?;
                account_field("recipient", &m.recipient)?;
                openledger_core::coin::coins_from_proto(&m.amount)
                    .map_err(|e| AbciError::sdk(sdk_codes::INVALID_COINS, format!("{e}: invalid coins")))?;
                Ok(Self::CommunityPoolSpend(m))
            }
            "/cosmos.upgrade.v1beta1.MsgSoftwareUpgrade" => {
                let m = decode::<upb::MsgSoftwareUpgrade>(any)?;
                account_field("authority", &m.authority)?;
                let plan = m.plan.as_ref().ok_or_else(|| invalid_params("plan cannot be empty"))?;
                if plan.name.trim().is_empty() || plan.height <= 0 {
                    return Err(invalid_params("plan needs a name and a positive height"));
                }
                Ok(Self::SoftwareUpgrade(m))
            }
            "/cosmos.upgrade.v1beta1.MsgCancelUpgrade" => {
                let m = decode::<upb::MsgCancelUpgrade>(any)?;
                account_field("authority", &m.authority)?;
                Ok(Self::CancelUpgrade(m))
            }
            other => Err(AbciError::sdk(sdk_codes::TX_DECODE, format!("unable to resolve type URL {other}: tx parse error"))),
        }
    }

    /// The type URL (the `action` of the `message` event).
    pub fn type_url(&self) -> String {
        match self {
            Self::BankSend(_) => type_url::<MsgSend>(),
            Self::BankMultiSend(_) => type_url::<MsgMultiSend>(),
            Self::CreateValidator(_) => type_url::<spb::MsgCreateValidator>(),
            Self::EditValidator(_) => type_url::<spb::MsgEditValidator>(),
            Self::Delegate(_) => type_url::<spb::MsgDelegate>(),
            Self::Undelegate(_) => type_url::<spb::MsgUndelegate>(),
            Self::Redelegate(_) => type_url::<spb::MsgBeginRedelegate>(),
            Self::CancelUnbonding(_) => type_url::<spb::MsgCancelUnbondingDelegation>(),
            Self::WithdrawReward(_) => type_url::<dpb::MsgWithdrawDelegatorReward>(),
            Self::WithdrawCommission(_) => type_url::<dpb::MsgWithdrawValidatorCommission>(),
            Self::SetWithdrawAddress(_) => type_url::<dpb::MsgSetWithdrawAddress>(),
            Self::FundCommunityPool(_) => type_url::<dpb::MsgFundCommunityPool>(),
            Self::Unjail(_) => type_url::<slpb::MsgUnjail>(),
            Self::CreateDatanet(_) => datanet_msg::MSG_CREATE_DATANET.to_string(),
            Self::UpdateDatanet(_) => datanet_msg::MSG_UPDATE_DATANET.to_string(),
            Self::SubmitContribution(_) => datanet_msg::MSG_SUBMIT_CONTRIBUTION.to_string(),
            Self::ReviewContribution(_) => datanet_msg::MSG_REVIEW_CONTRIBUTION.to_string(),
            Self::PublishVersion(_) => datanet_msg::MSG_PUBLISH_VERSION.to_string(),
            Self::DelistDatanet(_) => datanet_msg::MSG_DELIST_DATANET.to_string(),
            Self::DelistRow(_) => datanet_msg::MSG_DELIST_ROW.to_string(),
            Self::RegisterBaseModel(_) => model_msg::MSG_REGISTER_BASE_MODEL.to_string(),
            Self::RegisterAdapter(_) => model_msg::MSG_REGISTER_ADAPTER.to_string(),
            Self::SetInferencePrice(_) => model_msg::MSG_SET_INFERENCE_PRICE.to_string(),
            Self::DelistBaseModel(_) => model_msg::MSG_DELIST_BASE_MODEL.to_string(),
            Self::DelistAdapter(_) => model_msg::MSG_DELIST_ADAPTER.to_string(),
            Self::RequestInference(_) => inference_msg::MSG_REQUEST_INFERENCE.to_string(),
            Self::RegisterExecutor(_) => inference_msg::MSG_REGISTER_EXECUTOR.to_string(),
            Self::GovSubmitProposal(_) => type_url::<govpb::MsgSubmitProposal>(),
            Self::GovDeposit(_, GovVersion::V1) => type_url::<govpb::MsgDeposit>(),
            Self::GovDeposit(_, GovVersion::V1beta1) => type_url::<gov1b1::MsgDeposit>(),
            Self::GovVote(v) => match (v.version, v.single) {
                (GovVersion::V1beta1, _) => type_url::<gov1b1::MsgVote>(),
                (GovVersion::V1, Some(_)) => type_url::<govpb::MsgVote>(),
                (GovVersion::V1, None) => type_url::<govpb::MsgVoteWeighted>(),
            },
            Self::UpdateParams(u) => u.type_url(),
            Self::CommunityPoolSpend(_) => type_url::<dpb::MsgCommunityPoolSpend>(),
            Self::SoftwareUpgrade(_) => type_url::<upb::MsgSoftwareUpgrade>(),
            Self::CancelUpgrade(_) => type_url::<upb::MsgCancelUpgrade>(),
        }
    }

    /// The module that handles it (the `module` of the `message` event).
    pub fn module(&self) -> &'static str {
        match self {
            Self::BankSend(_) | Self::BankMultiSend(_) => "bank",
            Self::CreateValidator(_)
            | Self::EditValidator(_)
            | Self::Delegate(_)
            | Self::Undelegate(_)
            | Self::Redelegate(_)
            | Self::CancelUnbonding(_) => "staking",
            Self::WithdrawReward(_) | Self::WithdrawCommission(_) | Self::SetWithdrawAddress(_) | Self::FundCommunityPool(_) => {
                "distribution"
            }
            Self::Unjail(_) => "slashing",
            Self::CreateDatanet(_)
            | Self::UpdateDatanet(_)
            | Self::SubmitContribution(_)
            | Self::ReviewContribution(_)
            | Self::PublishVersion(_)
            | Self::DelistDatanet(_)
            | Self::DelistRow(_) => "datanet",
            Self::RegisterBaseModel(_)
            | Self::RegisterAdapter(_)
            | Self::SetInferencePrice(_)
            | Self::DelistBaseModel(_)
            | Self::DelistAdapter(_) => "model",
            Self::RequestInference(_) | Self::RegisterExecutor(_) => "inference",
            Self::GovSubmitProposal(_) | Self::GovDeposit(..) | Self::GovVote(_) => "gov",
            Self::UpdateParams(u) => u.module(),
            Self::CommunityPoolSpend(_) => "distribution",
            Self::SoftwareUpgrade(_) | Self::CancelUpgrade(_) => "upgrade",
        }
    }

    /// Addresses that must sign.
    pub fn signers(&self) -> Vec<Address> {
        match self {
            Self::BankSend(m) => m.signers(),
            Self::BankMultiSend(m) => m.signers(),
            Self::CreateValidator(m) => vec![m.operator.clone()],
            Self::EditValidator(m) => operator_field("validator", &m.validator_address).into_iter().collect(),
            Self::Delegate(m) => account_field("delegator", &m.delegator_address).into_iter().collect(),
            Self::Undelegate(m) => account_field("delegator", &m.delegator_address).into_iter().collect(),
            Self::Redelegate(m) => account_field("delegator", &m.delegator_address).into_iter().collect(),
            Self::CancelUnbonding(m) => account_field("delegator", &m.delegator_address).into_iter().collect(),
            Self::WithdrawReward(m) => account_field("delegator", &m.delegator_address).into_iter().collect(),
            Self::WithdrawCommission(m) => operator_field("validator", &m.validator_address).into_iter().collect(),
            Self::SetWithdrawAddress(m) => account_field("delegator", &m.delegator_address).into_iter().collect(),
            Self::FundCommunityPool(m) => account_field("depositor", &m.depositor).into_iter().collect(),
            Self::Unjail(m) => operator_field("validator", &m.validator_addr).into_iter().collect(),
            Self::CreateDatanet(m) => m.signers(),
            Self::UpdateDatanet(m) => m.signers(),
            Self::SubmitContribution(m) => m.signers(),
            Self::ReviewContribution(m) => m.signers(),
            Self::PublishVersion(m) => m.signers(),
            Self::DelistDatanet(m) => m.signers(),
            Self::DelistRow(m) => m.signers(),
            Self::RegisterBaseModel(m) => m.signers(),
            Self::RegisterAdapter(m) => m.signers(),
            Self::SetInferencePrice(m) => m.signers(),
            Self::DelistBaseModel(m) => m.signers(),
            Self::DelistAdapter(m) => m.signers(),
            Self::RequestInference(m) => m.signers(),
            Self::RegisterExecutor(m) => m.signers(),
            Self::GovSubmitProposal(m) => account_field("proposer", &m.proposer).into_iter().collect(),
            Self::GovDeposit(m, _) => account_field("depositor", &m.depositor).into_iter().collect(),
            Self::GovVote(v) => account_field("voter", &v.voter).into_iter().collect(),
            Self::UpdateParams(u) => account_field("authority", u.authority()).into_iter().collect(),
            Self::CommunityPoolSpend(m) => account_field("authority", &m.authority).into_iter().collect(),
            Self::SoftwareUpgrade(m) => account_field("authority", &m.authority).into_iter().collect(),
            Self::CancelUpgrade(m) => account_field("authority", &m.authority).into_iter().collect(),
        }
    }

    /// The amino JSON form used by `SIGN_MODE_LEGACY_AMINO_JSON` (`{"type","value"}`).
    pub fn amino_json(&self) -> Value {
        match self {
            Self::BankSend(m) => json!({
                "type": "cosmos-sdk/MsgSend",
                "value": {
                    "amount": coins_json(&coin_pairs(&m.amount)),
                    "from_address": m.from.to_bech32(),
                    "to_address": m.to.to_bech32(),
                }
            }),
            Self::BankMultiSend(m) => json!({
                "type": "cosmos-sdk/MsgMultiSend",
                "value": {
                    "inputs": [{"address": m.input.0.to_bech32(), "coins": coins_json(&coin_pairs(&m.input.1))}],
                    "outputs": m.outputs.iter().map(|(a, c)| json!({"address": a.to_bech32(), "coins": coins_json(&coin_pairs(c))})).collect::<Vec<_>>(),
                }
            }),
            Self::CreateValidator(c) => {
                let m = &c.msg;
                let d = m.description.clone().unwrap_or_default();
                let pubkey =
                    openledger_stake::keeper::consensus_key(&spb::Validator { consensus_pubkey: m.pubkey.clone(), ..Default::default() })
                        .unwrap_or_default();
                json!({"type": "cosmos-sdk/MsgCreateValidator", "value": {
                    "commission": {"max_change_rate": c.rates.2.to_string(), "max_rate": c.rates.1.to_string(), "rate": c.rates.0.to_string()},
                    "delegator_address": c.operator.to_bech32(),
                    "description": {"details": d.details, "identity": d.identity, "moniker": d.moniker, "security_contact": d.security_contact, "website": d.website},
                    "min_self_delegation": m.min_self_delegation,
                    "pubkey": {"type": "tendermint/PubKeyEd25519", "value": base64_std(&pubkey)},
                    "validator_address": m.validator_address,
                    "value": coin_json(m.value.as_ref()),
                }})
            }
            Self::EditValidator(m) => {
                let d = m.description.clone().unwrap_or_default();
                let mut value = json!({
                    "description": {"details": d.details, "identity": d.identity, "moniker": d.moniker, "security_contact": d.security_contact, "website": d.website},
                    "validator_address": m.validator_address,
                });
                if !m.commission_rate.is_empty() {
                    let rate = openledger_stake::params::dec_from_proto(&m.commission_rate).unwrap_or_default();
                    value["commission_rate"] = json!(rate.to_string());
                }
                if !m.min_self_delegation.is_empty() {
                    value["min_self_delegation"] = json!(m.min_self_delegation);
                }
                json!({"type": "cosmos-sdk/MsgEditValidator", "value": value})
            }
            Self::Delegate(m) => {
                json!({"type": "cosmos-sdk/MsgDelegate", "value": {"amount": coin_json(m.amount.as_ref()), "delegator_address": m.delegator_address, "validator_address": m.validator_address}})
            }
            Self::Undelegate(m) => {
                json!({"type": "cosmos-sdk/MsgUndelegate", "value": {"amount": coin_json(m.amount.as_ref()), "delegator_address": m.delegator_address, "validator_address": m.validator_address}})
            }
            Self::Redelegate(m) => json!({"type": "cosmos-sdk/MsgBeginRedelegate", "value": {
                "amount": coin_json(m.amount.as_ref()), "delegator_address": m.delegator_address,
                "validator_dst_address": m.validator_dst_address, "validator_src_address": m.validator_src_address}}),
            Self::CancelUnbonding(m) => json!({"type": "cosmos-sdk/MsgCancelUnbondingDelegation", "value": {
                "amount": coin_json(m.amount.as_ref()), "creation_height": m.creation_height.to_string(),
                "delegator_address": m.delegator_address, "validator_address": m.validator_address}}),
            Self::WithdrawReward(m) => {
                json!({"type": "cosmos-sdk/MsgWithdrawDelegationReward", "value": {"delegator_address": m.delegator_address, "validator_address": m.validator_address}})
            }
            Self::WithdrawCommission(m) => {
                json!({"type": "cosmos-sdk/MsgWithdrawValCommission", "value": {"validator_address": m.validator_address}})
            }
            Self::SetWithdrawAddress(m) => {
                json!({"type": "cosmos-sdk/MsgModifyWithdrawAddress", "value": {"delegator_address": m.delegator_address, "withdraw_address": m.withdraw_address}})
            }
            Self::FundCommunityPool(m) => json!({"type": "cosmos-sdk/MsgFundCommunityPool", "value": {
                "amount": m.amount.iter().map(|c| json!({"amount": c.amount, "denom": c.denom})).collect::<Vec<_>>(), "depositor": m.depositor}}),
            Self::Unjail(m) => json!({"type": "cosmos-sdk/MsgUnjail", "value": {"address": m.validator_addr}}),
            Self::CreateDatanet(m) => m.amino_json(),
            Self::UpdateDatanet(m) => m.amino_json(),
            Self::SubmitContribution(m) => m.amino_json(),
            Self::ReviewContribution(m) => m.amino_json(),
            Self::PublishVersion(m) => m.amino_json(),
            Self::DelistDatanet(m) => m.amino_json(),
            Self::DelistRow(m) => m.amino_json(),
            Self::RegisterBaseModel(m) => m.amino_json(),
            Self::RegisterAdapter(m) => m.amino_json(),
            Self::SetInferencePrice(m) => m.amino_json(),
            Self::DelistBaseModel(m) => m.amino_json(),
            Self::DelistAdapter(m) => m.amino_json(),
            Self::RequestInference(m) => m.amino_json(),
            Self::RegisterExecutor(m) => m.amino_json(),
            Self::GovSubmitProposal(m) => {
                let messages: Vec<Value> = m
                    .messages
                    .iter()
                    .map(|a| {
                        Msg::from_any(a)
                            .map(|inner| inner.amino_json())
                            .unwrap_or_else(|_| json!({"type_url": a.type_url, "value": base64_std(&a.value)}))
                    })
                    .collect();
                json!({"type": "cosmos-sdk/v1/MsgSubmitProposal", "value": AminoObject::default()
                    .list("messages", messages)
                    .value("initial_deposit", proto_coins_json(&m.initial_deposit))
                    .str("proposer", &m.proposer)
                    .str("metadata", &m.metadata)
                    .str("title", &m.title)
                    .str("summary", &m.summary)
                    .bool("expedited", m.expedited)
                    .build()})
            }
            Self::GovDeposit(m, version) => {
                let name = if *version == GovVersion::V1 { "cosmos-sdk/v1/MsgDeposit" } else { "cosmos-sdk/MsgDeposit" };
                json!({"type": name, "value": {
                    "amount": m.amount.iter().map(|c| json!({"amount": c.amount, "denom": c.denom})).collect::<Vec<_>>(),
                    "depositor": m.depositor, "proposal_id": m.proposal_id.to_string()}})
            }
            Self::GovVote(v) => match (v.version, v.single) {
                (GovVersion::V1beta1, option) => json!({"type": "cosmos-sdk/MsgVote", "value": {
                    "option": option.unwrap_or_default(), "proposal_id": v.proposal_id.to_string(), "voter": v.voter}}),
                (GovVersion::V1, Some(option)) => json!({"type": "cosmos-sdk/v1/MsgVote", "value": AminoObject::default()
                    .u64("proposal_id", v.proposal_id).str("voter", &v.voter).num("option", option.into()).str("metadata", &v.metadata).build()}),
                (GovVersion::V1, None) => json!({"type": "cosmos-sdk/v1/MsgVoteWeighted", "value": {
                    "metadata": v.metadata,
                    "options": v.options.iter().map(|o| json!({"option": o.option, "weight": o.weight})).collect::<Vec<_>>(),
                    "proposal_id": v.proposal_id.to_string(), "voter": v.voter}}),
            },
            Self::UpdateParams(u) => json!({"type": u.amino_name(), "value":
                AminoObject::default().str("authority", u.authority()).value("params", u.params_amino()).build()}),
            Self::CommunityPoolSpend(m) => json!({"type": "cosmos-sdk/distr/MsgCommunityPoolSpend", "value": {
                "amount": m.amount.iter().map(|c| json!({"amount": c.amount, "denom": c.denom})).collect::<Vec<_>>(),
                "authority": m.authority, "recipient": m.recipient}}),
            Self::SoftwareUpgrade(m) => {
                let p = m.plan.clone().unwrap_or_default();
                json!({"type": "cosmos-sdk/MsgSoftwareUpgrade", "value": {"authority": m.authority,
                    "plan": {"height": p.height.to_string(), "info": p.info, "name": p.name, "time": "0001-01-01T00:00:00Z"}}})
            }
            Self::CancelUpgrade(m) => json!({"type": "cosmos-sdk/MsgCancelUpgrade", "value": {"authority": m.authority}}),
        }
    }

    /// Executes against the message layer of a tx; returns the `Any`-packed response.
    pub fn execute(&self, modules: &Modules, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        let err = |e: &dyn ErrorCode| AbciError { codespace: e.codespace(), code: e.code(), log: e.to_string() };
        match self {
            Self::BankSend(m) => {
                m.execute(&modules.bank, state).map_err(|e| err(&e))?;
                Ok(Any { type_url: type_url::<MsgSendResponse>(), value: MsgSendResponse {}.encode_to_vec() })
            }
            Self::BankMultiSend(m) => {
                m.execute(&modules.bank, state).map_err(|e| err(&e))?;
                Ok(Any { type_url: type_url::<MsgMultiSendResponse>(), value: MsgMultiSendResponse {}.encode_to_vec() })
            }
            Self::CreateValidator(m) => {
                m.execute(&modules.stake, state).map_err(stake_err)?;
                Ok(pack(spb::MsgCreateValidatorResponse {}))
            }
            Self::EditValidator(m) => {
                stake_msg::edit_validator(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(spb::MsgEditValidatorResponse {}))
            }
            Self::Delegate(m) => {
                stake_msg::delegate(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(spb::MsgDelegateResponse {}))
            }
            Self::Undelegate(m) => {
                let (completion, amount) = stake_msg::undelegate(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(spb::MsgUndelegateResponse {
                    completion_time: Some(ns_timestamp(completion)),
                    amount: Some(openledger_core::Coin::new(openledger_core::coin::BASE_DENOM, amount).to_proto()),
                }))
            }
            Self::Redelegate(m) => {
                let completion = stake_msg::redelegate(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(spb::MsgBeginRedelegateResponse { completion_time: Some(ns_timestamp(completion)) }))
            }
            Self::CancelUnbonding(m) => {
                stake_msg::cancel_unbonding(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(spb::MsgCancelUnbondingDelegationResponse {}))
            }
            Self::WithdrawReward(m) => {
                let paid = stake_msg::withdraw_rewards(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(dpb::MsgWithdrawDelegatorRewardResponse { amount: uopen_coins(paid) }))
            }
            Self::WithdrawCommission(m) => {
                let paid = stake_msg::withdraw_commission(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(dpb::MsgWithdrawValidatorCommissionResponse { amount: uopen_coins(paid) }))
            }
            Self::SetWithdrawAddress(m) => {
                stake_msg::set_withdraw_address(state, m).map_err(stake_err)?;
                Ok(pack(dpb::MsgSetWithdrawAddressResponse {}))
            }
            Self::FundCommunityPool(m) => {
                stake_msg::fund_community_pool(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(dpb::MsgFundCommunityPoolResponse {}))
            }
            Self::Unjail(m) => {
                stake_msg::unjail(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(slpb::MsgUnjailResponse {}))
            }
            Self::CreateDatanet(m) => {
                Ok(response_any(datanet_msg::MSG_CREATE_DATANET, m.execute(&modules.datanet, state).map_err(datanet_err)?))
            }
            Self::UpdateDatanet(m) => {
                Ok(response_any(datanet_msg::MSG_UPDATE_DATANET, m.execute(&modules.datanet, state).map_err(datanet_err)?))
            }
            Self::SubmitContribution(m) => {
                Ok(response_any(datanet_msg::MSG_SUBMIT_CONTRIBUTION, m.execute(&modules.datanet, state).map_err(datanet_err)?))
            }
            Self::ReviewContribution(m) => {
                Ok(response_any(datanet_msg::MSG_REVIEW_CONTRIBUTION, m.execute(&modules.datanet, state).map_err(datanet_err)?))
            }
            Self::PublishVersion(m) => {
                let published = m.execute(&modules.datanet, state).map_err(datanet_err)?;
                // Queued in the same message layer: a failed tx queues nothing; the index is
                // built at this block's end.
                modules.attribution.on_version_published(state, m.msg.datanet_id, published.version).map_err(attribution_err)?;
                Ok(response_any(datanet_msg::MSG_PUBLISH_VERSION, published))
            }
            Self::DelistDatanet(m) => {
                Ok(response_any(datanet_msg::MSG_DELIST_DATANET, m.execute(&modules.datanet, state).map_err(datanet_err)?))
            }
            Self::DelistRow(m) => Ok(response_any(datanet_msg::MSG_DELIST_ROW, m.execute(&modules.datanet, state).map_err(datanet_err)?)),
            Self::RegisterBaseModel(m) => {
                Ok(response_any(model_msg::MSG_REGISTER_BASE_MODEL, m.execute(&modules.model, state).map_err(model_err)?))
            }
            Self::RegisterAdapter(m) => {
                Ok(response_any(model_msg::MSG_REGISTER_ADAPTER, m.execute(&modules.model, state).map_err(model_err)?))
            }
            Self::SetInferencePrice(m) => {
                Ok(response_any(model_msg::MSG_SET_INFERENCE_PRICE, m.execute(&modules.model, state).map_err(model_err)?))
            }
            Self::DelistBaseModel(m) => {
                Ok(response_any(model_msg::MSG_DELIST_BASE_MODEL, m.execute(&modules.model, state).map_err(model_err)?))
            }
            Self::DelistAdapter(m) => Ok(response_any(model_msg::MSG_DELIST_ADAPTER, m.execute(&modules.model, state).map_err(model_err)?)),
            Self::RequestInference(m) => {
                let info = openledger_core::block::block_info(state).map_err(|e| AbciError::from_code(&e))?;
                Ok(response_any(inference_msg::MSG_REQUEST_INFERENCE, m.execute(&modules.inference, state, info).map_err(inference_err)?))
            }
            Self::RegisterExecutor(m) => {
                let info = openledger_core::block::block_info(state).map_err(|e| AbciError::from_code(&e))?;
                Ok(response_any(inference_msg::MSG_REGISTER_EXECUTOR, m.execute(&modules.inference, state, info).map_err(inference_err)?))
            }
            Self::GovSubmitProposal(m) => {
                let proposal_id = modules.gov.submit_proposal(state, &GovRouter(modules), m).map_err(gov_err)?;
                Ok(pack(govpb::MsgSubmitProposalResponse { proposal_id }))
            }
            Self::GovDeposit(m, version) => {
                modules.gov.deposit(state, m.proposal_id, &m.depositor, &m.amount).map_err(gov_err)?;
                Ok(match version {
                    GovVersion::V1 => pack(govpb::MsgDepositResponse {}),
                    GovVersion::V1beta1 => pack(gov1b1::MsgDepositResponse {}),
                })
            }
            Self::GovVote(v) => {
                modules.gov.vote(state, v.proposal_id, &v.voter, &v.options, &v.metadata).map_err(gov_err)?;
                Ok(match (v.version, v.single) {
                    (GovVersion::V1beta1, _) => pack(gov1b1::MsgVoteResponse {}),
                    (GovVersion::V1, Some(_)) => pack(govpb::MsgVoteResponse {}),
                    (GovVersion::V1, None) => pack(govpb::MsgVoteWeightedResponse {}),
                })
            }
            Self::UpdateParams(u) => u.execute(modules, state),
            Self::CommunityPoolSpend(m) => {
                openledger_gov::keeper::check_authority(&m.authority).map_err(gov_err)?;
                stake_msg::community_pool_spend(&modules.stake, state, m).map_err(stake_err)?;
                Ok(pack(dpb::MsgCommunityPoolSpendResponse {}))
            }
            Self::SoftwareUpgrade(m) => {
                openledger_gov::keeper::check_authority(&m.authority).map_err(gov_err)?;
                let height = openledger_core::block::block_info(state).map_err(|e| AbciError::from_code(&e))?.height;
                crate::upgrade::schedule(state, &m.plan.clone().unwrap_or_default(), height)?;
                Ok(pack(upb::MsgSoftwareUpgradeResponse {}))
            }
            Self::CancelUpgrade(m) => {
                openledger_gov::keeper::check_authority(&m.authority).map_err(gov_err)?;
                crate::upgrade::cancel(state)?;
                Ok(pack(upb::MsgCancelUpgradeResponse {}))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openledger_core::Coin;

    #[test]
    fn unknown_type_url_is_tx_decode_error_and_bad_msg_keeps_module_code() {
        let err = Msg::from_any(&Any { type_url: "/foo.Bar".into(), value: vec![] }).unwrap_err();
        assert_eq!((err.codespace, err.code), ("sdk", 2));
        let bad = MsgSend { from_address: "x".into(), to_address: "y".into(), amount: vec![] };
        let err = Msg::from_any(&Any { type_url: "/cosmos.bank.v1beta1.MsgSend".into(), value: bad.encode_to_vec() }).unwrap_err();
        assert_eq!((err.codespace, err.code), ("sdk", 7));
        let garbage = Msg::from_any(&Any { type_url: "/cosmos.bank.v1beta1.MsgSend".into(), value: vec![0xff, 0xff] }).unwrap_err();
        assert_eq!(garbage.code, 2);
    }

    #[test]
    fn datanet_and_model_messages_are_routed_with_their_codes_and_amino_names() {
        use openledger_proto::openledger::{datanet::v1 as dpb, model::v1 as mpb};
        let a = Address::from_bytes(&[1; 20]).unwrap();
        let submit = dpb::MsgSubmitContribution { contributor: a.to_bech32(), datanet_id: 1, rows: vec![b"row".to_vec()], bond: None };
        let any = Any { type_url: datanet_msg::MSG_SUBMIT_CONTRIBUTION.into(), value: submit.encode_to_vec() };
        let msg = Msg::from_any(&any).unwrap();
        assert_eq!(
            (msg.type_url().as_str(), msg.module(), msg.signers()),
            (datanet_msg::MSG_SUBMIT_CONTRIBUTION, "datanet", vec![a.clone()])
        );
        assert_eq!(msg.amino_json()["type"], "openledger/MsgSubmitContribution");
        let bad = dpb::MsgSubmitContribution { contributor: "nope".into(), ..submit };
        let err = Msg::from_any(&Any { type_url: datanet_msg::MSG_SUBMIT_CONTRIBUTION.into(), value: bad.encode_to_vec() }).unwrap_err();
        assert_eq!((err.codespace, err.code), ("sdk", 7));
        let adapter = mpb::MsgRegisterAdapter { owner: a.to_bech32(), base_model_id: 1, ..Default::default() };
        let err = Msg::from_any(&Any { type_url: model_msg::MSG_REGISTER_ADAPTER.into(), value: adapter.encode_to_vec() }).unwrap_err();
        assert_eq!((err.codespace, err.code), ("model", 10), "no pinned versions");
        let delist = dpb::MsgDelistRow { authority: a.to_bech32(), datanet_id: 1, row_id: 1, reason: String::new() };
        let msg = Msg::from_any(&Any { type_url: datanet_msg::MSG_DELIST_ROW.into(), value: delist.encode_to_vec() }).unwrap();
        assert_eq!(msg.signers(), vec![a], "the authority signs: only the gov module account can succeed");
    }

    #[test]
    fn amino_form_matches_sdk_names() {
        let a = Address::from_bytes(&[1; 20]).unwrap();
        let msg = Msg::BankSend(Send { from: a.clone(), to: a, amount: vec![Coin::new("uopen", 5)] });
        let v = msg.amino_json();
        assert_eq!(v["type"], "cosmos-sdk/MsgSend");
        assert_eq!(v["value"]["amount"][0]["amount"], "5");
        assert_eq!(msg.type_url(), "/cosmos.bank.v1beta1.MsgSend");
    }
}
