//! The auth module's command line: `query auth account ADDR` (number, sequence, public key).

use clap::Subcommand;
use openledger_auth::keeper::Account;
use openledger_cli::{query, CommandGroup, ModuleCli, QueryFlags};
use openledger_core::Address;
use prost::Message;
use serde_json::json;

/// Auth's `query` group.
pub struct AuthCli;

impl ModuleCli for AuthCli {
    fn query(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("auth", "Auth queries.", |_, cmd: AuthQueryCmd| match cmd {
            AuthQueryCmd::Account { address, flags } => cmd_account(&address, &flags),
        })]
    }
}

/// `query auth` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuthQueryCmd {
    /// An account (number, sequence, public key).
    Account {
        /// Address.
        address: String,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

fn cmd_account(address: &str, flags: &QueryFlags) -> anyhow::Result<()> {
    Address::from_bech32(address)?;
    let bytes = query(
        flags,
        "/cosmos.auth.v1beta1.Query/Account",
        cosmos_sdk_proto::cosmos::auth::v1beta1::QueryAccountRequest { address: address.into() }.encode_to_vec(),
    )?;
    let resp = cosmos_sdk_proto::cosmos::auth::v1beta1::QueryAccountResponse::decode(bytes.as_slice())?;
    let any = resp.account.ok_or_else(|| anyhow::anyhow!("empty response"))?;
    let account = Account::from_any(&any).map_err(|e| anyhow::anyhow!(e))?;
    let base = account.base();
    let pub_key = account.secp256k1_pubkey().map(|k| {
        use base64::Engine;
        json!({"@type": "/cosmos.crypto.secp256k1.PubKey", "key": base64::engine::general_purpose::STANDARD.encode(k)})
    });
    let mut out = json!({"@type": any.type_url, "address": base.address, "pub_key": pub_key, "account_number": base.account_number.to_string(), "sequence": base.sequence.to_string()});
    if let Account::Module(m) = &account {
        out["name"] = json!(m.name);
        out["permissions"] = json!(m.permissions);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
