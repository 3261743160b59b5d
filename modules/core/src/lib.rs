//! OpenLedger framework crate: the only crate that touches sled and the Jellyfish Merkle tree.
//!
//! It provides the committed [`storage::Storage`], the [`state::StateRead`] /
//! [`state::StateWrite`] traits with copy-on-write [`delta::StateDelta`] layers, the gas meter,
//! typed events, addresses and coins, and the `(codespace, code)` error plumbing shared by every
//! module.

pub mod address;
pub mod amino;
pub mod block;
pub mod coin;
pub mod crash;
pub mod dec;
pub mod delta;
pub mod error;
pub mod events;
pub mod gas;
pub mod module;
pub mod pagination;
pub mod query;
pub mod registry;
pub mod serde_str;
pub mod state;
pub mod storage;

pub use address::Address;
pub use coin::Coin;
pub use dec::Dec;
pub use delta::StateDelta;
pub use error::{AbciError, ErrorCode, QueryError};
pub use events::{Event, TypedEvent};
pub use gas::GasMeter;
pub use module::{Module, ModuleMsg, Msg, MsgRouter};
pub use registry::Registry;
pub use state::{StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
