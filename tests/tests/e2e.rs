//! The one end-to-end test binary: in-process app tests (determinism, bad input against
//! FinalizeBlock) and tests against real CometBFT nodes started on loopback ports.

mod app_level;
mod determinism;
mod node;
