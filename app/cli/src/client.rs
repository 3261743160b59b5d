//! Client side of the chain, used by the CLI: read an account over `abci_query`, build and sign
//! a tx (SIGN_MODE_DIRECT or LEGACY_AMINO_JSON), estimate gas with Simulate, broadcast through
//! CometBFT and wait for inclusion with `tx_search`, exactly as CosmJS does.

use cosmos_sdk_proto::cosmos::auth::v1beta1::{BaseAccount, QueryAccountRequest, QueryAccountResponse};
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    mode_info, AuthInfo, Fee, ModeInfo, SignDoc, SignerInfo, SimulateRequest, SimulateResponse, TxBody, TxRaw,
};
use cosmos_sdk_proto::Any;
use openledger_auth::keeper::{secp256k1_pubkey_any, Account};
use openledger_core::Address;
use prost::Message;

use crate::keys::AccountKey;
use openledger_core::MsgRouter;
use openledger_node::amino::StdSignDoc;
use openledger_server::rpc_client::CometRpc;

/// How a tx is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignModeChoice {
    /// SIGN_MODE_DIRECT (protobuf SignDoc).
    Direct,
    /// SIGN_MODE_LEGACY_AMINO_JSON (amino JSON StdSignDoc).
    AminoJson,
}

/// Everything needed to sign one tx.
pub struct TxSpec<'a> {
    /// Signer.
    pub key: &'a AccountKey,
    /// Chain id.
    pub chain_id: &'a str,
    /// Signer's account number.
    pub account_number: u64,
    /// Signer's sequence.
    pub sequence: u64,
    /// Messages.
    pub msgs: Vec<Any>,
    /// Fee coins.
    pub fee: Vec<ProtoCoin>,
    /// Gas limit.
    pub gas_limit: u64,
    /// Memo.
    pub memo: String,
    /// Sign mode.
    pub mode: SignModeChoice,
}

/// Builds and signs a tx, returning the `TxRaw` bytes.
pub fn sign_tx(spec: &TxSpec<'_>) -> anyhow::Result<Vec<u8>> {
    let body = TxBody { messages: spec.msgs.clone(), memo: spec.memo.clone(), ..Default::default() };
    let mode = match spec.mode {
        SignModeChoice::Direct => SignMode::Direct,
        SignModeChoice::AminoJson => SignMode::LegacyAminoJson,
    };
    let auth_info = AuthInfo {
        signer_infos: vec![SignerInfo {
            public_key: Some(secp256k1_pubkey_any(&spec.key.public_key())),
            mode_info: Some(ModeInfo { sum: Some(mode_info::Sum::Single(mode_info::Single { mode: mode as i32 })) }),
            sequence: spec.sequence,
        }],
        fee: Some(Fee { amount: spec.fee.clone(), gas_limit: spec.gas_limit, payer: String::new(), granter: String::new() }),
        #[allow(deprecated)]
        tip: None,
    };
    let body_bytes = body.encode_to_vec();
    let auth_info_bytes = auth_info.encode_to_vec();
    let sign_bytes = match spec.mode {
        SignModeChoice::Direct => SignDoc {
            body_bytes: body_bytes.clone(),
            auth_info_bytes: auth_info_bytes.clone(),
            chain_id: spec.chain_id.into(),
            account_number: spec.account_number,
        }
        .encode_to_vec(),
        SignModeChoice::AminoJson => {
            let msgs = spec
                .msgs
                .iter()
                .map(|m| {
                    openledger_node::modules::chain_registry().decode(m).map(|m| m.amino_json(openledger_node::modules::chain_registry()))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("{}", e.log))?;
            StdSignDoc {
                account_number: spec.account_number,
                chain_id: spec.chain_id,
                fee_amount: spec.fee.iter().map(|c| (c.denom.clone(), c.amount.clone())).collect(),
                gas: spec.gas_limit,
                fee_payer: "",
                fee_granter: "",
                memo: &spec.memo,
                msgs,
                sequence: spec.sequence,
                timeout_height: 0,
            }
            .sign_bytes()
        }
    };
    let signature = spec.key.sign(&sign_bytes);
    Ok(TxRaw { body_bytes, auth_info_bytes, signatures: vec![signature] }.encode_to_vec())
}

/// Reads an account through CometBFT's `abci_query`; `None` if it does not exist yet.
pub fn fetch_account(rpc: &CometRpc, address: &Address) -> anyhow::Result<Option<BaseAccount>> {
    let req = QueryAccountRequest { address: address.to_bech32() }.encode_to_vec();
    let res = rpc.abci_query("/cosmos.auth.v1beta1.Query/Account", &req, 0, false)?;
    if res.code == 22 {
        return Ok(None);
    }
    if res.code != 0 {
        anyhow::bail!("account query failed (code {}): {}", res.code, res.log);
    }
    let resp = QueryAccountResponse::decode(res.value.as_slice())?;
    let any = resp.account.ok_or_else(|| anyhow::anyhow!("empty account response"))?;
    let account = Account::from_any(&any).map_err(|e| anyhow::anyhow!(e))?;
    Ok(Some(account.base().clone()))
}

/// Runs Simulate through `abci_query` and returns the gas used.
pub fn simulate_gas(rpc: &CometRpc, tx_bytes: &[u8]) -> anyhow::Result<u64> {
    #[allow(deprecated)]
    let req = SimulateRequest { tx: None, tx_bytes: tx_bytes.to_vec() }.encode_to_vec();
    let res = rpc.abci_query("/cosmos.tx.v1beta1.Service/Simulate", &req, 0, false)?;
    if res.code != 0 {
        anyhow::bail!("simulation failed (codespace {}, code {}): {}", res.codespace, res.code, res.log);
    }
    let resp = SimulateResponse::decode(res.value.as_slice())?;
    Ok(resp.gas_info.map(|g| g.gas_used).unwrap_or(0))
}
