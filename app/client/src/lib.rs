//! `openledgerd`: the OpenLedger command line. The app is three crates:
//!
//! - `openledger-node` ([`app`], [`abci`], [`tx`], [`ante`], [`modules`], [`genesis`],
//!   [`inference`]): the ABCI 2.0 application, the tx pipeline, and the module registry that
//!   routes every message and query;
//! - `openledger-server` ([`grpc`], [`rest`], [`rest_json`], [`rpc_client`], [`web`]): the gRPC
//!   and REST servers over the node's query router, and the web app's files;
//! - `openledger-cli` ([`client`] (signing), [`keys`], tx/query flags and broadcast) and each
//!   module's own CLI crate (`modules/<name>/cli`), which this crate lists once in
//!   [`cli::module_clis`];
//! - this crate, the client: [`cli`] (node setup, keys, and the modules' `tx` / `query`
//!   commands), [`home`] and [`testnet`] (node homes and genesis), [`chain_info`] (what wallets
//!   read).
//!
//! The node's and server's modules are re-exported here under their own names, so
//! `openledger_app::app::App` and `openledger_app::grpc::serve` name the same items.

pub mod chain_info;
pub mod cli;
pub mod demo;
pub mod gguf;
pub mod home;
pub mod testnet;
pub mod tx_query;

pub use openledger_cli::{client, keys};

pub use openledger_node::{abci, amino, ante, app, genesis, inference, modules, state_key, tx};
pub use openledger_server::{grpc, rest, rest_json, rpc_client, web};
/// The upgrade module (plans, the halt, `--apply-upgrade` handlers).
pub use openledger_upgrade as upgrade;
