//! The auth query service (cosmos.auth.v1beta1.Query) and OpenLedger's auth additions
//! (openledger.auth.v1.Query), answered from any state view.

use cosmos_sdk_proto::cosmos::auth::v1beta1 as pb;
use openledger_core::address::ACCOUNT_PREFIX;
use openledger_core::pagination::paginate;
use openledger_core::query::{parse_address, unary, QueryService};
use openledger_core::{Address, QueryError, StateRead};
use openledger_proto::openledger::auth::v1 as olpb;
use prost::Message;

use crate::keeper::{Account, AuthKeeper};
use crate::{params, state_key};

/// The auth module's query service.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthQuery;

/// gRPC service name of the SDK auth queries.
pub const AUTH_SERVICE: &str = "cosmos.auth.v1beta1.Query";
/// gRPC service name of OpenLedger's auth queries.
pub const OPENLEDGER_AUTH_SERVICE: &str = "openledger.auth.v1.Query";

fn account_any(state: &dyn StateRead, address: &Address) -> Result<cosmos_sdk_proto::Any, QueryError> {
    match AuthKeeper.account(state, address).map_err(|e| QueryError::Internal(e.to_string()))? {
        Some(account) => Ok(account.to_any()),
        None => Err(QueryError::NotFound(format!("account {address} not found"))),
    }
}

impl QueryService for AuthQuery {
    fn services(&self) -> &'static [&'static str] {
        &[AUTH_SERVICE, OPENLEDGER_AUTH_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        if service == OPENLEDGER_AUTH_SERVICE {
            return match method {
                "FeeParams" => unary(data, |_: olpb::QueryFeeParamsRequest| {
                    Ok(olpb::QueryFeeParamsResponse { params: Some(params::fee_params(state)?) })
                }),
                _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
            };
        }
        match method {
            "Account" => unary(data, |req: pb::QueryAccountRequest| {
                let address = parse_address("address", &req.address)?;
                Ok(pb::QueryAccountResponse { account: Some(account_any(state, &address)?) })
            }),
            "AccountInfo" => unary(data, |req: pb::QueryAccountInfoRequest| {
                let address = parse_address("address", &req.address)?;
                let any = account_any(state, &address)?;
                let account = Account::from_any(&any).map_err(QueryError::Internal)?;
                Ok(pb::QueryAccountInfoResponse { info: Some(account.base().clone()) })
            }),
            "Accounts" => unary(data, |req: pb::QueryAccountsRequest| {
                let (entries, pagination) = paginate(state, state_key::ACCOUNT_PREFIX, req.pagination.as_ref())?;
                let accounts = entries
                    .into_iter()
                    .map(|(_, v)| cosmos_sdk_proto::Any::decode(v.as_slice()).map_err(|e| QueryError::Internal(e.to_string())))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(pb::QueryAccountsResponse { accounts, pagination })
            }),
            "Params" => unary(data, |_: pb::QueryParamsRequest| Ok(pb::QueryParamsResponse { params: Some(params::params(state)?) })),
            "ModuleAccounts" => unary(data, |_: pb::QueryModuleAccountsRequest| {
                let entries = state.scan_raw(state_key::MODULE_PREFIX, None, 1000)?;
                let mut accounts = Vec::new();
                for (_, addr) in entries {
                    let address = Address::from_bytes(&addr).map_err(|e| QueryError::Internal(e.to_string()))?;
                    accounts.push(account_any(state, &address)?);
                }
                Ok(pb::QueryModuleAccountsResponse { accounts })
            }),
            "ModuleAccountByName" => unary(data, |req: pb::QueryModuleAccountByNameRequest| {
                if req.name.is_empty() {
                    return Err(QueryError::InvalidArgument("module name is empty".into()));
                }
                match state.get_raw(&state_key::module_account(&req.name))? {
                    Some(addr) => {
                        let address = Address::from_bytes(&addr).map_err(|e| QueryError::Internal(e.to_string()))?;
                        Ok(pb::QueryModuleAccountByNameResponse { account: Some(account_any(state, &address)?) })
                    }
                    None => Err(QueryError::NotFound(format!("account {} not found", req.name))),
                }
            }),
            "Bech32Prefix" => {
                unary(data, |_: pb::Bech32PrefixRequest| Ok(pb::Bech32PrefixResponse { bech32_prefix: ACCOUNT_PREFIX.into() }))
            }
            "AddressBytesToString" => unary(data, |req: pb::AddressBytesToStringRequest| {
                let address = Address::from_bytes(&req.address_bytes).map_err(|e| QueryError::InvalidArgument(e.to_string()))?;
                Ok(pb::AddressBytesToStringResponse { address_string: address.to_bech32() })
            }),
            "AddressStringToBytes" => unary(data, |req: pb::AddressStringToBytesRequest| {
                let address = parse_address("address", &req.address_string)?;
                Ok(pb::AddressStringToBytesResponse { address_bytes: address.as_bytes().to_vec() })
            }),
            "AccountAddressByID" => unary(data, |req: pb::QueryAccountAddressByIdRequest| {
                #[allow(deprecated)]
                let id = if req.account_id != 0 {
                    req.account_id
                } else {
                    u64::try_from(req.id).map_err(|_| QueryError::InvalidArgument("negative id".into()))?
                };
                match AuthKeeper.address_by_number(state, id).map_err(|e| QueryError::Internal(e.to_string()))? {
                    Some(address) => Ok(pb::QueryAccountAddressByIdResponse { account_address: address.to_bech32() }),
                    None => Err(QueryError::NotFound(format!("account address not found with account number {id}"))),
                }
            }),
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openledger_core::delta::{EmptyState, StateDelta};

    #[test]
    fn missing_account_is_sdk_not_found_and_existing_one_is_any() {
        let mut state = StateDelta::new(EmptyState);
        let addr = Address::from_bytes(&[3; 20]).unwrap();
        let req = pb::QueryAccountRequest { address: addr.to_bech32() }.encode_to_vec();
        let err = AuthQuery.query(&state, AUTH_SERVICE, "Account", &req).unwrap_err();
        assert!(matches!(err, QueryError::NotFound(_)));
        assert!(err.abci_log().starts_with("rpc error: code = NotFound desc = account open1"));
        assert!(err.abci_log().ends_with("key not found"));
        AuthKeeper.ensure_account(&mut state, &addr).unwrap();
        let bytes = AuthQuery.query(&state, AUTH_SERVICE, "Account", &req).unwrap();
        let resp = pb::QueryAccountResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!(resp.account.unwrap().type_url, "/cosmos.auth.v1beta1.BaseAccount");
        let bad = pb::QueryAccountRequest { address: "cosmos1xyz".into() }.encode_to_vec();
        assert!(matches!(AuthQuery.query(&state, AUTH_SERVICE, "Account", &bad), Err(QueryError::InvalidArgument(_))));
        assert!(matches!(AuthQuery.query(&state, AUTH_SERVICE, "Nope", &[]), Err(QueryError::UnknownPath(_))));
    }
}
