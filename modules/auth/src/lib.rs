//! The auth module (cosmos.auth.v1beta1): accounts with numbers and sequences, their public
//! keys, module accounts, and the auth parameters the ante handler enforces (memo size, signature
//! limits and costs), plus OpenLedger's fee parameters (minimum gas price, tx size and gas caps).

pub mod error;
pub mod genesis;
pub mod keeper;
pub mod module;
pub mod params;
pub mod query;
pub mod state_key;

pub use error::AuthError;
pub use keeper::{Account, AuthKeeper};
pub use module::{AuthModule, COMMUNITY_INCENTIVES, FEE_COLLECTOR};
