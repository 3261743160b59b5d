//! `openledgerd`: the OpenLedger command line. The app is three crates:
//!
//! - `openledger-node` ([`app`], [`abci`], [`tx`], [`ante`], [`modules`], [`genesis`],
//!   [`inference`]): the ABCI 2.0 application, the tx pipeline, and the module registry that
//!   routes every message and query;
//! - `openledger-server` ([`grpc`], [`rest`], [`rest_json`], [`rpc_client`]): the gRPC and REST
//!   servers over the node's query router;
//! - this crate, the client: [`cli`] and its module commands, [`keys`], [`client`] (signing),
//!   [`home`] and [`testnet`] (node homes and genesis), [`chain_info`] (what wallets read).
//!
//! The node's and server's modules are re-exported here under their own names, so
//! `openledger_app::app::App` and `openledger_app::grpc::serve` name the same items.

pub mod chain_info;
pub mod cli;
pub mod cli_attribution;
pub mod cli_datanet;
pub mod cli_gov;
pub mod cli_inference;
pub mod cli_stake;
pub mod client;
pub mod home;
pub mod keys;
pub mod testnet;

pub use openledger_node::{abci, amino, ante, app, genesis, inference, modules, state_key, tx};
pub use openledger_server::{grpc, rest, rest_json, rpc_client};
/// The upgrade module (plans, the halt, `--apply-upgrade` handlers).
pub use openledger_upgrade as upgrade;
