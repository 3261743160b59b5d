//! The one end-to-end test binary: in-process app tests (determinism, bad input against
//! FinalizeBlock) and tests against real CometBFT nodes started on loopback ports.

#[path = "e2e/app_level.rs"]
mod app_level;
#[path = "e2e/cosmjs.rs"]
mod cosmjs;
#[path = "e2e/crashloop.rs"]
mod crashloop;
#[path = "e2e/datanet.rs"]
mod datanet;
#[path = "e2e/determinism.rs"]
mod determinism;
#[path = "e2e/faults.rs"]
mod faults;
#[path = "e2e/finetune.rs"]
mod finetune;
#[path = "e2e/freeride.rs"]
mod freeride;
#[path = "e2e/gov.rs"]
mod gov;
#[path = "e2e/gov_node.rs"]
mod gov_node;
#[path = "e2e/ibc.rs"]
mod ibc;
#[path = "e2e/inference.rs"]
mod inference;
#[path = "e2e/keyring.rs"]
mod keyring;
#[path = "e2e/localnet.rs"]
mod localnet;
#[path = "e2e/make_run.rs"]
mod make_run;
#[path = "e2e/module_registry.rs"]
mod module_registry;
#[path = "e2e/node.rs"]
mod node;
#[path = "e2e/operator.rs"]
mod operator;
#[path = "e2e/proposals.rs"]
mod proposals;
#[path = "e2e/prove.rs"]
mod prove;
#[path = "e2e/pruning.rs"]
mod pruning;
#[path = "e2e/replay.rs"]
mod replay;
#[path = "e2e/rest.rs"]
mod rest;
#[path = "e2e/stake.rs"]
mod stake;
#[path = "e2e/statesync.rs"]
mod statesync;
#[path = "e2e/web_app.rs"]
mod web_app;
