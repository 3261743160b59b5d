//! The gov module: on-chain governance with the Cosmos SDK's `cosmos.gov.v1` wire types.
//! Proposals carry messages executed when they pass (signed by the gov module account only);
//! deposits, stake-weighted votes (delegators inherit their validator's vote unless they vote
//! themselves), quorum / threshold / veto tally, deposit refund or burn, and the query service.
//! The gov crate sees staking only through [`keeper::StakeReader`], the bank only through
//! [`keeper::BankKeeper`], and the app's message router only through [`keeper::ProposalExecutor`].

pub mod error;
pub mod events;
pub mod genesis;
pub mod keeper;
pub mod module;
pub mod params;
pub mod query;
pub mod state_key;
pub mod tally;

pub use error::GovError;
pub use keeper::{gov_authority, BankKeeper, GovKeeper, ProposalExecutor, StakeReader, GOV_MODULE};
pub use module::GovModule;

#[cfg(test)]
mod tests;
