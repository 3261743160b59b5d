//! The stake module: OPEN staking with the Cosmos SDK's wire types — cosmos.staking (validators,
//! delegations, unbonding, redelegation, the validator set given to CometBFT), cosmos.distribution
//! (fees and the block reward schedule paid with F1 lazy accounting, commission, community pool)
//! and cosmos.slashing (downtime, double signing, jail/unjail, and `slash` for other modules).

pub mod distribution;
pub mod error;
pub mod events;
pub mod genesis;
pub mod keeper;
pub mod module;
pub mod msg;
pub mod params;
pub mod query;
pub mod slashing;
pub mod state_key;

pub use error::StakeError;
pub use keeper::{BankKeeper, StakeKeeper};
pub use module::StakeModule;

#[cfg(test)]
mod tests;
