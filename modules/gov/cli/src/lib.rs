//! CLI of the gov module: `tx gov submit-proposal PROPOSAL.json | deposit | vote | weighted-vote`
//! and `query gov proposals | proposal | tally | params | votes`. Txs go through
//! [`openledger_cli::broadcast`]; queries through CometBFT's `abci_query` on the SDK's gRPC paths.
//!
//! A proposal file is the SDK's shape: `{"messages": [...], "deposit": "10000000000uopen",
//! "title", "summary", "metadata"}`. Each message is either `{"@type": URL, "value": BASE64}`
//! (protobuf bytes of any message) or one of these JSON forms (64-bit numbers as JSON numbers or
//! strings; `"authority"` defaults to the gov module account):
//!
//! - parameter changes whose `params` fields override the chain's current params:
//!   `/cosmos.staking.v1beta1.MsgUpdateParams` (`max_validators`, `max_entries`,
//!   `historical_entries`, `unbonding_time` "1814400s", `min_commission_rate` "0.05"),
//!   `/cosmos.bank.v1beta1.MsgUpdateParams` (`default_send_enabled`, `send_enabled`
//!   `[{"denom","enabled"}]`), `/openledger.datanet.v1.MsgUpdateParams` (the curation standards:
//!   `max_rows_per_contribution`, `max_row_bytes_cap`, `max_curators`, `min_contribution_bond`
//!   "500uopen");
//! - data/model standards: `/openledger.datanet.v1.MsgDelistDatanet` (`datanet_id`, `reason`),
//!   `/openledger.datanet.v1.MsgDelistRow` (`datanet_id`, `row_id`, `reason`),
//!   `/openledger.model.v1.MsgDelistBaseModel` (`base_model_id`, `reason`),
//!   `/openledger.model.v1.MsgDelistAdapter` (`adapter_id`, `reason`).

use base64::Engine;
use clap::Subcommand;
use cosmos_sdk_proto::cosmos::gov::v1 as govpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use cosmos_sdk_proto::Any;
use openledger_core::coin::{parse_coins, Coin};
use openledger_gov::gov_authority;
use prost::Message;
use serde_json::{json, Value};

use openledger_cli::{broadcast, CommandGroup, ModuleCli, QueryFlags, TxFlags};

