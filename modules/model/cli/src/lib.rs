//! The model registry's command line: `tx model register-base|register-adapter|set-price` and
//! `query model models|adapters|lineage …`. Txs go through [`openledger_cli::broadcast`].

use std::path::Path;

use anyhow::bail;
use clap::Subcommand;
use openledger_core::coin::Coin;
use openledger_model::genesis::{AdapterJson, BaseModelJson, PinnedVersionJson};
use openledger_model::msg as mmsg;
use openledger_proto::openledger::model::v1 as mpb;
use prost::Message;
use serde_json::{json, Value};

use openledger_cli::keys::Keyring;
use openledger_cli::{broadcast, pack_any as any, page_json, query_proto, CommandGroup, ModuleCli, PageFlags, QueryFlags, TxFlags};

/// `tx model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelTx {
    /// Register base weights owned by --from.
    RegisterBase {
        /// Name.
        #[arg(long)]
        name: String,
        /// Architecture (llama, mistral, …).
        #[arg(long)]
        architecture: String,
        /// Hex SHA-256 of the weights.
        #[arg(long)]
        weights_hash: String,
        /// Hex SHA-256 of the tokenizer.
        #[arg(long)]
        tokenizer_hash: String,
        /// License.
        #[arg(long, default_value = "")]
        license: String,
        /// Inference price, e.g. 100uopen.
        #[arg(long)]
        price: Option<String>,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Register an adapter of a base model, pinning the datanet versions it was trained on.
    RegisterAdapter {
        /// Base model id.
        #[arg(long)]
        base_model: u64,
        /// Hex SHA-256 of the adapter weights.
        #[arg(long)]
        adapter_hash: String,
        /// Hex SHA-256 of the training configuration.
        #[arg(long)]
        training_config_hash: String,
        /// A pinned version as DATANET:VERSION (repeat).
        #[arg(long = "datanet-version", required = true)]
        datanet_versions: Vec<String>,
        /// Inference price, e.g. 100uopen.
        #[arg(long)]
        price: Option<String>,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Set the inference price of a base model or adapter you own.
    SetPrice {
        /// Price, e.g. 250uopen.
        price: String,
        /// Base model id.
        #[arg(long, conflicts_with = "adapter")]
        base_model: Option<u64>,
        /// Adapter id.
        #[arg(long)]
        adapter: Option<u64>,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `query model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelQueryCmd {
    /// Base models (one with --id).
    Models {
        /// Base model id.
        #[arg(long)]
        id: Option<u64>,
        /// Paging.
        #[command(flatten)]
        page: PageFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Adapters: one (--id), of a base model (--model), an owner (--owner), a datanet (--datanet
    /// [--version]), or all.
    Adapters {
        /// Adapter id.
        #[arg(long)]
        id: Option<u64>,
        /// Base model id.
        #[arg(long)]
        model: Option<u64>,
        /// Owner address.
        #[arg(long)]
        owner: Option<String>,
        /// Datanet id.
        #[arg(long)]
        datanet: Option<u64>,
        /// Datanet version (with --datanet; 0 = any).
        #[arg(long, default_value_t = 0)]
        version: u64,
        /// Paging.
        #[command(flatten)]
        page: PageFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// An adapter's lineage: base weights and the datanet versions it was trained on.
    Lineage {
        /// Adapter id.
        adapter_id: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

fn query<Req: Message, Resp: Message + Default>(flags: &QueryFlags, method: &str, req: &Req) -> anyhow::Result<Resp> {
    query_proto(flags, &format!("/openledger.model.v1.Query/{method}"), req)
}

use openledger_cli::print_json as print;

fn price(text: Option<&str>) -> anyhow::Result<Option<cosmos_sdk_proto::cosmos::base::v1beta1::Coin>> {
    text.map(|t| Coin::parse(t).map(|c| c.to_proto()).map_err(Into::into)).transpose()
}

/// Runs `tx model …`.
pub fn model_tx(home: &Path, cmd: ModelTx) -> anyhow::Result<()> {
    let ring = Keyring::new(home);
    match cmd {
        ModelTx::RegisterBase { name, architecture, weights_hash, tokenizer_hash, license, price: p, from, flags } => {
            let key = ring.signer(&from)?;
            let msg = mpb::MsgRegisterBaseModel {
                owner: key.address().to_bech32(),
                name,
                architecture,
                weights_hash,
                tokenizer_hash,
                license,
                inference_price: price(p.as_deref())?,
            };
            broadcast(&key, vec![any(mmsg::MSG_REGISTER_BASE_MODEL, msg)], &flags)
        }
        ModelTx::RegisterAdapter { base_model, adapter_hash, training_config_hash, datanet_versions, price: p, from, flags } => {
            let key = ring.signer(&from)?;
            let pins = datanet_versions
                .iter()
                .map(|s| {
                    let (d, v) = s.split_once(':').ok_or_else(|| anyhow::anyhow!("--datanet-version must be DATANET:VERSION, got {s}"))?;
                    Ok(mpb::DatanetVersionRef { datanet_id: d.parse()?, version: v.parse()? })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let msg = mpb::MsgRegisterAdapter {
                owner: key.address().to_bech32(),
                base_model_id: base_model,
                adapter_hash,
                datanet_versions: pins,
                training_config_hash,
                inference_price: price(p.as_deref())?,
            };
            broadcast(&key, vec![any(mmsg::MSG_REGISTER_ADAPTER, msg)], &flags)
        }
        ModelTx::SetPrice { price: p, base_model, adapter, from, flags } => {
            let key = ring.signer(&from)?;
            let msg = mpb::MsgSetInferencePrice {
                owner: key.address().to_bech32(),
                base_model_id: base_model.unwrap_or(0),
                adapter_id: adapter.unwrap_or(0),
                inference_price: price(Some(&p))?,
            };
            broadcast(&key, vec![any(mmsg::MSG_SET_INFERENCE_PRICE, msg)], &flags)
        }
    }
}

fn to_json<T: serde::Serialize>(v: T) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(v)?)
}

/// Runs `query model …`.
pub fn model_query(cmd: ModelQueryCmd) -> anyhow::Result<()> {
    let adapters_json = |list: &[mpb::Adapter]| list.iter().map(|a| to_json(AdapterJson::from(a))).collect::<anyhow::Result<Vec<_>>>();
    match cmd {
        ModelQueryCmd::Models { id: Some(id), flags, .. } => {
            let r: mpb::QueryBaseModelResponse = query(&flags, "BaseModel", &mpb::QueryBaseModelRequest { base_model_id: id })?;
            print(&json!({"base_model": to_json(r.base_model.as_ref().map(BaseModelJson::from))?}))
        }
        ModelQueryCmd::Models { id: None, page, flags } => {
            let r: mpb::QueryBaseModelsResponse = query(&flags, "BaseModels", &mpb::QueryBaseModelsRequest { pagination: page.request() })?;
            let list = r.base_models.iter().map(|m| to_json(BaseModelJson::from(m))).collect::<anyhow::Result<Vec<_>>>()?;
            print(&json!({"base_models": list, "pagination": page_json(r.pagination.as_ref())}))
        }
        ModelQueryCmd::Adapters { id: Some(id), flags, .. } => {
            let r: mpb::QueryAdapterResponse = query(&flags, "Adapter", &mpb::QueryAdapterRequest { adapter_id: id })?;
            print(&json!({"adapter": to_json(r.adapter.as_ref().map(AdapterJson::from))?}))
        }
        ModelQueryCmd::Adapters { id: None, model, owner, datanet, version, page, flags } => {
            let r: mpb::QueryAdaptersResponse = match (model, owner, datanet) {
                (Some(base_model_id), None, None) => {
                    query(&flags, "AdaptersByModel", &mpb::QueryAdaptersByModelRequest { base_model_id, pagination: page.request() })?
                }
                (None, Some(owner), None) => {
                    query(&flags, "AdaptersByOwner", &mpb::QueryAdaptersByOwnerRequest { owner, pagination: page.request() })?
                }
                (None, None, Some(datanet_id)) => query(
                    &flags,
                    "AdaptersByDatanet",
                    &mpb::QueryAdaptersByDatanetRequest { datanet_id, version, pagination: page.request() },
                )?,
                (None, None, None) => query(&flags, "Adapters", &mpb::QueryAdaptersRequest { pagination: page.request() })?,
                _ => bail!("pass at most one of --model, --owner, --datanet"),
            };
            print(&json!({"adapters": adapters_json(&r.adapters)?, "pagination": page_json(r.pagination.as_ref())}))
        }
        ModelQueryCmd::Lineage { adapter_id, flags } => {
            let r: mpb::QueryLineageResponse = query(&flags, "Lineage", &mpb::QueryLineageRequest { adapter_id })?;
            let l = r.lineage.unwrap_or_default();
            let versions: Vec<Value> = l
                .datanet_versions
                .iter()
                .map(|p| {
                    let mut j = to_json(PinnedVersionJson::from(p))?;
                    j["merkle_root_hex"] = json!(hex::encode(&p.merkle_root));
                    Ok(j)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            print(&json!({
                "adapter": to_json(l.adapter.as_ref().map(AdapterJson::from))?,
                "base_model": to_json(l.base_model.as_ref().map(BaseModelJson::from))?,
                "datanet_versions": versions,
            }))
        }
    }
}

/// The model registry's `tx` and `query` groups.
pub struct ModelCli;

impl ModuleCli for ModelCli {
    fn tx(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("model", "Model registry transactions.", model_tx)]
    }
    fn query(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("model", "Model registry queries.", |_, cmd| model_query(cmd))]
    }
}
