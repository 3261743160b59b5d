//! The datanet module's command line: `tx datanet create|update|contribute|review|publish`,
//! `query datanet …`, and `datanet export-version`, which pages a version's rows out of the
//! node's `abci_query` into a JSONL file, recomputes the Merkle root from the file's rows and says
//! whether it matches the chain's. Txs go through [`openledger_cli::broadcast`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::Engine;
use clap::{Args, Subcommand};
use cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest;
use openledger_core::coin::{Coin, BASE_DENOM};
use openledger_core::Address;
use openledger_datanet::genesis::{ContributionJson, DatanetJson, StatsJson, VersionBodyJson};
use openledger_datanet::merkle;
use openledger_datanet::msg as dmsg;
use openledger_proto::openledger::datanet::v1 as dpb;
use prost::Message;
use serde_json::{json, Value};

use openledger_cli::{broadcast, pack_any as any, page_json, query_proto, CommandGroup, ModuleCli, PageFlags, QueryFlags, TxFlags};
use openledger_server::rpc_client::CometRpc;

/// Curation policy flags (create, and update when any is given).
#[derive(Debug, Args, Default)]
pub struct PolicyFlags {
    /// owner (OWNER_REVIEW) or vote (CURATOR_VOTE).
    #[arg(long)]
    pub curation: Option<String>,
    /// A curator as ADDRESS:WEIGHT (repeat; CURATOR_VOTE).
    #[arg(long = "curator")]
    pub curators: Vec<String>,
    /// Bond per contribution, e.g. 1000000uopen.
    #[arg(long)]
    pub bond: Option<String>,
    /// Share of a rejected contribution's bond burned, in basis points.
    #[arg(long)]
    pub reject_burn_bps: Option<u32>,
    /// Largest row in bytes.
    #[arg(long)]
    pub max_row_bytes: Option<u64>,
}

impl PolicyFlags {
    fn any(&self) -> bool {
        self.curation.is_some()
            || !self.curators.is_empty()
            || self.bond.is_some()
            || self.reject_burn_bps.is_some()
            || self.max_row_bytes.is_some()
    }

