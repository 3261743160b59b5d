//! CLI of the attribution module (Proof of Attribution): `query attribution params|record|index|
//! score`. Answers are printed as the SDK's JSON (the same rendering as the REST server), so a
//! record reads the same from the CLI, `curl` and grpcurl.

use anyhow::Context;
use clap::Subcommand;
use openledger_proto::openledger::attribution::v1 as apb;
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use serde_json::Value;

use openledger_cli::{CommandGroup, ModuleCli, QueryFlags};
use openledger_server::rest::descriptor_pool;
use openledger_server::rest_json::SdkJson;

/// `query attribution` subcommands.
#[derive(Debug, Subcommand)]
pub enum AttributionQueryCmd {
    /// Module params (minimum span length, scored output tokens, index size limit).
    Params {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// The attribution record of a completed inference: matched spans, rows, payouts.
    Record {
        /// Inference request id.
        inference_id: u64,
        /// Read the record with an ICS23 proof and verify it against a header a light client
        /// verified (prints what was verified).
        #[arg(long)]
        prove: bool,
        /// Light-client trust anchor (with --prove).
        #[command(flatten)]
        trust: openledger_cli::prove::TrustFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// The suffix-array index of a published datanet version (status, tokens, bytes).
    Index {
        /// Datanet id.
        datanet_id: u64,
        /// Version.
        version: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Dry run: how a text would be attributed over datanet versions (nothing is paid).
    Score {
        /// A version as DATANET:VERSION (repeat for several).
        #[arg(long = "version", required = true)]
        versions: Vec<String>,
        /// The text to attribute.
        #[arg(long)]
        text: String,
        /// Amount to split, in uopen (0: only the spans and rows).
        #[arg(long, default_value_t = 0)]
        amount: u128,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

/// `DATANET:VERSION` → a version reference.
fn parse_version(text: &str) -> anyhow::Result<apb::VersionRef> {
    let (d, v) = text.split_once(':').with_context(|| format!("{text:?} is not DATANET:VERSION"))?;
    Ok(apb::VersionRef {
        datanet_id: d.trim().parse().with_context(|| format!("datanet id in {text:?}"))?,
        version: v.trim().parse().with_context(|| format!("version in {text:?}"))?,
    })
}

/// Sends `req` to `/openledger.attribution.v1.Query/{method}` and renders the answer as SDK JSON.
fn query(flags: &QueryFlags, method: &str, req: &impl Message) -> anyhow::Result<Value> {
    let value = openledger_cli::query(flags, &format!("/openledger.attribution.v1.Query/{method}"), req.encode_to_vec())?;
    render(method, &value)
}

/// Renders the bytes of `Query{method}Response` as SDK JSON.
fn render(method: &str, value: &[u8]) -> anyhow::Result<Value> {
    let pool = descriptor_pool()?;
    let name = format!("openledger.attribution.v1.Query{method}Response");
    let descriptor: MessageDescriptor = pool.get_message_by_name(&name).with_context(|| format!("no descriptor for {name}"))?;
    let message = DynamicMessage::decode(descriptor, value)?;
    Ok(SdkJson::new(pool).render(&message)?)
}

/// Runs an attribution query command.
pub fn attribution_query(cmd: AttributionQueryCmd) -> anyhow::Result<()> {
    let value = match cmd {
        AttributionQueryCmd::Params { flags } => query(&flags, "Params", &apb::QueryParamsRequest {})?,
        AttributionQueryCmd::Record { inference_id, prove: true, trust, flags } => {
            let key = openledger_attribution::state_key::record(inference_id);
            let proven = openledger_cli::prove::query_proven(&flags, &trust, "attribution", &key)?;
            let bytes = match (proven.value, &proven.absence_unproven) {
                (Some(b), _) => b,
                (None, None) => {
                    anyhow::bail!("no attribution record for inference {inference_id} (proven absent at height {})", proven.height)
                }
                (None, Some(why)) => anyhow::bail!(
                    "no attribution record for inference {inference_id} at height {}; its absence cannot be proven: {why}",
                    proven.height
                ),
            };
            let record = apb::AttributionRecord::decode(bytes.as_slice())?;
            let mut value = render("Record", &apb::QueryRecordResponse { record: Some(record) }.encode_to_vec())?;
            value["verified"] = proven.report;
            value
        }
        AttributionQueryCmd::Record { inference_id, prove: false, flags, .. } => {
            query(&flags, "Record", &apb::QueryRecordRequest { inference_id })?
        }
        AttributionQueryCmd::Index { datanet_id, version, flags } => {
            query(&flags, "IndexInfo", &apb::QueryIndexInfoRequest { datanet_id, version })?
        }
        AttributionQueryCmd::Score { versions, text, amount, flags } => {
            let versions = versions.iter().map(|v| parse_version(v)).collect::<anyhow::Result<Vec<_>>>()?;
            query(&flags, "Score", &apb::QueryScoreRequest { versions, text, amount: amount.to_string() })?
        }
    };
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// Attribution's `query` group.
pub struct AttributionCli;

impl ModuleCli for AttributionCli {
    fn query(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("attribution", "Proof of Attribution queries (records, indexes, dry-run scores).", |_, cmd| {
            attribution_query(cmd)
        })]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_version("3:7").unwrap(), apb::VersionRef { datanet_id: 3, version: 7 });
        assert!(parse_version("3").is_err());
        assert!(parse_version("x:1").is_err());
        assert!(parse_version("1:-2").is_err());
    }
}
