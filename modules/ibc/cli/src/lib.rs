//! The IBC modules' command line, named as the SDK names it: `tx ibc-transfer transfer`,
//! `query ibc-transfer denom-traces|escrow-address` and `query ibc channels`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use cosmos_sdk_proto::Any;
use ibc_proto::cosmos::base::v1beta1::Coin as IbcCoin;
use ibc_proto::ibc::applications::transfer::v1 as tpb;
use ibc_proto::ibc::core::channel::v1 as chpb;
use ibc_proto::ibc::core::client::v1::Height;
use openledger_cli::{broadcast, query, CommandGroup, ModuleCli, QueryFlags, TxFlags};
use openledger_core::coin::parse_coins;
use prost::Message;
use serde_json::json;

/// Default packet timeout: ten minutes from now (the SDK CLI's default relative timestamp).
const DEFAULT_TIMEOUT_SECONDS: u64 = 600;

/// The IBC `tx` and `query` groups.
pub struct IbcCli;

impl ModuleCli for IbcCli {
    fn tx(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("ibc-transfer", "IBC fungible token transfer (ICS-20) transactions.", |home, cmd: TransferTx| match cmd {
            TransferTx::Transfer {
                from,
                src_port,
                src_channel,
                receiver,
                amount,
                packet_timeout_height,
                packet_timeout_seconds,
                flags,
            } => cmd_transfer(
                home,
                &from,
                &src_port,
                &src_channel,
                &receiver,
                &amount,
                &packet_timeout_height,
                packet_timeout_seconds,
                &flags,
            ),
        })]
    }
    fn query(&self) -> Vec<CommandGroup> {
        vec![
            CommandGroup::new("ibc-transfer", "IBC fungible token transfer (ICS-20) queries.", |_, cmd: TransferQueryCmd| match cmd {
                TransferQueryCmd::DenomTraces { flags } => cmd_denom_traces(&flags),
                TransferQueryCmd::EscrowAddress { port, channel, flags } => cmd_escrow_address(&port, &channel, &flags),
            }),
            CommandGroup::new("ibc", "IBC core queries.", |_, cmd: IbcQueryCmd| match cmd {
                IbcQueryCmd::Channels { flags } => cmd_channels(&flags),
                IbcQueryCmd::ProofSpecs => {
                    println!("{}", openledger_ibc::proof_specs_json());
                    Ok(())
                }
            }),
        ]
    }
}

/// `tx ibc-transfer` subcommands.
#[derive(Debug, Subcommand)]
pub enum TransferTx {
    /// Send tokens to an account on another chain over an ICS-20 channel.
    Transfer {
        /// Sender key name.
        from: String,
        /// Source port (`transfer`).
        src_port: String,
        /// Source channel (`channel-0`).
        src_channel: String,
        /// Receiver address on the other chain.
        receiver: String,
        /// One coin, like 1000uopen or 5ibc/HASH.
        amount: String,
        /// Absolute timeout height on the other chain, `REVISION-HEIGHT` (0-0: none).
        #[arg(long, default_value = "0-0")]
        packet_timeout_height: String,
        /// Timeout in seconds from now (0: none; then a timeout height is required).
        #[arg(long, default_value_t = DEFAULT_TIMEOUT_SECONDS)]
        packet_timeout_seconds: u64,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `query ibc-transfer` subcommands.
#[derive(Debug, Subcommand)]
pub enum TransferQueryCmd {
    /// Every denom trace of tokens received over IBC.
    DenomTraces {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// The escrow account of a channel end.
    EscrowAddress {
        /// Port.
        port: String,
        /// Channel.
        channel: String,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

/// `query ibc` subcommands.
#[derive(Debug, Subcommand)]
pub enum IbcQueryCmd {
    /// The ICS23 proof specs of this chain's proofs, as the JSON a relayer's config takes
    /// (Hermes: `proof_specs`); printed without asking a node.
    ProofSpecs,
    /// Every channel end of this chain.
    Channels {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

fn parse_height(text: &str) -> anyhow::Result<Height> {
    let (number, height) = text.split_once('-').ok_or_else(|| anyhow::anyhow!("timeout height {text:?} is not REVISION-HEIGHT"))?;
    Ok(Height { revision_number: number.parse()?, revision_height: height.parse()? })
}

#[allow(clippy::too_many_arguments)]
fn cmd_transfer(
    home: &Path,
    from: &str,
    src_port: &str,
    src_channel: &str,
    receiver: &str,
    amount: &str,
    timeout_height: &str,
    timeout_seconds: u64,
    flags: &TxFlags,
) -> anyhow::Result<()> {
    let key = flags.signer(home, from)?;
    let coins = parse_coins(amount)?;
    let [coin] = coins.as_slice() else { anyhow::bail!("transfer exactly one coin, got {amount:?}") };
    let timeout_timestamp = if timeout_seconds == 0 {
        0
    } else {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        u64::try_from(now)?.saturating_add(timeout_seconds.saturating_mul(1_000_000_000))
    };
    let msg = tpb::MsgTransfer {
        source_port: src_port.into(),
        source_channel: src_channel.into(),
        token: Some(IbcCoin { denom: coin.denom.clone(), amount: coin.amount.to_string() }),
        sender: key.address().to_bech32(),
        receiver: receiver.into(),
        timeout_height: Some(parse_height(timeout_height)?),
        timeout_timestamp,
        memo: flags.memo.clone(),
    };
    let any = Any { type_url: "/ibc.applications.transfer.v1.MsgTransfer".into(), value: msg.encode_to_vec() };
    broadcast(&key, vec![any], flags)
}

fn cmd_denom_traces(flags: &QueryFlags) -> anyhow::Result<()> {
    let bytes = query(flags, "/ibc.applications.transfer.v1.Query/DenomTraces", tpb::QueryDenomTracesRequest::default().encode_to_vec())?;
    let resp = tpb::QueryDenomTracesResponse::decode(bytes.as_slice())?;
    let traces: Vec<_> = resp.denom_traces.iter().map(|t| json!({"path": t.path, "base_denom": t.base_denom})).collect();
    println!("{}", serde_json::to_string_pretty(&json!({"denom_traces": traces}))?);
    Ok(())
}

fn cmd_escrow_address(port: &str, channel: &str, flags: &QueryFlags) -> anyhow::Result<()> {
    let req = tpb::QueryEscrowAddressRequest { port_id: port.into(), channel_id: channel.into() };
    let bytes = query(flags, "/ibc.applications.transfer.v1.Query/EscrowAddress", req.encode_to_vec())?;
    println!("{}", tpb::QueryEscrowAddressResponse::decode(bytes.as_slice())?.escrow_address);
    Ok(())
}

fn cmd_channels(flags: &QueryFlags) -> anyhow::Result<()> {
    let bytes = query(flags, "/ibc.core.channel.v1.Query/Channels", chpb::QueryChannelsRequest::default().encode_to_vec())?;
    let resp = chpb::QueryChannelsResponse::decode(bytes.as_slice())?;
    let state = |s: i32| chpb::State::try_from(s).map(|s| s.as_str_name().to_string()).unwrap_or_else(|_| s.to_string());
    let channels: Vec<_> = resp
        .channels
        .iter()
        .map(|c| {
            json!({
                "port_id": c.port_id, "channel_id": c.channel_id, "state": state(c.state), "version": c.version,
                "connection_hops": c.connection_hops,
                "counterparty": c.counterparty.as_ref().map(|cp| json!({"port_id": cp.port_id, "channel_id": cp.channel_id})),
            })
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&json!({"channels": channels}))?);
    Ok(())
}
