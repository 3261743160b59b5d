//! OpenLedger's client-facing servers over the node's query router: [`grpc`] (every registered
//! query service, the tx service, server reflection) and [`rest`] (the gRPC-gateway routes
//! generated from the services' `google.api.http` options, with [`rest_json`] writing the SDK's
//! JSON) with the web app's files and the dev account ([`web`]), [`cmt_service`] (the
//! `cosmos.base.tendermint.v1beta1.Service` both serve) and [`rpc_client`], the CometBFT RPC
//! client both use for broadcasts, tx lookups, blocks and validator sets.

pub mod cmt_service;
pub mod grpc;
pub mod http;
pub mod metrics;
pub mod rest;
pub mod rest_json;
pub mod rpc_client;
pub mod web;
