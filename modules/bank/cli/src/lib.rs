//! The bank module's command line: `tx bank send FROM TO AMOUNT` and `query bank balances ADDR`.

use std::path::Path;

use clap::Subcommand;
use cosmos_sdk_proto::cosmos::bank::v1beta1::{
    MsgSend, QueryAllBalancesRequest, QueryAllBalancesResponse, QueryBalanceRequest, QueryBalanceResponse,
};
use cosmos_sdk_proto::Any;
use openledger_cli::{broadcast, query, CommandGroup, ModuleCli, QueryFlags, TxFlags};
use openledger_core::coin::{parse_coins, Coin};
use openledger_core::Address;
use prost::Message;
use serde_json::json;

/// The bank's `tx` and `query` groups.
pub struct BankCli;

impl ModuleCli for BankCli {
    fn tx(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("bank", "Bank transactions.", |home, cmd: BankTx| match cmd {
            BankTx::Send { from, to, amount, flags } => cmd_send(home, &from, &to, &amount, &flags),
        })]
    }
    fn query(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("bank", "Bank queries.", |_, cmd: BankQueryCmd| match cmd {
            BankQueryCmd::Balances { address, denom, flags } => cmd_balances(&address, denom.as_deref(), &flags),
        })]
    }
}

/// `tx bank` subcommands.
#[derive(Debug, Subcommand)]
pub enum BankTx {
    /// Send coins: FROM is a key name, TO an address, AMOUNT like 1000000uopen.
    Send {
        /// Sender key name.
        from: String,
        /// Recipient address.
        to: String,
        /// Coins.
        amount: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `query bank` subcommands.
#[derive(Debug, Subcommand)]
pub enum BankQueryCmd {
    /// Balances of an address (one denom with --denom).
    Balances {
        /// Address.
        address: String,
        /// Only this denom.
        #[arg(long)]
        denom: Option<String>,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

fn cmd_send(home: &Path, from: &str, to: &str, amount: &str, flags: &TxFlags) -> anyhow::Result<()> {
    let key = flags.signer(home, from)?;
    let to = Address::from_bech32(to)?;
    let coins = parse_coins(amount)?;
    let msg =
        MsgSend { from_address: key.address().to_bech32(), to_address: to.to_bech32(), amount: coins.iter().map(Coin::to_proto).collect() };
    let any = Any { type_url: "/cosmos.bank.v1beta1.MsgSend".into(), value: msg.encode_to_vec() };
    broadcast(&key, vec![any], flags)
}

fn coin_json(c: &cosmos_sdk_proto::cosmos::base::v1beta1::Coin) -> serde_json::Value {
    json!({"denom": c.denom, "amount": c.amount})
}

fn cmd_balances(address: &str, denom: Option<&str>, flags: &QueryFlags) -> anyhow::Result<()> {
    Address::from_bech32(address)?;
    let out = match denom {
        Some(d) => {
            let bytes = query(
                flags,
                "/cosmos.bank.v1beta1.Query/Balance",
                QueryBalanceRequest { address: address.into(), denom: d.into() }.encode_to_vec(),
            )?;
            let resp = QueryBalanceResponse::decode(bytes.as_slice())?;
            json!({"balance": resp.balance.as_ref().map(coin_json)})
        }
        None => {
            let bytes = query(
                flags,
                "/cosmos.bank.v1beta1.Query/AllBalances",
                QueryAllBalancesRequest { address: address.into(), pagination: None, resolve_denom: false }.encode_to_vec(),
            )?;
            let resp = QueryAllBalancesResponse::decode(bytes.as_slice())?;
            json!({"balances": resp.balances.iter().map(coin_json).collect::<Vec<_>>(), "pagination": {"next_key": null, "total": "0"}})
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