    /// Applies the flags over `base`.
    fn apply(&self, mut base: dpb::CurationPolicy) -> anyhow::Result<dpb::CurationPolicy> {
        if let Some(mode) = &self.curation {
            base.mode = match mode.as_str() {
                "owner" => dpb::CurationMode::OwnerReview as i32,
                "vote" => dpb::CurationMode::CuratorVote as i32,
                other => bail!("--curation must be owner or vote, got {other}"),
            };
            if base.mode == dpb::CurationMode::OwnerReview as i32 {
                base.curators.clear();
            }
        }
        if !self.curators.is_empty() {
            base.curators = self
                .curators
                .iter()
                .map(|c| {
                    let (address, weight) =
                        c.rsplit_once(':').ok_or_else(|| anyhow::anyhow!("--curator must be ADDRESS:WEIGHT, got {c}"))?;
                    Ok(dpb::Curator { address: Address::from_bech32(address)?.to_bech32(), weight: weight.parse()? })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
        }
        if let Some(bond) = &self.bond {
            base.contribution_bond = Some(Coin::parse(bond)?.to_proto());
        }
        if let Some(bps) = self.reject_burn_bps {
            base.reject_burn_bps = bps;
        }
        if let Some(max) = self.max_row_bytes {
            base.max_row_bytes = max;
        }
        Ok(base)
    }
}

/// `tx datanet` subcommands.
#[derive(Debug, Subcommand)]
pub enum DatanetTx {
    /// Create a datanet owned by --from.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// License (SPDX id).
        #[arg(long, default_value = "")]
        license: String,
        /// text or json.
        #[arg(long, default_value = "text")]
        schema: String,
        /// Required top-level fields of JSON rows, comma separated.
        #[arg(long, default_value = "")]
        required_fields: String,
        /// Policy (default: owner review, no bond, no burn, 4096-byte rows).
        #[command(flatten)]
        policy: PolicyFlags,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Change a datanet's metadata, policy or owner (owner only).
    Update {
        /// Datanet id.
        datanet_id: u64,
        /// New name.
        #[arg(long, default_value = "")]
        name: String,
        /// New description.
        #[arg(long, default_value = "")]
        description: String,
        /// New license.
        #[arg(long, default_value = "")]
        license: String,
        /// New owner.
        #[arg(long, default_value = "")]
        new_owner: String,
        /// Policy changes (applied over the current policy).
        #[command(flatten)]
        policy: PolicyFlags,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Submit rows (one per line of --rows-file, or --row …) with the datanet's bond.
    Contribute {
        /// Datanet id.
        datanet_id: u64,
        /// File with one row per line (e.g. JSONL).
        #[arg(long)]
        rows_file: Option<PathBuf>,
        /// A row (repeat).
        #[arg(long = "row")]
        rows: Vec<String>,
        /// Bond (default: the datanet's current contribution bond).
        #[arg(long)]
        bond: Option<String>,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Accept or reject a pending contribution.
    Review {
        /// Datanet id.
        datanet_id: u64,
        /// Contribution id.
        contribution_id: u64,
        /// Accept.
        #[arg(long, conflicts_with = "reject")]
        accept: bool,
        /// Reject.
        #[arg(long)]
        reject: bool,
        /// Reason (required to reject).
        #[arg(long, default_value = "")]
        reason: String,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Publish a new version of every accepted, not delisted row (owner only).
    Publish {
        /// Datanet id.
        datanet_id: u64,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `query datanet` subcommands.
#[derive(Debug, Subcommand)]
pub enum DatanetQueryCmd {
    /// List datanets.
    Datanets {
        /// Paging.
        #[command(flatten)]
        page: PageFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// One datanet.
    Datanet {
        /// Datanet id.
        datanet_id: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// A datanet's versions.
    Versions {
        /// Datanet id.
        datanet_id: u64,
        /// Paging.
        #[command(flatten)]
        page: PageFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// A version's rows, in order.
    Rows {
        /// Datanet id.
        datanet_id: u64,
        /// Version (0: latest).
        version: u64,
        /// Paging.
        #[command(flatten)]
        page: PageFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// The row at INDEX of a version with its Merkle proof, checked locally.
    RowProof {
        /// Datanet id.
        datanet_id: u64,
        /// Version (0: latest).
        version: u64,
        /// Index in the version.
        index: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Contributions of a datanet (--datanet) or of a contributor (--contributor).
    Contributions {
        /// Datanet id.
        #[arg(long, conflicts_with = "contributor")]
        datanet: Option<u64>,
        /// Contributor address.
        #[arg(long)]
        contributor: Option<String>,
        /// Paging.
        #[command(flatten)]
        page: PageFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// A contributor's totals (per datanet and overall).
    ContributorStats {
        /// Contributor address.
        contributor: String,
        /// Only this datanet.
        #[arg(long, default_value_t = 0)]
        datanet: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

/// `datanet` (offline-capable tools) subcommands.
#[derive(Debug, Subcommand)]
pub enum DatanetCommand {
    /// Write a version's rows as JSONL and check their Merkle root against the chain's.
    ExportVersion {
        /// Datanet id.
        #[arg(long)]
        datanet: u64,
        /// Version (0: latest).
        #[arg(long)]
        version: u64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// CometBFT RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:26657")]
        node: String,
    },
}

fn abci<Req: Message, Resp: Message + Default>(rpc: &CometRpc, height: i64, path: &str, req: &Req) -> anyhow::Result<(Resp, i64)> {
    let res = rpc.abci_query(path, &req.encode_to_vec(), height, false)?;
    if res.code != 0 {
        bail!("query failed (codespace {}, code {}): {}", res.codespace, res.code, res.log);
    }
    Ok((Resp::decode(res.value.as_slice())?, res.height))
}

fn query<Req: Message, Resp: Message + Default>(flags: &QueryFlags, method: &str, req: &Req) -> anyhow::Result<Resp> {
    query_proto(flags, &format!("/openledger.datanet.v1.Query/{method}"), req)
}

use openledger_cli::print_json as print;

/// A version row as JSON: the text when the row is UTF-8 (exact, as JSON strings round-trip),
/// else base64.
pub fn row_json(row: &dpb::VersionRow) -> Value {
    let mut v = json!({"index": row.index, "row_id": row.row_id.to_string(), "contributor": row.contributor, "delisted": row.delisted});
    match std::str::from_utf8(&row.data) {
        Ok(text) => v["data"] = json!(text),
        Err(_) => v["data_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(&row.data)),
    }
    v
}

/// Reads one exported row back: `(row_id, contributor bytes, data)`.
pub fn parse_row_json(line: &str) -> anyhow::Result<(u64, Vec<u8>, Vec<u8>)> {
    let v: Value = serde_json::from_str(line)?;
    let row_id: u64 = v["row_id"].as_str().ok_or_else(|| anyhow::anyhow!("row_id missing"))?.parse()?;
    let contributor = Address::from_bech32(v["contributor"].as_str().unwrap_or_default())?;
    let data = match (v.get("data").and_then(Value::as_str), v.get("data_base64").and_then(Value::as_str)) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD.decode(b64)?,
        _ => bail!("row {row_id} has neither data nor data_base64"),
    };
    Ok((row_id, contributor.as_bytes().to_vec(), data))
}

/// Recomputes a version's Merkle root from an exported JSONL file.
pub fn root_of_export(path: &Path) -> anyhow::Result<([u8; 32], u64)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut leaves = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (row_id, contributor, data) = parse_row_json(line)?;
        leaves.push(merkle::leaf_hash(row_id, &contributor, &data));
    }
    let root = merkle::root(&leaves).ok_or_else(|| anyhow::anyhow!("{} has no rows", path.display()))?;
    Ok((root, u64::try_from(leaves.len()).unwrap_or(u64::MAX)))
}

/// Pages a version out of the node at one height into `out` (JSONL), recomputes the root and
/// returns a summary with `matches`.
pub fn export_version(rpc: &CometRpc, datanet_id: u64, version: u64, out: &Path) -> anyhow::Result<Value> {
    let (resp, height): (dpb::QueryVersionResponse, i64) =
        abci(rpc, 0, "/openledger.datanet.v1.Query/Version", &dpb::QueryVersionRequest { datanet_id, version })?;
    let v = resp.version.ok_or_else(|| anyhow::anyhow!("empty version response"))?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?);
    let mut key = Vec::new();
    let mut written = 0u64;
    loop {
        let req = dpb::QueryRowsByVersionRequest {
            datanet_id,
            version: v.version,
            pagination: Some(PageRequest { key: key.clone(), limit: 1000, ..Default::default() }),
        };
        let (page, _): (dpb::QueryRowsByVersionResponse, i64) = abci(rpc, height, "/openledger.datanet.v1.Query/RowsByVersion", &req)?;
        for row in &page.rows {
            writeln!(file, "{}", serde_json::to_string(&row_json(row))?)?;
            written += 1;
        }
        key = page.pagination.map(|p| p.next_key).unwrap_or_default();
        if key.is_empty() || page.rows.is_empty() {
            break;
        }
    }
    file.flush()?;
    drop(file);
    let (computed, rows) = root_of_export(out)?;
    Ok(json!({
        "datanet_id": datanet_id.to_string(),
        "version": v.version.to_string(),
        "height": height.to_string(),
        "rows": written.to_string(),
        "file": out.display().to_string(),
        "chain_merkle_root": hex::encode(&v.merkle_root),
        "computed_merkle_root": hex::encode(computed),
        "matches": computed.as_slice() == v.merkle_root.as_slice() && rows == v.row_count,
    }))
}

/// Runs `datanet …`.
pub fn datanet_command(cmd: DatanetCommand) -> anyhow::Result<()> {
    match cmd {
        DatanetCommand::ExportVersion { datanet, version, out, node } => {
            let summary = export_version(&CometRpc::new(&node), datanet, version, &out)?;
            print(&summary)?;
            if summary["matches"] != json!(true) {
                bail!("the exported rows do not hash to the chain's Merkle root");
            }
            Ok(())
        }
    }
}

fn datanet_of(flags: &TxFlags, id: u64) -> anyhow::Result<dpb::Datanet> {
    let q = QueryFlags { node: flags.node.clone(), height: 0 };
    let resp: dpb::QueryDatanetResponse = query(&q, "Datanet", &dpb::QueryDatanetRequest { datanet_id: id })?;
    resp.datanet.ok_or_else(|| anyhow::anyhow!("datanet {id} not found"))
}

/// Runs `tx datanet …`.
pub fn datanet_tx(home: &Path, cmd: DatanetTx) -> anyhow::Result<()> {
    match cmd {
        DatanetTx::Create { name, description, license, schema, required_fields, policy, from, flags } => {
            let key = flags.signer(home, &from)?;
            let kind = match schema.as_str() {
                "text" => dpb::SchemaKind::Text,
                "json" => dpb::SchemaKind::Json,
                other => bail!("--schema must be text or json, got {other}"),
            };
            let fields = required_fields.split(',').map(str::trim).filter(|f| !f.is_empty()).map(String::from).collect();
            let base = dpb::CurationPolicy {
                mode: dpb::CurationMode::OwnerReview as i32,
                curators: vec![],
                contribution_bond: Some(Coin::new(BASE_DENOM, 0).to_proto()),
                reject_burn_bps: 0,
                max_row_bytes: 4096,
            };
            let msg = dpb::MsgCreateDatanet {
                owner: key.address().to_bech32(),
                name,
                description,
                license,
                schema: Some(dpb::RowSchema { kind: kind as i32, required_fields: fields }),
                policy: Some(policy.apply(base)?),
            };
            broadcast(&key, vec![any(dmsg::MSG_CREATE_DATANET, msg)], &flags)
        }
        DatanetTx::Update { datanet_id, name, description, license, new_owner, policy, from, flags } => {
            let key = flags.signer(home, &from)?;
            let policy = if policy.any() { Some(policy.apply(datanet_of(&flags, datanet_id)?.policy.unwrap_or_default())?) } else { None };
            let msg = dpb::MsgUpdateDatanet { owner: key.address().to_bech32(), datanet_id, name, description, license, policy, new_owner };
            broadcast(&key, vec![any(dmsg::MSG_UPDATE_DATANET, msg)], &flags)
        }
        DatanetTx::Contribute { datanet_id, rows_file, rows, bond, from, flags } => {
            let key = flags.signer(home, &from)?;
            let mut all: Vec<Vec<u8>> = rows.into_iter().map(String::into_bytes).collect();
            if let Some(path) = rows_file {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                all.extend(text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.as_bytes().to_vec()));
            }
            if all.is_empty() {
                bail!("no rows: pass --rows-file or --row");
            }
            let bond = match bond {
                Some(b) => Some(Coin::parse(&b)?.to_proto()),
                None => datanet_of(&flags, datanet_id)?.policy.and_then(|p| p.contribution_bond),
            };
            let msg = dpb::MsgSubmitContribution { contributor: key.address().to_bech32(), datanet_id, rows: all, bond };
            broadcast(&key, vec![any(dmsg::MSG_SUBMIT_CONTRIBUTION, msg)], &flags)
        }
        DatanetTx::Review { datanet_id, contribution_id, accept, reject, reason, from, flags } => {
            if accept == reject {
                bail!("pass exactly one of --accept and --reject");
            }
            let key = flags.signer(home, &from)?;
            let msg = dpb::MsgReviewContribution { reviewer: key.address().to_bech32(), datanet_id, contribution_id, accept, reason };
            broadcast(&key, vec![any(dmsg::MSG_REVIEW_CONTRIBUTION, msg)], &flags)
        }
        DatanetTx::Publish { datanet_id, from, flags } => {
            let key = flags.signer(home, &from)?;
            let msg = dpb::MsgPublishVersion { owner: key.address().to_bech32(), datanet_id };
            broadcast(&key, vec![any(dmsg::MSG_PUBLISH_VERSION, msg)], &flags)
        }
    }
}

fn to_json<T: serde::Serialize>(v: T) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(v)?)
}

/// Runs `query datanet …`.
pub fn datanet_query(cmd: DatanetQueryCmd) -> anyhow::Result<()> {
    match cmd {
        DatanetQueryCmd::Datanets { page, flags } => {
            let r: dpb::QueryDatanetsResponse = query(&flags, "Datanets", &dpb::QueryDatanetsRequest { pagination: page.request() })?;
            let list = r.datanets.iter().map(|d| to_json(DatanetJson::from(d))).collect::<anyhow::Result<Vec<_>>>()?;
            print(&json!({"datanets": list, "pagination": page_json(r.pagination.as_ref())}))
        }
        DatanetQueryCmd::Datanet { datanet_id, flags } => {
            let r: dpb::QueryDatanetResponse = query(&flags, "Datanet", &dpb::QueryDatanetRequest { datanet_id })?;
            print(&json!({"datanet": to_json(r.datanet.as_ref().map(DatanetJson::from))?}))
        }
        DatanetQueryCmd::Versions { datanet_id, page, flags } => {
            let r: dpb::QueryVersionsResponse =
                query(&flags, "Versions", &dpb::QueryVersionsRequest { datanet_id, pagination: page.request() })?;
            let list = r
                .versions
                .iter()
                .map(|v| {
                    let mut j = to_json(VersionBodyJson::from(v))?;
                    j["merkle_root_hex"] = json!(hex::encode(&v.merkle_root));
                    Ok(j)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            print(&json!({"versions": list, "pagination": page_json(r.pagination.as_ref())}))
        }
        DatanetQueryCmd::Rows { datanet_id, version, page, flags } => {
            let req = dpb::QueryRowsByVersionRequest { datanet_id, version, pagination: page.request() };
            let r: dpb::QueryRowsByVersionResponse = query(&flags, "RowsByVersion", &req)?;
            print(&json!({
                "rows": r.rows.iter().map(row_json).collect::<Vec<_>>(),
                "merkle_root": hex::encode(&r.merkle_root),
                "pagination": page_json(r.pagination.as_ref()),
            }))
        }
        DatanetQueryCmd::RowProof { datanet_id, version, index, flags } => {
            let r: dpb::QueryRowWithProofResponse =
                query(&flags, "RowWithProof", &dpb::QueryRowWithProofRequest { datanet_id, version, index })?;
            let row = r.row.clone().unwrap_or_default();
            let contributor = Address::from_bech32(&row.contributor)?;
            let verified = merkle::verify_row_proof(
                &r.merkle_root,
                row.row_id,
                contributor.as_bytes(),
                &row.data,
                row.index,
                r.row_count,
                &r.siblings,
            );
            print(&json!({
                "row": row_json(&row),
                "siblings": r.siblings.iter().map(hex::encode).collect::<Vec<_>>(),
                "merkle_root": hex::encode(&r.merkle_root),
                "row_count": r.row_count.to_string(),
                "verified": verified,
            }))
        }
        DatanetQueryCmd::Contributions { datanet, contributor, page, flags } => {
            let (list, pagination) = match (datanet, contributor) {
                (Some(datanet_id), None) => {
                    let r: dpb::QueryContributionsResponse =
                        query(&flags, "Contributions", &dpb::QueryContributionsRequest { datanet_id, pagination: page.request() })?;
                    (r.contributions, r.pagination)
                }
                (None, Some(contributor)) => {
                    let req = dpb::QueryContributionsByContributorRequest { contributor, pagination: page.request() };
                    let r: dpb::QueryContributionsByContributorResponse = query(&flags, "ContributionsByContributor", &req)?;
                    (r.contributions, r.pagination)
                }
                _ => bail!("pass --datanet or --contributor"),
            };
            let list = list.iter().map(|c| to_json(ContributionJson::from(c))).collect::<anyhow::Result<Vec<_>>>()?;
            print(&json!({"contributions": list, "pagination": page_json(pagination.as_ref())}))
        }
        DatanetQueryCmd::ContributorStats { contributor, datanet, flags } => {
            let r: dpb::QueryContributorStatsResponse =
                query(&flags, "ContributorStats", &dpb::QueryContributorStatsRequest { contributor, datanet_id: datanet })?;
            let stats = r.stats.iter().map(|s| to_json(StatsJson::from(s))).collect::<anyhow::Result<Vec<_>>>()?;
            print(&json!({"stats": stats, "total": to_json(r.total.as_ref().map(StatsJson::from))?}))
        }
    }
}

/// Datanet's `tx`, `query` and top-level `datanet` groups.
pub struct DatanetCli;

impl ModuleCli for DatanetCli {
    fn tx(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("datanet", "Datanet transactions.", datanet_tx)]
    }
    fn query(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("datanet", "Datanet queries.", |_, cmd| datanet_query(cmd))]
    }
    fn tools(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("datanet", "Datanet tools (export a version as JSONL and check its Merkle root).", |_, cmd| {
            datanet_command(cmd)
        })]
    }
}
