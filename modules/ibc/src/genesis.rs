//! The `transfer` genesis section: ICS-20's params, as ibc-go's `transfer` section writes them.

use serde::{Deserialize, Serialize};

/// `ibc.applications.transfer.v1.Params`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferParams {
    /// Whether tokens may be sent out.
    pub send_enabled: bool,
    /// Whether tokens may be received.
    pub receive_enabled: bool,
}

impl Default for TransferParams {
    fn default() -> Self {
        Self { send_enabled: true, receive_enabled: true }
    }
}

/// The `transfer` genesis section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferGenesis {
    /// The params.
    pub params: TransferParams,
}
