//! The bank module (cosmos.bank.v1beta1): balances, total supply, `MsgSend` / `MsgMultiSend`,
//! denom metadata for uopen/OPEN, and the mint/burn/send API other modules use.

pub mod error;
pub mod events;
pub mod genesis;
pub mod keeper;
pub mod module;
pub mod msg;
pub mod query;
pub mod state_key;

pub use error::BankError;
pub use keeper::{AccountKeeper, BankKeeper};
pub use module::BankModule;