/// `tx gov` subcommands.
#[derive(Debug, Subcommand)]
pub enum GovTx {
    /// Submit a proposal from a JSON file.
    SubmitProposal {
        /// Proposal JSON file.
        file: std::path::PathBuf,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Deposit on a proposal.
    Deposit {
        /// Proposal id.
        proposal_id: u64,
        /// Coins, e.g. 10000000uopen.
        amount: String,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Vote yes|no|abstain|no_with_veto.
    Vote {
        /// Proposal id.
        proposal_id: u64,
        /// Option.
        option: String,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Weighted vote, e.g. `yes=0.6,no=0.4`.
    WeightedVote {
        /// Proposal id.
        proposal_id: u64,
        /// Options with weights.
        options: String,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `query gov` subcommands.
#[derive(Debug, Subcommand)]
pub enum GovQueryCmd {
    /// All proposals.
    Proposals {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// One proposal.
    Proposal {
        /// Proposal id.
        proposal_id: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Tally (live during voting, final after).
    Tally {
        /// Proposal id.
        proposal_id: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Votes of a proposal.
    Votes {
        /// Proposal id.
        proposal_id: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Gov params.
    Params {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

use openledger_cli::pack_named as pack;

fn query<Req: Message, Resp: Message + Default>(node: &str, height: i64, path: &str, req: &Req) -> anyhow::Result<Resp> {
    openledger_cli::query_proto(&QueryFlags { node: node.to_string(), height }, path, req)
}

/// Parses `yes|no|abstain|no_with_veto` (or `VOTE_OPTION_YES`, or the number).
pub fn parse_option(text: &str) -> anyhow::Result<i32> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_prefix("vote_option_").unwrap_or(&t);
    Ok(match t {
        "yes" | "1" => 1,
        "abstain" | "2" => 2,
        "no" | "3" => 3,
        "no_with_veto" | "nowithveto" | "veto" | "4" => 4,
        other => anyhow::bail!("unknown vote option {other:?} (yes, no, abstain, no_with_veto)"),
    })
}

fn status_name(status: i32) -> &'static str {
    match status {
        1 => "PROPOSAL_STATUS_DEPOSIT_PERIOD",
        2 => "PROPOSAL_STATUS_VOTING_PERIOD",
        3 => "PROPOSAL_STATUS_PASSED",
        4 => "PROPOSAL_STATUS_REJECTED",
        5 => "PROPOSAL_STATUS_FAILED",
        _ => "PROPOSAL_STATUS_UNSPECIFIED",
    }
}

fn tally_json(t: &govpb::TallyResult) -> Value {
    json!({"yes_count": t.yes_count, "abstain_count": t.abstain_count, "no_count": t.no_count, "no_with_veto_count": t.no_with_veto_count})
}

fn proposal_json(p: &govpb::Proposal) -> Value {
    json!({
        "id": p.id.to_string(),
        "messages": p.messages.iter().map(|m| json!({"@type": m.type_url})).collect::<Vec<_>>(),
        "status": status_name(p.status),
        "final_tally_result": tally_json(&p.final_tally_result.clone().unwrap_or_default()),
        "total_deposit": p.total_deposit.iter().map(|c| json!({"denom": c.denom, "amount": c.amount})).collect::<Vec<_>>(),
        "submit_time_unix": p.submit_time.as_ref().map(|t| t.seconds).unwrap_or_default().to_string(),
        "deposit_end_time_unix": p.deposit_end_time.as_ref().map(|t| t.seconds).unwrap_or_default().to_string(),
        "voting_end_time_unix": p.voting_end_time.as_ref().map(|t| t.seconds).unwrap_or_default().to_string(),
        "title": p.title,
        "summary": p.summary,
        "metadata": p.metadata,
        "proposer": p.proposer,
        "failed_reason": p.failed_reason,
    })
}

/// A 64-bit field given as a JSON number or a decimal string.
fn u64_field(v: &Value, name: &str) -> anyhow::Result<Option<u64>> {
    match &v[name] {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(n.as_u64().ok_or_else(|| anyhow::anyhow!("{name} must be a non-negative integer"))?)),
        Value::String(t) => Ok(Some(t.parse().map_err(|_| anyhow::anyhow!("{name}: {t:?} is not a non-negative integer"))?)),
        other => anyhow::bail!("{name} must be a number, got {other}"),
    }
}

fn required_u64(v: &Value, name: &str) -> anyhow::Result<u64> {
    u64_field(v, name)?.ok_or_else(|| anyhow::anyhow!("missing {name}"))
}

fn proto_any<M: Message>(type_url: &str, m: &M) -> Any {
    Any { type_url: type_url.to_string(), value: m.encode_to_vec() }
}

/// Builds one proposal message from its JSON form.
fn proposal_message(v: &Value, node: &str) -> anyhow::Result<Any> {
    use openledger_proto::openledger::{datanet::v1 as dnpb, model::v1 as mdpb};
    let type_url = v["@type"].as_str().ok_or_else(|| anyhow::anyhow!("a proposal message needs \"@type\""))?;
    if let Some(b64) = v["value"].as_str() {
        return Ok(Any { type_url: type_url.to_string(), value: base64::engine::general_purpose::STANDARD.decode(b64)? });
    }
    let authority = v["authority"].as_str().map_or_else(|| gov_authority().to_bech32(), str::to_string);
    let reason = v["reason"].as_str().unwrap_or_default().to_string();
    let given = &v["params"];
    match type_url {
        "/openledger.datanet.v1.MsgDelistDatanet" => {
            Ok(proto_any(type_url, &dnpb::MsgDelistDatanet { authority, datanet_id: required_u64(v, "datanet_id")?, reason }))
        }
        "/openledger.datanet.v1.MsgDelistRow" => Ok(proto_any(
            type_url,
            &dnpb::MsgDelistRow { authority, datanet_id: required_u64(v, "datanet_id")?, row_id: required_u64(v, "row_id")?, reason },
        )),
        "/openledger.model.v1.MsgDelistBaseModel" => {
            Ok(proto_any(type_url, &mdpb::MsgDelistBaseModel { authority, base_model_id: required_u64(v, "base_model_id")?, reason }))
        }
        "/openledger.model.v1.MsgDelistAdapter" => {
            Ok(proto_any(type_url, &mdpb::MsgDelistAdapter { authority, adapter_id: required_u64(v, "adapter_id")?, reason }))
        }
        "/openledger.datanet.v1.MsgUpdateParams" => {
            let current: dnpb::QueryParamsResponse = query(node, 0, "/openledger.datanet.v1.Query/Params", &dnpb::QueryParamsRequest {})?;
            let mut p = current.params.unwrap_or_default();
            if let Some(n) = u64_field(given, "max_rows_per_contribution")? {
                p.max_rows_per_contribution = n;
            }
            if let Some(n) = u64_field(given, "max_row_bytes_cap")? {
                p.max_row_bytes_cap = n;
            }
            if let Some(n) = u64_field(given, "max_curators")? {
                p.max_curators = u32::try_from(n)?;
            }
            match &given["min_contribution_bond"] {
                Value::Null => {}
                Value::String(text) => {
                    let coins = parse_coins(text)?;
                    p.min_contribution_bond = coins.first().map(Coin::to_proto);
                }
                other => {
                    let denom = other["denom"].as_str().unwrap_or_default().to_string();
                    let amount = other["amount"].as_str().map(str::to_string).unwrap_or_else(|| other["amount"].to_string());
                    p.min_contribution_bond = Some(cosmos_sdk_proto::cosmos::base::v1beta1::Coin { denom, amount });
                }
            }
            Ok(proto_any(type_url, &dnpb::MsgUpdateParams { authority, params: Some(p) }))
        }
        "/cosmos.bank.v1beta1.MsgUpdateParams" => {
            use cosmos_sdk_proto::cosmos::bank::v1beta1 as bpb;
            let current: bpb::QueryParamsResponse = query(node, 0, "/cosmos.bank.v1beta1.Query/Params", &bpb::QueryParamsRequest {})?;
            let mut p = current.params.unwrap_or_default();
            if let Some(b) = given["default_send_enabled"].as_bool() {
                p.default_send_enabled = b;
            }
            if let Some(list) = given["send_enabled"].as_array() {
                #[allow(deprecated)] // still part of the SDK's bank Params
                {
                    p.send_enabled = list
                        .iter()
                        .map(|e| bpb::SendEnabled {
                            denom: e["denom"].as_str().unwrap_or_default().to_string(),
                            enabled: e["enabled"].as_bool().unwrap_or(false),
                        })
                        .collect();
                }
            }
            Ok(pack(&bpb::MsgUpdateParams { authority, params: Some(p) }))
        }
        "/cosmos.staking.v1beta1.MsgUpdateParams" => {
            let current: spb::QueryParamsResponse = query(node, 0, "/cosmos.staking.v1beta1.Query/Params", &spb::QueryParamsRequest {})?;
            let mut p = current.params.unwrap_or_default();
            if let Some(n) = given["max_validators"].as_u64() {
                p.max_validators = u32::try_from(n)?;
            }
            if let Some(n) = given["max_entries"].as_u64() {
                p.max_entries = u32::try_from(n)?;
            }
            if let Some(n) = given["historical_entries"].as_u64() {
                p.historical_entries = u32::try_from(n)?;
            }
            if let Some(s) = given["unbonding_time"].as_str() {
                let secs: i64 = s.trim_end_matches('s').parse()?;
                p.unbonding_time = Some(tendermint_proto::google::protobuf::Duration { seconds: secs, nanos: 0 });
            }
            if let Some(s) = given["min_commission_rate"].as_str() {
                p.min_commission_rate = openledger_stake::params::dec_to_proto(openledger_core::Dec::parse(s).map_err(anyhow::Error::msg)?);
            }
            Ok(pack(&spb::MsgUpdateParams { authority, params: Some(p) }))
        }
        other => anyhow::bail!("message {other}: give its protobuf bytes as \"value\" (base64)"),
    }
}

/// Runs a `tx gov` command.
pub fn gov_tx(home: &std::path::Path, cmd: GovTx) -> anyhow::Result<()> {
    match cmd {
        GovTx::SubmitProposal { file, from, flags } => {
            let key = flags.signer(home, &from)?;
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
            let messages = doc["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|m| proposal_message(m, &flags.node))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let deposit = parse_coins(doc["deposit"].as_str().unwrap_or(""))?;
            let msg = govpb::MsgSubmitProposal {
                messages,
                initial_deposit: deposit.iter().map(Coin::to_proto).collect(),
                proposer: key.address().to_bech32(),
                metadata: doc["metadata"].as_str().unwrap_or_default().to_string(),
                title: doc["title"].as_str().unwrap_or_default().to_string(),
                summary: doc["summary"].as_str().unwrap_or_default().to_string(),
                expedited: false,
            };
            broadcast(&key, vec![pack(&msg)], &flags)
        }
        GovTx::Deposit { proposal_id, amount, from, flags } => {
            let key = flags.signer(home, &from)?;
            let amount = parse_coins(&amount)?.iter().map(Coin::to_proto).collect();
            broadcast(&key, vec![pack(&govpb::MsgDeposit { proposal_id, depositor: key.address().to_bech32(), amount })], &flags)
        }
        GovTx::Vote { proposal_id, option, from, flags } => {
            let key = flags.signer(home, &from)?;
            let option = parse_option(&option)?;
            let msg = govpb::MsgVote { proposal_id, voter: key.address().to_bech32(), option, metadata: String::new() };
            broadcast(&key, vec![pack(&msg)], &flags)
        }
        GovTx::WeightedVote { proposal_id, options, from, flags } => {
            let key = flags.signer(home, &from)?;
            let options = options
                .split(',')
                .map(|pair| {
                    let (o, w) = pair.split_once('=').ok_or_else(|| anyhow::anyhow!("expected option=weight, got {pair:?}"))?;
                    let weight = openledger_core::Dec::parse(w.trim()).map_err(anyhow::Error::msg)?;
                    Ok(govpb::WeightedVoteOption { option: parse_option(o)?, weight: weight.to_string() })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let msg = govpb::MsgVoteWeighted { proposal_id, voter: key.address().to_bech32(), options, metadata: String::new() };
            broadcast(&key, vec![pack(&msg)], &flags)
        }
    }
}

/// Runs a `query gov` command.
pub fn gov_query(cmd: GovQueryCmd) -> anyhow::Result<()> {
    let out = match cmd {
        GovQueryCmd::Proposals { flags } => {
            let r: govpb::QueryProposalsResponse =
                query(&flags.node, flags.height, "/cosmos.gov.v1.Query/Proposals", &govpb::QueryProposalsRequest::default())?;
            json!({"proposals": r.proposals.iter().map(proposal_json).collect::<Vec<_>>()})
        }
        GovQueryCmd::Proposal { proposal_id, flags } => {
            let r: govpb::QueryProposalResponse =
                query(&flags.node, flags.height, "/cosmos.gov.v1.Query/Proposal", &govpb::QueryProposalRequest { proposal_id })?;
            proposal_json(&r.proposal.unwrap_or_default())
        }
        GovQueryCmd::Tally { proposal_id, flags } => {
            let r: govpb::QueryTallyResultResponse =
                query(&flags.node, flags.height, "/cosmos.gov.v1.Query/TallyResult", &govpb::QueryTallyResultRequest { proposal_id })?;
            tally_json(&r.tally.unwrap_or_default())
        }
        GovQueryCmd::Votes { proposal_id, flags } => {
            let r: govpb::QueryVotesResponse = query(
                &flags.node,
                flags.height,
                "/cosmos.gov.v1.Query/Votes",
                &govpb::QueryVotesRequest { proposal_id, pagination: None },
            )?;
            json!({"votes": r.votes.iter().map(|v| json!({
                "proposal_id": v.proposal_id.to_string(), "voter": v.voter,
                "options": v.options.iter().map(|o| json!({"option": openledger_gov::keeper::option_name(o.option), "weight": o.weight})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()})
        }
        GovQueryCmd::Params { flags } => {
            let r: govpb::QueryParamsResponse =
                query(&flags.node, flags.height, "/cosmos.gov.v1.Query/Params", &govpb::QueryParamsRequest::default())?;
            let p = r.params.unwrap_or_default();
            let json_params = openledger_gov::genesis::GovParamsJson::from_params(&p);
            serde_json::to_value(json_params)?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Gov's `tx` and `query` groups.
pub struct GovCli;

impl ModuleCli for GovCli {
    fn tx(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("gov", "Governance transactions.", gov_tx)]
    }
    fn query(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("gov", "Governance queries.", |_, cmd| gov_query(cmd))]
    }
}
