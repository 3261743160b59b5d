//! Shared plumbing of module query routers: each module answers `/<service>/<Method>` with the
//! request's protobuf bytes, the same way for ABCI Query and for gRPC.

use crate::error::QueryError;
use crate::state::StateRead;

/// Decodes the request, runs the handler, encodes the response.
pub fn unary<Req, Resp>(data: &[u8], handler: impl FnOnce(Req) -> Result<Resp, QueryError>) -> Result<Vec<u8>, QueryError>
where
    Req: prost::Message + Default,
    Resp: prost::Message,
{
    let request = Req::decode(data).map_err(|e| QueryError::InvalidArgument(format!("invalid request: {e}")))?;
    handler(request).map(|r| r.encode_to_vec())
}

/// A module's query service: which gRPC service names it owns and how it answers a method.
pub trait QueryService: Send + Sync {
    /// Fully qualified gRPC service names served (`cosmos.bank.v1beta1.Query`).
    fn services(&self) -> &'static [&'static str];
    /// Answers `method` of `service` over `state` (height already chosen by the caller).
    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError>;
}

/// Parses a bech32 address field of a request into the SDK's error wording.
pub fn parse_address(field: &str, text: &str) -> Result<crate::Address, QueryError> {
    if text.is_empty() {
        return Err(QueryError::InvalidArgument(format!("{field} cannot be empty")));
    }
    crate::Address::from_bech32(text).map_err(|e| QueryError::InvalidArgument(format!("invalid {field}: {e}")))
}
