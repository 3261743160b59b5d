//! The bank query service (cosmos.bank.v1beta1.Query), answered from any state view.

use cosmos_sdk_proto::cosmos::bank::v1beta1 as pb;
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use openledger_core::coin::validate_denom;
use openledger_core::pagination::paginate;
use openledger_core::query::{parse_address, unary, QueryService};
use openledger_core::{Coin, QueryError, StateRead, StateReadExt};
use prost::Message;

use crate::keeper::BankKeeper;
use crate::state_key;

/// gRPC service name.
pub const BANK_SERVICE: &str = "cosmos.bank.v1beta1.Query";

/// The bank module's query service.
#[derive(Debug, Clone)]
pub struct BankQuery(pub BankKeeper);

fn decode_coins(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Vec<ProtoCoin>, QueryError> {
    entries.into_iter().map(|(_, v)| ProtoCoin::decode(v.as_slice()).map_err(|e| QueryError::Internal(e.to_string()))).collect()
}

fn check_denom(denom: &str) -> Result<(), QueryError> {
    validate_denom(denom).map_err(|e| QueryError::InvalidArgument(e.to_string()))
}

impl QueryService for BankQuery {
    fn services(&self) -> &'static [&'static str] {
        &[BANK_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        let bank = &self.0;
        match method {
            "Balance" => unary(data, |req: pb::QueryBalanceRequest| {
                let address = parse_address("address", &req.address)?;
                check_denom(&req.denom)?;
                let amount = bank.balance(state, &address, &req.denom)?;
                Ok(pb::QueryBalanceResponse { balance: Some(Coin::new(req.denom, amount).to_proto()) })
            }),
            "AllBalances" | "SpendableBalances" => {
                let req =
                    pb::QueryAllBalancesRequest::decode(data).map_err(|e| QueryError::InvalidArgument(format!("invalid request: {e}")))?;
                let address = parse_address("address", &req.address)?;
                let (entries, pagination) = paginate(state, &state_key::balances_of(&address.to_bech32()), req.pagination.as_ref())?;
                let balances = decode_coins(entries)?;
                Ok(if method == "AllBalances" {
                    pb::QueryAllBalancesResponse { balances, pagination }.encode_to_vec()
                } else {
                    pb::QuerySpendableBalancesResponse { balances, pagination }.encode_to_vec()
                })
            }
            "SpendableBalanceByDenom" => unary(data, |req: pb::QuerySpendableBalanceByDenomRequest| {
                let address = parse_address("address", &req.address)?;
                check_denom(&req.denom)?;
                let amount = bank.balance(state, &address, &req.denom)?;
                Ok(pb::QuerySpendableBalanceByDenomResponse { balance: Some(Coin::new(req.denom, amount).to_proto()) })
            }),
            "TotalSupply" => unary(data, |req: pb::QueryTotalSupplyRequest| {
                let (entries, pagination) = paginate(state, state_key::SUPPLY_PREFIX, req.pagination.as_ref())?;
                Ok(pb::QueryTotalSupplyResponse { supply: decode_coins(entries)?, pagination })
            }),
            "SupplyOf" => unary(data, |req: pb::QuerySupplyOfRequest| {
                check_denom(&req.denom)?;
                let amount = bank.supply(state, &req.denom)?;
                Ok(pb::QuerySupplyOfResponse { amount: Some(Coin::new(req.denom, amount).to_proto()) })
            }),
            "Params" => unary(data, |_: pb::QueryParamsRequest| Ok(pb::QueryParamsResponse { params: Some(bank.params(state)?) })),
            "DenomMetadata" | "DenomMetadataByQueryString" => {
                let denom = if method == "DenomMetadata" {
                    pb::QueryDenomMetadataRequest::decode(data).map(|r| r.denom)
                } else {
                    pb::QueryDenomMetadataByQueryStringRequest::decode(data).map(|r| r.denom)
                }
                .map_err(|e| QueryError::InvalidArgument(format!("invalid request: {e}")))?;
                check_denom(&denom)?;
                let metadata = state
                    .get_proto::<pb::Metadata>(&state_key::denom_metadata(&denom))?
                    .ok_or_else(|| QueryError::NotFound(format!("client metadata for denom {denom}")))?;
                Ok(if method == "DenomMetadata" {
                    pb::QueryDenomMetadataResponse { metadata: Some(metadata) }.encode_to_vec()
                } else {
                    pb::QueryDenomMetadataByQueryStringResponse { metadata: Some(metadata) }.encode_to_vec()
                })
            }
            "DenomsMetadata" => unary(data, |req: pb::QueryDenomsMetadataRequest| {
                let (entries, pagination) = paginate(state, state_key::DENOM_METADATA_PREFIX, req.pagination.as_ref())?;
                let metadatas = entries
                    .into_iter()
                    .map(|(_, v)| pb::Metadata::decode(v.as_slice()).map_err(|e| QueryError::Internal(e.to_string())))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(pb::QueryDenomsMetadataResponse { metadatas, pagination })
            }),
            "SendEnabled" => unary(data, |req: pb::QuerySendEnabledRequest| {
                let mut send_enabled = Vec::new();
                for denom in req.denoms.iter().take(100) {
                    check_denom(denom)?;
                    send_enabled.push(pb::SendEnabled { denom: denom.clone(), enabled: bank.send_enabled(state, denom)? });
                }
                Ok(pb::QuerySendEnabledResponse { send_enabled, pagination: None })
            }),
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::tests::{addr, keeper};
    use openledger_core::delta::{EmptyState, StateDelta};

    #[test]
    fn balance_of_unknown_denom_is_zero_coin_not_an_error() {
        let (bank, _) = keeper();
        let mut state = StateDelta::new(EmptyState);
        bank.mint(&mut state, &addr(0), &addr(1), &[Coin::new("uopen", 5)]).unwrap();
        let q = BankQuery(bank);
        let req = pb::QueryBalanceRequest { address: addr(1).to_bech32(), denom: "uatom".into() }.encode_to_vec();
        let resp = pb::QueryBalanceResponse::decode(q.query(&state, BANK_SERVICE, "Balance", &req).unwrap().as_slice()).unwrap();
        assert_eq!(resp.balance.unwrap(), ProtoCoin { denom: "uatom".into(), amount: "0".into() });
        let req = pb::QueryAllBalancesRequest { address: addr(1).to_bech32(), ..Default::default() }.encode_to_vec();
        let resp = pb::QueryAllBalancesResponse::decode(q.query(&state, BANK_SERVICE, "AllBalances", &req).unwrap().as_slice()).unwrap();
        assert_eq!(resp.balances, vec![ProtoCoin { denom: "uopen".into(), amount: "5".into() }]);
        let bad = pb::QueryBalanceRequest { address: "xyz".into(), denom: "uopen".into() }.encode_to_vec();
        assert!(matches!(q.query(&state, BANK_SERVICE, "Balance", &bad), Err(QueryError::InvalidArgument(_))));
    }
}
