//! `openledgerd`: the OpenLedger ABCI 2.0 application for CometBFT v0.38.
//!
//! [`app::App`] holds the state and implements each ABCI call; [`tx`] and [`ante`] are the tx
//! pipeline; [`msg`] is the one message router; [`grpc`], [`rest`] and the ABCI `Query` path serve
//! the same query router; [`chain_info`] describes the chain to wallets; [`cli`], [`home`],
//! [`keys`] and [`client`] are the command line.

pub mod abci;
pub mod amino;
pub mod ante;
pub mod app;
pub mod chain_info;
pub mod cli;
pub mod cli_attribution;
pub mod cli_datanet;
pub mod cli_gov;
pub mod cli_inference;
pub mod cli_stake;
pub mod client;
pub mod grpc;
pub mod home;
pub mod inference;
pub mod keys;
pub mod modules;
pub mod msg;
pub mod rest;
pub mod rest_json;
pub mod rpc_client;
pub mod state_key;
pub mod testnet;
pub mod tx;
pub mod upgrade;
